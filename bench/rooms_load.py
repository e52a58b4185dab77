"""The rooms benchmark's load generator: a process of its own, real websockets on loopback.

    python -m bench.rooms_load SPEC.json     # prints one JSON line with the figures

The spec (written by ``bench.rooms``) names the clients (URL, room, session cookie), the
protocol (``fengqiao``: ``hello`` then ``send`` frames, as the chat page does; ``bare``: the
floor servers of ``bench.rooms_floor``, which broadcast every ``send`` frame as a ``message``),
the offered load of each step (deliveries per second), the step length, the drain and the
server process ids whose CPU and memory are read from ``/proc``.

Open loop: every client sends on a fixed schedule whatever the server does (client ``i`` of
``N`` at ``start + (i + k·N) / sends_per_second``), so a slow server shows as latency and loss,
never as a lower offered rate. Each message carries its step, sender, number and scheduled send
time; its latency at each room member is receipt − scheduled time (both read from this
process's monotonic clock), so time the generator itself loses counts against the figures,
never for them. Deliveries = sends × members (the sender receives its own message too). After a
step's last send the generator waits until every delivery of the step has arrived, or until
nothing has arrived for ``quiet_seconds``, or ``drain_seconds`` have passed; what is still
missing after the final drain is the loss.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

FILLER = "申请人要求退还分期手续费，被申请人同意部分退还，请调解员确认方案。"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# --- statistics (pure; tested on synthetic input) ------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class StepTally:
    """What one step sent and what arrived of it."""

    offered_deliveries_per_second: float
    members: int
    sends: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    duplicates: int = 0
    started: float = 0.0
    sending_ended: float = 0.0
    last_receipt: float = 0.0
    drained: float = 0.0

    @property
    def expected(self) -> int:
        return self.sends * self.members

    @property
    def received(self) -> int:
        return len(self.latencies)


def step_figures(tally: StepTally) -> dict[str, Any]:
    """Deliveries/s, loss and latency percentiles of a step.

    Deliveries per second = deliveries received ÷ the time from the step's first scheduled send
    to its last receipt (at least the sending time): a server that keeps up scores the offered
    rate, one that falls behind scores what it managed while it caught up.
    """
    ordered = sorted(tally.latencies)
    sending = max(tally.sending_ended - tally.started, 1e-9)
    span = max(tally.last_receipt - tally.started, sending)
    return {
        "offered_deliveries_per_second": tally.offered_deliveries_per_second,
        "sends": tally.sends,
        "refused": dict(tally.refused),
        "expected": tally.expected,
        "received": tally.received,
        "loss": tally.expected - tally.received,
        "duplicates": tally.duplicates,
        "deliveries_per_second": round(tally.received / span, 1) if tally.received else 0.0,
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
        "seconds": round(span, 2),
    }


# --- server processes: CPU and memory from /proc -------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # After the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based from pid.
    ticks = sum(int(value) for value in fields[11:15])
    return int(fields[1]), ticks / CLOCK_TICKS


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU of ``roots`` and every live descendant, plus the children they reaped (cutime): a
    PostgreSQL backend that exits between two readings is counted in its postmaster then."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found:
                parents[int(entry.name)], cpu[int(entry.name)] = found
    total = 0.0
    for pid in cpu:
        ancestor: int | None = pid
        while ancestor:
            if ancestor in roots:
                total += cpu[pid]
                break
            ancestor = parents.get(ancestor)
    return total


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError):
        return 0


# --- clients -------------------------------------------------------------------------------------


class Client:
    def __init__(self, index: int, spec: dict[str, Any], run: Run) -> None:
        self.index = index
        self.url: str = spec["url"]
        self.room: int = spec["room"]
        self.cookie: str | None = spec.get("cookie")
        self.run = run
        self.socket: ClientConnection | None = None
        self.seen: set[tuple[int, int, int]] = set()
        self.ready = asyncio.Event()

    async def open(self) -> None:
        headers = {"Cookie": f"sessionid={self.cookie}"} if self.cookie else None
        self.socket = await connect(
            self.url,
            additional_headers=headers,
            origin=websockets.Origin(self.run.origin_of(self.url)),  # type: ignore[attr-defined]
            compression=None,
            open_timeout=60,
            max_queue=None,
        )
        asyncio.get_running_loop().create_task(self.read())
        if self.run.protocol == "fengqiao":
            await self.socket.send(json.dumps({"type": "hello", "after": 0}))
            await asyncio.wait_for(self.ready.wait(), 60)
        else:
            self.ready.set()

    async def read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self.take(frame.get("body") or "")
                elif kind == "ready":
                    self.ready.set()
                elif kind == "error":
                    step = self.run.step_of_client_id(frame.get("client_id"))
                    if step is not None:
                        refused = step.refused
                        refused[frame.get("code", "?")] = refused.get(frame.get("code", "?"), 0) + 1
        except websockets.ConnectionClosed:
            pass
        if not self.run.finishing:
            self.run.closed_early += 1

    def take(self, body: str) -> None:
        now = time.monotonic()
        head = body.split(" ", 1)[0]
        try:
            nonce, step, sender, number, scheduled = head.split(":")
            key = (int(step), int(sender), int(number))
        except ValueError:
            return  # not ours (a system message)
        if nonce != self.run.nonce:
            return  # an earlier run's message, replayed on connecting to a room that already has history
        if key in self.seen:
            self.run.steps[key[0]].duplicates += 1
            return
        self.seen.add(key)
        tally = self.run.steps[key[0]]
        tally.latencies.append(now - float(scheduled))
        tally.last_receipt = max(tally.last_receipt, now)
        self.run.progress = now

    async def send_on_schedule(self, step: int, start: float, end: float, period: float) -> None:
        assert self.socket is not None
        tally = self.run.steps[step]
        number = 0
        scheduled = start + self.run.phase(self.index) * period
        while scheduled < end:
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            number += 1
            body = f"{self.run.nonce}:{step}:{self.index}:{number}:{scheduled:.6f} {FILLER}"
            tally.sends += 1
            try:
                if self.run.protocol == "fengqiao":
                    frame = {
                        "type": "send",
                        "body": body,
                        "client_id": f"b{self.run.nonce}-{step}-{self.index}-{number}",
                    }
                else:
                    frame = {"type": "send", "body": body}
                await self.socket.send(json.dumps(frame, ensure_ascii=False))
            except websockets.ConnectionClosed:
                tally.refused["connection_closed"] = tally.refused.get("connection_closed", 0) + 1
            scheduled += period


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.protocol: str = spec["protocol"]
        self.origins: dict[str, str] = spec.get("origins", {})
        self.members: int = spec["members"]
        self.clients = [Client(index, client, self) for index, client in enumerate(spec["clients"])]
        self.steps: list[StepTally] = []
        # Marks this run's messages: the rooms of a second series (200 rooms after 50) replay the
        # first series' messages on connecting, and those must not count.
        self.nonce = secrets.token_hex(4)
        self.progress = 0.0
        self.closed_early = 0
        self.finishing = False

    def origin_of(self, url: str) -> str:
        host = url.split("/")[2]
        return self.origins.get(host, f"http://{host}")

    def phase(self, index: int) -> float:
        """Clients spread evenly over one period, so sends are evenly spaced overall."""
        return index / len(self.clients)

    def step_of_client_id(self, client_id: Any) -> StepTally | None:
        if isinstance(client_id, str) and client_id.startswith(f"b{self.nonce}-"):
            try:
                return self.steps[int(client_id.split("-")[1])]
            except (ValueError, IndexError):
                return None
        return None

    async def connect_all(self) -> float:
        started = time.monotonic()
        gate = asyncio.Semaphore(int(self.spec.get("connect_concurrency", 16)))

        async def one(client: Client) -> None:
            async with gate:
                await client.open()

        await asyncio.gather(*(one(client) for client in self.clients))
        # Let the presence frames of the last connections settle before the first step.
        await asyncio.sleep(float(self.spec.get("settle_seconds", 1.0)))
        return time.monotonic() - started

    async def step(self, number: int, offered: float) -> dict[str, Any]:
        seconds = float(self.spec["step_seconds"])
        tally = StepTally(offered_deliveries_per_second=offered, members=self.members)
        self.steps.append(tally)
        sends_per_second = offered / self.members
        period = len(self.clients) / sends_per_second
        pids = self.spec.get("server_pids", [])
        service_pids = self.spec.get("service_pids", [])
        cpu_before = tree_cpu_seconds(pids)
        services_before = tree_cpu_seconds(service_pids) if service_pids else 0.0
        own_before = resource.getrusage(resource.RUSAGE_SELF)
        tally.started = time.monotonic() + 0.2
        end = tally.started + seconds
        await asyncio.gather(*(client.send_on_schedule(number, tally.started, end, period) for client in self.clients))
        tally.sending_ended = end
        await self.drain(tally)
        tally.drained = time.monotonic()
        window = tally.drained - tally.started
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = tree_cpu_seconds(pids) - cpu_before
        services_cpu = (tree_cpu_seconds(service_pids) - services_before) if service_pids else 0.0
        own_cpu = (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime)
        return {
            "window_seconds": round(window, 2),
            "server_cpu_seconds": round(server_cpu, 2),
            "server_cpu_percent": round(100 * server_cpu / window, 1),
            "services_cpu_seconds": round(services_cpu, 2),
            "server_rss_mib": round(sum(rss_bytes(pid) for pid in pids) / 1048576, 1),
            "load_generator_cpu_percent": round(100 * own_cpu / window, 1),
        }

    async def drain(self, tally: StepTally) -> None:
        deadline = time.monotonic() + float(self.spec.get("drain_seconds", 15))
        quiet = float(self.spec.get("quiet_seconds", 3))
        self.progress = time.monotonic()
        while tally.received + tally.duplicates < tally.expected:
            now = time.monotonic()
            if now > deadline or now - self.progress > quiet:
                return
            await asyncio.sleep(0.05)

    async def main(self) -> dict[str, Any]:
        connect_seconds = await self.connect_all()
        pids = self.spec.get("server_pids", [])
        idle_rss = sum(rss_bytes(pid) for pid in pids)
        resources = []
        stop_p99 = float(self.spec.get("stop_when_p99_ms", 0))
        for number, offered in enumerate(self.spec["steps"]):
            resources.append(await self.step(number, float(offered)))
            figures = step_figures(self.steps[number])
            if stop_p99 and (figures["p99_ms"] > stop_p99 or figures["loss"] > 0):
                break  # saturated: higher steps would only take time
        # The final drain: anything still on its way counts for its own step.
        await asyncio.sleep(float(self.spec.get("final_drain_seconds", 2)))
        self.finishing = True
        for client in self.clients:
            if client.socket is not None:
                await client.socket.close()
        steps = [{**step_figures(tally), **extra} for tally, extra in zip(self.steps, resources, strict=True)]
        for step in steps:
            step["server_cpu_ms_per_delivery"] = (
                round(1000 * step["server_cpu_seconds"] / step["received"], 3) if step["received"] else None
            )
        return {
            "clients": len(self.clients),
            "rooms": len({client.room for client in self.clients}),
            "members": self.members,
            "connect_seconds": round(connect_seconds, 1),
            "idle_server_rss_mib": round(idle_rss / 1048576, 1),
            "connections_closed_early": self.closed_early,
            "steps": steps,
        }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(Run(spec).main())
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

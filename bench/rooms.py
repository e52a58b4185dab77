"""Rooms under load: R joint rooms × 4 members on real Daphne servers, open-loop load, and two floors.

Run as ``python -m bench rooms`` (or ``python -m bench.rooms``): a table and
``bench/results/rooms.json``. About 10 minutes on a 2-core machine; ``--quick`` is a smoke run
(10 rooms, two 3-second steps, about a minute, nothing written); ``--rooms``, ``--steps`` and
``--step-seconds`` (or ``BENCH_ROOMS``, ``BENCH_ROOMS_STEPS``, ``BENCH_ROOMS_STEP_SECONDS``)
override the plan, ``--only`` picks configurations.

Four configurations, each at 50 and 200 rooms, in this order and in one run:

1. ``websockets`` floor: a bare ``websockets`` broadcast server (``bench.rooms_floor``);
2. ``channels`` floor: a bare Channels group-broadcast consumer on one Daphne process, in-memory
   layer, no authentication or persistence (``bench.rooms_floor``);
3. ``embedded``: the project as shipped — one Daphne process, SQLite, the in-memory layer;
4. ``scale``: two Daphne processes on PostgreSQL and Redis, started by ``scripts/scale-lane.sh``
   (a throwaway cluster with fsync off and a redis-server, torn down afterwards); each room has
   two members on each process, so every broadcast crosses processes through Redis.

For 3 and 4 a fresh database gets R cases driven to MEDIATING through ``mediation.services``,
each with four people who may enter its joint room: the consumer, two agents of the bank and the
mediator (ten cases share a bank and a mediator), each with a logged-in session cookie. The
servers run with ``DEBUG=0``, ``DATABASE_CONN_MAX_AGE=60`` (one connection kept per process
instead of one per database call) and ``SESSION_MESSAGES_PER_10S=1000000``: the per-person rate
limit (20 per 10 s) would otherwise refuse the offered load, since at 3,200 deliveries/s over 50
rooms each person sends 4 messages a second. Redis gets the project's explicit
``REDIS_MAX_CONNECTIONS`` (1,000) and ``CHANNEL_CAPACITY`` (1,000).

The load comes from ``python -m bench.rooms_load`` in a process of its own (its docstring says how
it measures). Offered load steps up through ``STEPS`` deliveries per second (a delivery is one
message arriving at one member; sends/s = deliveries/s ÷ 4), each step ``STEP_SECONDS`` long,
then drained (``STEPS`` = 100, 200, 400, 600, 800, 1,000, 1,200, 1,600, 2,400, 3,200
deliveries/s, 5 s each); a configuration stops climbing at the first step whose p99 passes 1 s or
that lost a message. Server CPU is read from ``/proc`` (the Daphne processes; for ``scale`` also PostgreSQL
and Redis, reported apart), memory is the Daphne processes' RSS at the end of each step. The load
generator shares the two cores with the servers; its own CPU is reported so a saturated client
shows.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAME = "rooms"
MEMBERS = 4
ROOMS = [50, 200]
STEPS = [100, 200, 400, 600, 800, 1000, 1200, 1600, 2400, 3200]
STEP_SECONDS = 5.0
QUICK = {"rooms": [10], "steps": [100, 200], "step_seconds": 3.0}
STOP_WHEN_P99_MS = 1000
CONFIGURATIONS = ("websockets", "channels", "embedded", "scale")
LABELS = {
    "websockets": "floor: bare websockets broadcast",
    "channels": "floor: bare Channels group broadcast (Daphne, in-memory layer)",
    "embedded": "embedded default: 1 Daphne, SQLite, in-memory layer",
    "scale": "scale: 2 Daphne, PostgreSQL + Redis",
}
SERVER_ENV = {
    "DEBUG": "0",
    "LOG_LEVEL": "WARNING",
    "DATABASE_CONN_MAX_AGE": "60",
    "SESSION_MESSAGES_PER_10S": "1000000",
    "PYTHONUNBUFFERED": "1",
}
# Targets of issue 4 (a benchmark's, not a test's): deliveries/s and p99 ms at 200 rooms.
TARGETS = {"embedded": (400, 100), "scale": (1000, 150)}


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not listen on {port} within {timeout} s")


@contextmanager
def servers(commands: list[list[str]], env: dict[str, str], log: Path) -> Iterator[list[tuple[int, int]]]:
    """Start each command with ``{port}`` filled in; yields (port, pid) pairs; stops them after."""
    started: list[tuple[int, subprocess.Popen[bytes]]] = []
    with log.open("ab") as output:
        try:
            for command in commands:
                port = free_port()
                argv = [part.replace("{port}", str(port)) for part in command]
                process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=output, stderr=output)
                started.append((port, process))
            for port, process in started:
                _wait_for(port, process)
            yield [(port, process.pid) for port, process in started]
        finally:
            for _port, process in started:
                if process.poll() is None:
                    process.terminate()
            for _port, process in started:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        output = subprocess.run(
            [sys.executable, "-m", "bench.rooms_load", handle.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    if output.returncode != 0:
        sys.stderr.write(output.stderr)
        raise SystemExit("bench.rooms_load failed")
    return json.loads(output.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def load_spec(
    protocol: str,
    clients: list[dict[str, Any]],
    plan: dict[str, Any],
    server_pids: list[int],
    service_pids: list[int] | None = None,
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "members": MEMBERS,
        "clients": clients,
        "steps": plan["steps"],
        "step_seconds": plan["step_seconds"],
        "drain_seconds": 15,
        "quiet_seconds": 3,
        "final_drain_seconds": 2,
        "stop_when_p99_ms": plan.get("stop_when_p99_ms", STOP_WHEN_P99_MS),
        "connect_concurrency": 16,
        "settle_seconds": 1.0,
        "server_pids": server_pids,
        "service_pids": service_pids or [],
    }


# --- floors --------------------------------------------------------------------------------------


def run_floor(kind: str, plan: dict[str, Any]) -> dict[str, Any]:
    var = Path(os.environ.get("FENGQIAO_VAR_DIR", ROOT / "var")) / "bench" / NAME
    var.mkdir(parents=True, exist_ok=True)
    series = []
    for rooms in plan["rooms"]:
        command = [sys.executable, "-m", "bench.rooms_floor", kind, "{port}"]
        with servers([command], {**os.environ, "PYTHONUNBUFFERED": "1"}, var / f"{kind}.log") as running:
            [(port, pid)] = running
            clients = [
                {"url": f"ws://127.0.0.1:{port}/ws/rooms/{room}/", "room": room}
                for room in range(1, rooms + 1)
                for _member in range(MEMBERS)
            ]
            series.append({"rooms": rooms, **run_load(load_spec("bare", clients, plan, [pid]))})
    return {"configuration": kind, "series": series}


# --- the project ---------------------------------------------------------------------------------


def people_and_rooms(count: int) -> list[dict[str, Any]]:
    """``count`` cases in MEDIATING, each with its joint room and the four people who may enter it."""
    from mediation import services
    from mediation.models import Organisation, Role
    from sessions import services as rooms
    from tests import factories
    from tests.daphne_helpers import session_cookie

    if Organisation.objects.exists():
        raise SystemExit("bench.rooms needs an empty database")
    centre = factories.organisation(Organisation.Kind.CENTRE, "广东金融消费纠纷调解中心", region="广东省广州市")
    manager = factories.user("bench_manager", Role.CASE_MANAGER, centre, is_staff=True)
    cookies: dict[int, str] = {}

    def cookie(user: Any) -> str:
        if user.pk not in cookies:
            cookies[user.pk] = session_cookie(user)
        return cookies[user.pk]

    found = []
    for number in range(count):
        if number % 10 == 0:
            group = number // 10
            bank = factories.organisation(Organisation.Kind.INSTITUTION, f"基准银行{group}", region="广东省广州市")
            agents = [
                factories.user(f"bench_agent_{group}_{n}", Role.INSTITUTION_AGENT, bank, real_name=f"经办{group}-{n}")
                for n in (1, 2)
            ]
            mediator = factories.pool_mediator(f"bench_mediator_{group}", centre, real_name=f"调解员{group}")
        consumer = factories.user(f"bench_consumer_{number}", Role.CONSUMER, real_name=f"消费者{number}")
        case = factories.complaint(consumer, bank, centre)
        services.accept_case(case, actor=manager)
        services.transfer_to_institution(case, actor=manager)
        services.answer_complaint(case, agent=agents[0], outcome="not_resolved", text="维持原处理意见。")
        services.request_mediation(case, consumer=consumer)
        services.record_institution_consent(case, agent=agents[0], consent=True)
        services.assign_mediator(case, actor=manager, mediator=mediator)
        case = factories.accept_assignment(case, mediator=mediator)
        room = rooms.joint_room(case)
        members = [consumer, *agents, mediator]
        for person in members:
            if not rooms.may_enter(person, room):
                raise SystemExit(f"{person} may not enter room {room.pk}: the set-up is wrong")
        found.append({"room": room.pk, "cookies": [cookie(person) for person in members]})
    return found


def _service_pids() -> list[int]:
    """PostgreSQL's postmaster (its backends are its children) and redis-server, when in use."""
    from django.conf import settings
    from django.db import connection

    pids = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data = cursor.fetchone()[0]
        pids.append(int(Path(data, "postmaster.pid").read_text().split()[0]))
    if settings.REDIS_URL:
        import redis

        pids.append(int(redis.Redis.from_url(settings.REDIS_URL).info("server")["process_id"]))
    return pids


def run_project(kind: str, plan: dict[str, Any]) -> dict[str, Any]:
    from bench.common import configure_isolated

    if kind == "scale" and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        raise SystemExit("the scale configuration runs inside scripts/scale-lane.sh (DATABASE_URL and REDIS_URL)")
    if kind == "embedded":
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
    where = configure_isolated(NAME if kind == "embedded" else f"{NAME}-{kind}")
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    # Passwords are never checked here (sessions are made directly); the real hasher costs 0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    started = time.perf_counter()
    people = people_and_rooms(max(plan["rooms"]))
    setup_seconds = time.perf_counter() - started
    service_pids = _service_pids()
    connection.close()
    processes = 2 if kind == "scale" else 1
    env = {**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": "mediation.settings"}
    daphne = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "-v",
        "0",
        "mediation.asgi:application",
    ]
    log = Path(os.environ["FENGQIAO_VAR_DIR"]) / "daphne.log"
    series = []
    for rooms in plan["rooms"]:
        with servers([daphne] * processes, env, log) as running:
            clients = []
            for entry in people[:rooms]:
                for member, cookie in enumerate(entry["cookies"]):
                    # Two members of each room on each process: every broadcast crosses processes.
                    port, _pid = running[member % processes]
                    clients.append(
                        {
                            "url": f"ws://127.0.0.1:{port}/ws/rooms/{entry['room']}/",
                            "room": entry["room"],
                            "cookie": cookie,
                        }
                    )
            spec = load_spec("fengqiao", clients, plan, [pid for _port, pid in running], service_pids)
            series.append({"rooms": rooms, **run_load(spec)})
        series[-1]["stored_messages"] = _stored_messages()
    return {
        "configuration": kind,
        "processes": processes,
        "database": connection.vendor,
        "setup_seconds": round(setup_seconds, 1),
        "where": where,
        "series": series,
    }


def _stored_messages() -> int:
    from django.db import connection

    from sessions.models import Message

    count = Message.objects.count()
    connection.close()
    return count


# --- all of it -----------------------------------------------------------------------------------


def run_configuration(kind: str, plan: dict[str, Any]) -> dict[str, Any]:
    """One configuration in a child process (the project's configure Django, each its own way)."""
    argv = [
        "--child",
        kind,
        "--rooms",
        ",".join(map(str, plan["rooms"])),
        "--steps",
        ",".join(str(step) for step in plan["steps"]),
        "--step-seconds",
        str(plan["step_seconds"]),
    ]
    if kind == "scale":
        command = ["scripts/scale-lane.sh"]
        env = {**os.environ, "SCALE_LANE_CMD": " ".join([sys.executable, "-m", "bench.rooms", *argv])}
    else:
        command = [sys.executable, "-m", "bench.rooms", *argv]
        env = dict(os.environ)
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    if output.returncode != 0:
        sys.stderr.write(output.stderr[-5000:])
        return {"configuration": kind, "failed": output.stderr.strip().splitlines()[-1:] or ["no output"]}
    return json.loads(output.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(plan: dict[str, Any], only: list[str]) -> dict[str, Any]:
    load_before = os.getloadavg()
    started = time.perf_counter()
    configurations = []
    for kind in only:
        print(f"... {LABELS[kind]}", file=sys.stderr, flush=True)
        configurations.append(run_configuration(kind, plan))
    return {
        "plan": plan,
        "seconds": round(time.perf_counter() - started),
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "configurations": configurations,
    }


# --- reporting -----------------------------------------------------------------------------------


def _channels_cpu_per_delivery(result: dict[str, Any]) -> dict[tuple[int, float], float]:
    """The bare Channels floor's server CPU per delivery by (rooms, offered deliveries/s)."""
    floor: dict[tuple[int, float], float] = {}
    for configuration in result["configurations"]:
        if configuration.get("configuration") != "channels":
            continue
        for series in configuration.get("series", []):
            for step in series["steps"]:
                if step["server_cpu_ms_per_delivery"]:
                    floor[series["rooms"], step["offered_deliveries_per_second"]] = step["server_cpu_ms_per_delivery"]
    return floor


def verdicts(result: dict[str, Any]) -> list[str]:
    """The issue's targets against the best step that met the latency and loss bars."""
    floor = _channels_cpu_per_delivery(result)
    lines = []
    for configuration in result["configurations"]:
        kind = configuration.get("configuration")
        if kind not in TARGETS:
            continue
        rate, p99 = TARGETS[kind]
        for series in configuration.get("series", []):
            # A step passes when everything offered arrived (zero loss) within the p99 bar; the
            # rate judged is the offered one, which a passing step sustained. (Achieved deliveries/s
            # divide by a window that ends at the last receipt, so a lossless step reads a hair
            # under its offered rate.)
            good = [s for s in series["steps"] if s["loss"] == 0 and s["p99_ms"] <= p99]
            best = max(good, key=lambda s: s["offered_deliveries_per_second"], default=None)
            rooms = series["rooms"]
            if best is None:
                lines.append(f"{kind}, {rooms} rooms: no step with zero loss at p99 ≤ {p99} ms (target {rate}/s)")
                continue
            # PostgreSQL and Redis count too: the floor has neither.
            cpu = best["server_cpu_ms_per_delivery"] + (
                1000 * best["services_cpu_seconds"] / best["received"] if best["received"] else 0
            )
            same = floor.get((rooms, best["offered_deliveries_per_second"]))
            ratio = f"{cpu / same:.1f}× the Channels floor at the same load" if same else "no floor to compare"
            met = "met" if best["offered_deliveries_per_second"] >= rate else "NOT met"
            lines.append(
                f"{kind}, {rooms} rooms: {best['offered_deliveries_per_second']:,.0f} deliveries/s offered and "
                f"delivered ({best['deliveries_per_second']:,.0f}/s over the step and its drain) at p99 "
                f"{best['p99_ms']} ms with zero loss (target ≥ {rate}/s at p99 ≤ {p99} ms: {met}); "
                f"CPU {cpu:.3f} ms per delivery, {ratio} (target ≤ 2×)"
            )
    return lines


def report(result: dict[str, Any], *, write: bool = True) -> Path | None:
    """Print the tables and the verdicts; write ``bench/results/rooms.json`` unless told not to."""
    from bench.common import git_revision, machine, print_table, versions, write_result

    for configuration in result["configurations"]:
        kind = configuration["configuration"]
        if "failed" in configuration:
            print(f"\n{LABELS[kind]}: FAILED: {configuration['failed']}")
            continue
        for series in configuration["series"]:
            rows = [
                [
                    f"{s['offered_deliveries_per_second']:,.0f}",
                    f"{s['deliveries_per_second']:,.0f}",
                    f"{s['loss']}" + (f" ({sum(s['refused'].values())} refused)" if s["refused"] else ""),
                    s["p50_ms"],
                    s["p99_ms"],
                    s["server_cpu_percent"],
                    s["server_cpu_ms_per_delivery"],
                    s["services_cpu_seconds"] if kind == "scale" else "",
                    s["server_rss_mib"],
                    s["load_generator_cpu_percent"],
                ]
                for s in series["steps"]
            ]
            print_table(
                f"{LABELS[kind]}: {series['rooms']} rooms × {MEMBERS} clients "
                f"(connected in {series['connect_seconds']} s, idle RSS {series['idle_server_rss_mib']} MiB)",
                [
                    "offered/s",
                    "deliveries/s",
                    "loss",
                    "p50 ms",
                    "p99 ms",
                    "server CPU %",
                    "CPU ms/delivery",
                    "PG+Redis CPU s",
                    "RSS MiB",
                    "load gen CPU %",
                ],
                rows,
            )
    print()
    for line in verdicts(result):
        print(line)
    load = result["load_average_1min"]
    print(f"Load average (1 min) {load['before']} before, {load['after']} after; {result['seconds']} s in all.")
    if not write:
        return None
    return write_result(
        NAME,
        {
            "benchmark": "rooms: R joint rooms × 4 clients, open-loop steps, against two floors",
            "machine": machine(),
            "versions": versions("django", "channels", "channels-redis", "daphne", "websockets", "redis", "psycopg"),
            "revision": git_revision(),
            "method": (__doc__ or "").split("\n\n", 1)[1].strip(),
            "server_environment": SERVER_ENV,
            "verdicts": verdicts(result),
            "baseline": [c for c in result["configurations"] if c.get("configuration") in ("websockets", "channels")],
            "result": result,
        },
    )


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(part) for part in text.split(",") if part.strip()]


def plan_from_environment() -> dict[str, Any]:
    """The default plan, or ``BENCH_ROOMS``, ``BENCH_ROOMS_STEPS`` and ``BENCH_ROOMS_STEP_SECONDS``."""
    return {
        "rooms": _numbers(os.environ.get("BENCH_ROOMS", ""), int) or ROOMS,
        "steps": _numbers(os.environ.get("BENCH_ROOMS_STEPS", ""), float) or STEPS,
        "step_seconds": float(os.environ.get("BENCH_ROOMS_STEP_SECONDS") or STEP_SECONDS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 rooms, two 3-second steps")
    parser.add_argument("--rooms", help="room counts, comma separated (default 50,200)")
    parser.add_argument("--steps", help="offered deliveries per second, comma separated")
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--only", help=f"configurations, comma separated, from {', '.join(CONFIGURATIONS)}")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line, write nothing")
    # Internal: run one configuration in this process (``scale`` inside scripts/scale-lane.sh).
    parser.add_argument("--child", choices=CONFIGURATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = plan_from_environment()
    if args.quick:
        plan.update(QUICK)
    if args.rooms:
        plan["rooms"] = _numbers(args.rooms, int)
    if args.steps:
        plan["steps"] = _numbers(args.steps, float)
    if args.step_seconds:
        plan["step_seconds"] = args.step_seconds
    only = _numbers(args.only, str) if args.only else list(CONFIGURATIONS)
    unknown = set(only) - set(CONFIGURATIONS)
    if unknown:
        parser.error(f"unknown configuration {', '.join(sorted(unknown))}")
    if args.child:
        kind = args.child
        result = run_floor(kind, plan) if kind in ("websockets", "channels") else run_project(kind, plan)
        print(json.dumps(result, ensure_ascii=False))
        return
    result = run(plan, only)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    path = report(result, write=not args.quick)
    print(f"\nwritten {path.relative_to(ROOT)}" if path else "\n(smoke run: nothing written)")


if __name__ == "__main__":
    main()

"""The rooms benchmark's arithmetic on made-up figures, and a tiny real run that loses nothing.

The real runs start real servers (Daphne on the test database, the bare websockets floor) and
the load generator in its own process, as ``python -m bench rooms`` does, with 2 rooms × 4
clients and one short step; they check counts only, never times.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import rooms
from bench.rooms_load import StepTally, percentile, step_figures, tree_cpu_seconds
from tests.daphne_helpers import daphne

TINY_PLAN = {"rooms": [2], "steps": [40], "step_seconds": 1.5}


def test_percentile_is_nearest_rank() -> None:
    ordered = [float(n) for n in range(1, 101)]
    assert percentile(ordered, 0.50) == 50.0
    assert percentile(ordered, 0.99) == 99.0
    assert percentile(ordered, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_step_figures_count_deliveries_loss_and_latency() -> None:
    # 5 sends in a room of 4: 20 deliveries expected, 18 arrived (one of them twice).
    tally = StepTally(offered_deliveries_per_second=10, members=4, sends=5, refused={"rate_limited": 1})
    tally.latencies = [0.001 * n for n in range(1, 19)]  # 1 ms … 18 ms
    tally.duplicates = 1
    tally.started, tally.sending_ended, tally.last_receipt = 100.0, 101.0, 102.0

    figures = step_figures(tally)

    assert figures["expected"] == 20
    assert figures["received"] == 18
    assert figures["loss"] == 2
    assert figures["duplicates"] == 1
    assert figures["refused"] == {"rate_limited": 1}
    assert figures["p50_ms"] == 9.0
    assert figures["p99_ms"] == 18.0
    assert figures["max_ms"] == 18.0
    # Received over the span from the first scheduled send to the last receipt (2 s).
    assert figures["deliveries_per_second"] == 9.0
    assert figures["seconds"] == 2.0


def test_a_server_that_keeps_up_scores_over_the_sending_time() -> None:
    tally = StepTally(offered_deliveries_per_second=8, members=4, sends=4)
    tally.latencies = [0.002] * 16
    tally.started, tally.sending_ended, tally.last_receipt = 0.0, 2.0, 1.5

    figures = step_figures(tally)

    assert figures["loss"] == 0
    assert figures["deliveries_per_second"] == 8.0


def test_cpu_of_a_process_tree_includes_this_process() -> None:
    assert tree_cpu_seconds([os.getpid()]) > 0
    assert tree_cpu_seconds([]) == 0


def _no_loss(result: dict[str, Any], clients: int) -> None:
    assert result["clients"] == clients
    assert result["connections_closed_early"] == 0
    [step] = result["steps"]
    assert step["sends"] > 0
    assert step["refused"] == {}
    assert step["expected"] == step["sends"] * rooms.MEMBERS
    assert step["received"] == step["expected"]
    assert step["loss"] == 0
    assert step["duplicates"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_tiny_run_against_the_embedded_default_loses_nothing() -> None:
    people = rooms.people_and_rooms(2)
    with daphne(1) as (server,):
        clients = [
            {"url": f"{server.ws}/ws/rooms/{entry['room']}/", "room": entry["room"], "cookie": cookie}
            for entry in people
            for cookie in entry["cookies"]
        ]
        spec = {**rooms.load_spec("fengqiao", clients, TINY_PLAN, [server.process.pid]), "final_drain_seconds": 0.5}
        result = rooms.run_load(spec)

    _no_loss(result, clients=8)

    from sessions.models import Message

    assert (
        Message.objects.filter(room_id__in=[entry["room"] for entry in people]).count() == result["steps"][0]["sends"]
    )


def test_a_tiny_run_against_the_bare_websockets_floor_loses_nothing(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.rooms_floor", "websockets", "{port}"]
    with rooms.servers([command], dict(os.environ), tmp_path / "floor.log") as [(port, pid)]:
        clients = [
            {"url": f"ws://127.0.0.1:{port}/ws/rooms/{room}/", "room": room} for room in (1, 2) for _ in range(4)
        ]
        spec = {**rooms.load_spec("bare", clients, TINY_PLAN, [pid]), "final_drain_seconds": 0.5}
        result = rooms.run_load(spec)

    _no_loss(result, clients=8)

"""Rooms across Daphne processes: a message crosses processes (Redis), and a killed process loses nothing.

Real servers (``tests/asgi_server.py``) on the test database and real websocket clients (the
``websockets`` library). With ``REDIS_URL`` set (``make test-scale``) the processes share the Redis
channel layer; the crash test needs only the shared database and runs in both lanes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings

from mediation.models import Case, User
from sessions import services
from sessions.models import Message
from tests.daphne_helpers import DaphneProcess, daphne, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


class Client:
    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.seen: list[int] = []
        self.bodies: list[str] = []

    async def frame(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))  # type: ignore[no-any-return]

    async def hello(self) -> None:
        await self.socket.send(json.dumps({"type": "hello", "after": self.seen[-1] if self.seen else 0}))
        while (frame := await self.frame())["type"] != "ready":
            self.take(frame)

    def take(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "message" and frame["seq"] not in self.seen:
            self.seen.append(frame["seq"])
            self.bodies.append(frame["body"])

    async def until_seq(self, seq: int) -> None:
        while not self.seen or self.seen[-1] < seq:
            self.take(await self.frame())

    async def say(self, body: str, client_id: str) -> int:
        await self.socket.send(json.dumps({"type": "send", "body": body, "client_id": client_id}))
        while True:
            frame = await self.frame()
            self.take(frame)
            if frame["type"] == "ack" and frame["client_id"] == client_id:
                return int(frame["seq"])


@asynccontextmanager
async def connected(
    server: DaphneProcess, room_id: int, cookie: str, client: Client | None = None
) -> AsyncIterator[Client]:
    socket = await websockets.connect(
        f"{server.ws}/ws/rooms/{room_id}/",
        additional_headers={"Cookie": f"sessionid={cookie}"},
        origin=websockets.Origin(server.http),  # type: ignore[attr-defined]
        open_timeout=10,
    )
    try:
        if client is None:
            client = Client(socket)
        else:
            client.socket = socket
        await client.hello()
        yield client
    finally:
        await socket.close()


@pytest.fixture
def room_setup(mediating_case: Case, consumer: User, mediator: User) -> dict[str, Any]:
    joint = services.joint_room(mediating_case)
    return {"room": joint.pk, "consumer": session_cookie(consumer), "mediator": session_cookie(mediator)}


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs the Redis channel layer (make test-scale)")
async def test_a_message_sent_on_one_process_reaches_a_client_on_the_other(room_setup: dict[str, Any]) -> None:
    with daphne(2) as (first, second):
        async with (
            connected(first, room_setup["room"], room_setup["consumer"]) as consumer,
            connected(second, room_setup["room"], room_setup["mediator"]) as mediator,
        ):
            seq = await consumer.say("跨进程的消息", "cross-1")
            await mediator.until_seq(seq)
            assert mediator.bodies == ["跨进程的消息"]
            reply = await mediator.say("收到", "cross-2")
            await consumer.until_seq(reply)
            assert consumer.bodies == ["跨进程的消息", "收到"]


async def test_clients_of_a_killed_process_reconnect_to_the_other_and_lose_nothing(
    room_setup: dict[str, Any],
) -> None:
    with daphne(2) as (survivor, doomed):
        async with connected(survivor, room_setup["room"], room_setup["consumer"]) as consumer:
            watcher = Client(None)
            async with connected(doomed, room_setup["room"], room_setup["mediator"], watcher):
                first = await consumer.say("第1条", "k-1")
                if settings.REDIS_URL:  # live across processes only with a shared layer
                    await watcher.until_seq(first)
                doomed.kill()
                # Meanwhile, on the survivor:
                for n in range(2, 7):
                    await consumer.say(f"第{n}条", f"k-{n}")
                with pytest.raises((websockets.ConnectionClosed, TimeoutError)):
                    await watcher.frame(timeout=5)
            async with connected(survivor, room_setup["room"], room_setup["mediator"], watcher):
                await watcher.until_seq(6)

    assert watcher.seen == [1, 2, 3, 4, 5, 6]
    assert watcher.bodies == [f"第{n}条" for n in range(1, 7)]

    def stored() -> list[int]:
        return sorted(Message.objects.filter(room_id=room_setup["room"]).values_list("seq", flat=True))

    assert await sync_to_async(stored)() == [1, 2, 3, 4, 5, 6]

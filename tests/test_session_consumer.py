"""The room websocket through the full ASGI application: refusal, replay, resume, gaps, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.test import Client

from mediation import permissions
from mediation import services as case_services
from mediation.asgi import application
from mediation.models import Case, User
from sessions import consumers, services
from sessions.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
def fresh_layer() -> Iterator[None]:
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()
    yield
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()


def cookie_for(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def rooms_of(case: Case) -> dict[str, Room]:
    return {room.side or "joint": room for room in services.rooms_for_case(case)}


class Connection:
    """A websocket to one room as one person, with helpers for the frames."""

    def __init__(self, room: Room, headers: list[tuple[bytes, bytes]]) -> None:
        self.communicator = WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/", headers=headers)
        self.log: list[dict[str, Any]] = []  # every frame received

    async def open(self) -> tuple[bool, Any]:
        return await self.communicator.connect()  # type: ignore[no-any-return]

    async def hello(self, after: int = 0) -> list[dict[str, Any]]:
        """Say hello; return the replayed message frames (the ready frame is checked)."""
        await self.send({"type": "hello", "after": after})
        frames = await self.until("ready")
        replayed = [f for f in frames if f["type"] == "message"]
        assert frames[-1]["last_seq"] == (replayed[-1]["seq"] if replayed else after)
        return replayed

    async def send(self, frame: Any) -> None:
        await self.communicator.send_json_to(frame)

    async def receive_any(self) -> dict[str, Any]:
        frame: dict[str, Any] = await self.communicator.receive_json_from(timeout=5)
        self.log.append(frame)
        return frame

    async def receive(self) -> dict[str, Any]:
        """The next frame that is not a presence update (those come whenever anyone joins or leaves)."""
        while True:
            frame = await self.receive_any()
            if frame["type"] != "presence":
                return frame

    async def until(self, frame_type: str) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``frame_type``."""
        frames = []
        while True:
            frame = await (self.receive_any() if frame_type == "presence" else self.receive())
            frames.append(frame)
            if frame["type"] == frame_type:
                return frames

    async def until_seq(self, seq: int) -> None:
        while not any(f["type"] == "message" and f["seq"] >= seq for f in self.log):
            await self.receive_any()

    async def messages(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` message frames, skipping presence and typing."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            frame = await self.receive()
            if frame["type"] == "message":
                found.append(frame)
        return found

    async def quiet(self) -> bool:
        """Nothing but presence updates arrives for a moment."""
        while not await self.communicator.receive_nothing(timeout=0.3):
            if (await self.receive_any())["type"] != "presence":
                return False
        return True

    async def close(self) -> None:
        await self.communicator.disconnect()


async def connection(user: User | None, room: Room) -> Connection:
    headers = [ORIGIN]
    if user is not None:
        headers.append(await sync_to_async(cookie_for)(user))
    return Connection(room, headers)


@pytest.fixture
async def joined(mediating_case: Case, consumer: User, mediator: User) -> AsyncIterator[dict[str, Any]]:
    """The consumer and the mediator in the joint room, both past hello."""
    rooms = await sync_to_async(rooms_of)(mediating_case)
    people = {
        "consumer": await connection(consumer, rooms["joint"]),
        "mediator": await connection(mediator, rooms["joint"]),
    }
    for person in people.values():
        assert (await person.open())[0]
        assert await person.hello() == []
    yield {"rooms": rooms, **people}
    for person in people.values():
        await person.close()


# --- who gets in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "outsider", "other_side", "case_manager"])
async def test_people_not_in_the_room_are_refused_before_accept_with_4403(
    mediating_case: Case, consumer: User, outsider: User, bank_agent: User, case_manager: User, who: str
) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    user, room = {
        "anonymous": (None, rooms["joint"]),
        "outsider": (outsider, rooms["joint"]),
        "other_side": (bank_agent, rooms[f"consumer:{consumer.pk}"]),  # the consumer's caucus
        "case_manager": (case_manager, rooms["institution"]),
    }[who]

    assert await (await connection(user, room)).open() == (False, 4403)


async def test_an_unknown_room_is_refused_like_a_forbidden_one(consumer: User) -> None:
    cookie = await sync_to_async(cookie_for)(consumer)
    communicator = WebsocketCommunicator(application, "/ws/rooms/999999/", headers=[ORIGIN, cookie])
    assert await communicator.connect() == (False, 4403)


async def test_a_connection_from_a_foreign_origin_is_refused(mediating_case: Case, consumer: User) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    cookie = await sync_to_async(cookie_for)(consumer)
    communicator = WebsocketCommunicator(
        application, f"/ws/rooms/{rooms['joint'].pk}/", headers=[(b"origin", b"http://evil.example"), cookie]
    )
    connected, _code = await communicator.connect()
    assert connected is False


# --- delivery ------------------------------------------------------------------------------------


async def test_hello_replays_everything_after_the_number_given(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    for n in range(3):
        await sync_to_async(services.post_message)(rooms["joint"], author=mediator, body=f"第{n + 1}条")
    late = await connection(consumer, rooms["joint"])
    assert (await late.open())[0]

    replayed = await late.hello(after=1)

    assert [(f["seq"], f["body"], f["author"]["name"]) for f in replayed] == [
        (2, "第2条", "吴调解员"),
        (3, "第3条", "吴调解员"),
    ]
    await late.close()


async def test_a_message_is_acknowledged_and_reaches_everyone_once_in_order(joined: dict[str, Any]) -> None:
    consumer, mediator = joined["consumer"], joined["mediator"]

    await consumer.send({"type": "send", "body": "<script>alert(1)</script>您好", "client_id": "c-1"})
    await consumer.send({"type": "send", "body": "第二句", "client_id": "c-2"})

    frames = await consumer.until("ack")
    assert frames[-1] == {"type": "ack", "client_id": "c-1", "seq": 1}
    for connection in (consumer, mediator):
        received = await connection.messages(2)
        assert [(f["seq"], f["body"]) for f in received if f["seq"] <= 2][:2] == [
            (1, "<script>alert(1)</script>您好"),  # stored as typed; the page renders it as text
            (2, "第二句"),
        ]
    assert await sync_to_async(Message.objects.count)() == 2


async def test_a_reconnecting_client_gets_what_it_missed_and_nothing_twice(
    joined: dict[str, Any], mediating_case: Case, consumer: User
) -> None:
    joint = joined["rooms"]["joint"]
    await joined["consumer"].send({"type": "send", "body": "在吗", "client_id": "a"})
    seen = await joined["consumer"].messages(1)
    await joined["consumer"].close()

    for body in ("在的", "请讲"):
        await joined["mediator"].send({"type": "send", "body": body})
    await joined["mediator"].messages(3)

    again = await connection(consumer, joint)
    assert (await again.open())[0]
    missed = await again.hello(after=seen[-1]["seq"])
    assert [(f["seq"], f["body"]) for f in missed] == [(2, "在的"), (3, "请讲")]
    await joined["mediator"].send({"type": "send", "body": "继续"})
    assert [(f["seq"], f["body"]) for f in await again.messages(1)] == [(4, "继续")]
    assert await again.quiet()
    await again.close()


async def test_a_lost_broadcast_is_read_from_the_database_before_the_next_one(
    joined: dict[str, Any], mediator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    joint = joined["rooms"]["joint"]
    monkeypatch.setattr(services, "_broadcasters", [])  # the group send for this one is "lost"
    await sync_to_async(services.post_message)(joint, author=mediator, body="丢失的广播")
    monkeypatch.undo()
    assert await joined["consumer"].quiet()

    await sync_to_async(services.post_message)(joint, author=mediator, body="下一条")

    received = await joined["consumer"].messages(2)
    assert [(f["seq"], f["body"]) for f in received] == [(1, "丢失的广播"), (2, "下一条")]
    assert await joined["consumer"].quiet()


async def test_sending_again_with_the_same_client_id_stores_one_message(joined: dict[str, Any]) -> None:
    consumer = joined["consumer"]
    for _ in range(2):
        await consumer.send({"type": "send", "body": "只存一次", "client_id": "retry-1"})
        assert (await consumer.until("ack"))[-1] == {"type": "ack", "client_id": "retry-1", "seq": 1}

    assert await sync_to_async(Message.objects.filter(body="只存一次").count)() == 1


# --- bad frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ("not json", "malformed", "type"),
        ("[1, 2]", "malformed", "type"),
        ('{"type": "shout"}', "unknown_type", "type"),
        ('{"type": "send", "body": ""}', "empty_body", "body"),
        ('{"type": "send", "body": 42}', "invalid_body", "body"),
        ('{"type": "send", "body": "' + "长" * 2001 + '"}', "too_long", "body"),
        ('{"type": "send", "body": "好", "client_id": "has space"}', "invalid_client_id", "client_id"),
        ('{"type": "hello", "after": -1}', "invalid_after", "after"),
        ('{"type": "hello", "after": "3"}', "invalid_after", "after"),
    ],
)
async def test_a_malformed_frame_gets_an_error_frame_and_changes_nothing(
    joined: dict[str, Any], raw: str, code: str, field: str
) -> None:
    consumer = joined["consumer"]
    await consumer.communicator.send_to(text_data=raw)

    frame = await consumer.receive()

    assert (frame["type"], frame["code"], frame.get("field")) == ("error", code, field)
    assert frame["message"]
    assert await sync_to_async(Message.objects.count)() == 0
    # The connection stays usable.
    await consumer.send({"type": "ping"})
    assert (await consumer.until("pong"))[-1] == {"type": "pong"}


async def test_a_binary_frame_is_refused_with_an_error_frame(joined: dict[str, Any]) -> None:
    await joined["consumer"].communicator.send_to(bytes_data=b"\x00\x01")
    frame = await joined["consumer"].receive()
    assert (frame["type"], frame["code"]) == ("error", "malformed")


async def test_sending_too_fast_gets_a_rate_limit_error_and_stores_nothing_more(
    joined: dict[str, Any], settings: Any
) -> None:
    settings.SESSION_MESSAGES_PER_10S = 3
    consumers._limiter.cache_clear()
    consumer = joined["consumer"]
    for n in range(4):
        await consumer.send({"type": "send", "body": f"快{n}", "client_id": f"fast-{n}"})

    frames: list[dict[str, Any]] = []
    while not any(f["type"] == "error" for f in frames):
        frames.append(await consumer.receive())
    error = next(f for f in frames if f["type"] == "error")
    assert (error["code"], error["client_id"], error["retry_after"]) == ("rate_limited", "fast-3", 10)
    assert await sync_to_async(Message.objects.count)() == 3


# --- permission on every write -------------------------------------------------------------------


async def test_a_mediator_removed_from_the_case_is_disconnected_at_once(
    joined: dict[str, Any], mediating_case: Case, mediator: User, case_manager: User
) -> None:
    await sync_to_async(case_services.remove_mediator)(
        mediating_case, actor=case_manager, mediator=mediator, reason="回避"
    )

    frames = await joined["mediator"].until("error")
    assert frames[-1]["code"] == "forbidden"
    assert await joined["mediator"].communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    # The consumer's connection is untouched.
    await joined["consumer"].send({"type": "ping"})
    assert (await joined["consumer"].until("pong"))[-1]["type"] == "pong"


async def test_a_write_after_access_is_gone_is_refused_even_without_the_push(
    joined: dict[str, Any], mediating_case: Case, mediator: User, case_manager: User
) -> None:
    # The push to open connections is lost: the write itself is still checked.
    permissions.access_withdrawn.disconnect(dispatch_uid="sessions.close_withdrawn")
    try:
        await sync_to_async(case_services.remove_mediator)(
            mediating_case, actor=case_manager, mediator=mediator, reason="回避"
        )
        await joined["mediator"].send({"type": "send", "body": "我还能说话吗", "client_id": "late"})
        frames = await joined["mediator"].until("error")
    finally:
        permissions.access_withdrawn.connect(consumers.close_withdrawn, dispatch_uid="sessions.close_withdrawn")

    assert (frames[-1]["code"], frames[-1]["client_id"]) == ("forbidden", "late")
    assert await sync_to_async(Message.objects.filter(body="我还能说话吗").exists)() is False


# --- presence and typing -------------------------------------------------------------------------


async def test_presence_and_typing(joined: dict[str, Any], consumer: User, mediator: User) -> None:
    consumer_connection, mediator_connection = joined["consumer"], joined["mediator"]

    await consumer_connection.send({"type": "typing"})
    typing = await mediator_connection.until("typing")
    assert typing[-1] == {"type": "typing", "user": consumer.pk, "name": "张三"}
    await consumer_connection.send({"type": "ping"})
    frames = await consumer_connection.until("pong")
    assert all(f["type"] != "typing" for f in frames)  # not echoed to the typist

    await consumer_connection.close()
    presence = await mediator_connection.until("presence")
    assert [p["id"] for p in presence[-1]["present"]] == [mediator.pk]


async def test_ready_lists_who_is_present(mediating_case: Case, consumer: User, mediator: User) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    first = await connection(mediator, rooms["joint"])
    assert (await first.open())[0]
    await first.hello()
    second = await connection(consumer, rooms["joint"])
    assert (await second.open())[0]
    await second.send({"type": "hello", "after": 0})
    ready = (await second.until("ready"))[-1]

    assert sorted(p["name"] for p in ready["present"]) == ["吴调解员", "张三"]
    await first.close()
    await second.close()


# --- releasing a caucus statement (Art 18) --------------------------------------------------------


async def test_the_author_releases_a_caucus_statement_to_the_joint_room(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    caucus = await connection(consumer, rooms[f"consumer:{consumer.pk}"])
    mediator_caucus = await connection(mediator, rooms[f"consumer:{consumer.pk}"])
    joint = await connection(mediator, rooms["joint"])
    for person in (caucus, mediator_caucus, joint):
        assert (await person.open())[0]
        await person.hello()
    await caucus.send({"type": "send", "body": "我同意公开这一点：可以分十二期。", "client_id": "r-1"})
    await caucus.until("ack")
    assert await joint.quiet()  # nothing reaches the joint room by itself

    await mediator_caucus.send({"type": "release", "seq": 1})
    refused = await mediator_caucus.until("error")
    assert (refused[-1]["code"], refused[-1]["seq"]) == ("not_author", 1)
    for bad, code in (({"type": "release", "seq": "1"}, "invalid_seq"), ({"type": "release", "seq": 9}, "unknown_seq")):
        await caucus.send(bad)
        assert (await caucus.until("error"))[-1]["code"] == code
    assert await joint.quiet()

    await caucus.send({"type": "release", "seq": 1})
    released = (await caucus.until("released"))[-1]

    assert released == {"type": "released", "seq": 1, "joint_room": rooms["joint"].pk, "joint_seq": 1}
    copy = (await joint.messages(1))[0]
    assert (copy["body"], copy["author"]["id"], copy["seq"]) == ("我同意公开这一点：可以分十二期。", consumer.pk, 1)
    assert copy["released_from"] is not None
    for person in (caucus, mediator_caucus, joint):
        await person.close()


# --- negotiation frames --------------------------------------------------------------------------


async def test_offers_and_blind_bidding_over_the_websocket(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    people = {
        "consumer": await connection(consumer, rooms["joint"]),
        "bank": await connection(bank_agent, rooms["joint"]),
        "mediator": await connection(mediator, rooms["joint"]),
    }
    for person in people.values():
        assert (await person.open())[0]
        await person.hello()

    await people["bank"].send({"type": "offer", "terms": {"amount": "4000"}})
    assert (await people["bank"].until("done"))[-1] == {"type": "done", "action": "offer", "offer": 1, "state": "open"}
    await people["consumer"].send({"type": "answer_offer", "offer": 1, "accept": "yes"})
    error = (await people["consumer"].until("error"))[-1]
    assert (error["code"], error["field"]) == ("invalid_accept", "accept")
    await people["consumer"].send({"type": "offer", "counter_to": 1, "terms": {"amount": "7000"}})
    assert (await people["consumer"].until("done"))[-1]["offer"] == 2

    await people["mediator"].send({"type": "open_bidding", "agreed_gap": "500"})
    assert (await people["mediator"].until("done"))[-1] == {
        "type": "done",
        "action": "open_bidding",
        "round": 1,
        "state": "open",
    }
    await people["consumer"].send({"type": "bid", "round": 1, "figure": "6137"})
    assert (await people["consumer"].until("done"))[-1]["state"] == "open"
    await people["bank"].send({"type": "bid", "round": 7, "figure": "5711"})
    error = (await people["bank"].until("error"))[-1]
    assert (error["code"], error["field"]) == ("unknown_number", "round")
    await people["bank"].send({"type": "bid", "round": 1, "figure": "5711"})
    assert (await people["bank"].until("done"))[-1]["state"] == "settled"

    # Everyone saw the steps as system messages, never a figure.
    await people["consumer"].until_seq(4)
    seen = [frame["body"] for frame in people["consumer"].log if frame["type"] == "message"]
    assert len(seen) == 4
    assert seen[-1] == "第 1 轮双盲报价达成一致：按双方报价的中间值 5,924.00 元和解。"
    assert not any("6137" in body or "6,137" in body or "5711" in body or "5,711" in body for body in seen)
    for person in people.values():
        await person.close()


async def test_negotiation_is_refused_in_a_caucus(mediating_case: Case, consumer: User) -> None:
    rooms = await sync_to_async(rooms_of)(mediating_case)
    caucus = await connection(consumer, rooms[f"consumer:{consumer.pk}"])
    assert (await caucus.open())[0]
    await caucus.hello()
    await caucus.send({"type": "offer", "terms": {"amount": "4000"}})
    error = (await caucus.until("error"))[-1]
    assert (error["code"], error["field"]) == ("joint_room_only", "type")
    await caucus.close()

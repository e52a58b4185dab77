"""Rooms and messages: who may enter which room, gap-free numbering, caucus release (Art 18)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from mediation import services as case_services
from mediation.models import Case, LedgerEntry, User
from sessions import services
from sessions.models import Message, Room
from sessions.services import RoomError


def _rooms(case: Case) -> dict[str, Room]:
    return {room.side or "joint": room for room in services.rooms_for_case(case)}


@pytest.mark.django_db
def test_a_case_has_a_joint_room_and_one_caucus_per_side(mediating_case: Case, consumer: User) -> None:
    rooms = services.rooms_for_case(mediating_case)

    assert [(room.kind, room.side) for room in rooms] == [
        ("joint", ""),
        ("caucus", f"consumer:{consumer.pk}"),
        ("caucus", "institution"),
    ]
    assert services.rooms_for_case(mediating_case) == rooms  # created once


@pytest.mark.django_db
def test_each_person_enters_the_joint_room_and_only_their_own_caucus(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, case_manager: User, outsider: User
) -> None:
    rooms = _rooms(mediating_case)
    consumer_caucus = f"consumer:{consumer.pk}"

    assert {r.side or "joint" for r in services.rooms_for_user(consumer, mediating_case)} == {"joint", consumer_caucus}
    assert {r.side or "joint" for r in services.rooms_for_user(bank_agent, mediating_case)} == {"joint", "institution"}
    assert {r.side or "joint" for r in services.rooms_for_user(mediator, mediating_case)} == set(rooms)
    # Centre staff manage the case but sit in no room; outsiders learn nothing.
    assert services.rooms_for_user(case_manager, mediating_case) == []
    assert services.rooms_for_user(outsider, mediating_case) == []
    for person, side in ((consumer, "institution"), (bank_agent, consumer_caucus), (outsider, "joint")):
        with pytest.raises(RoomError) as raised:
            services.room_for_user(person, rooms[side].pk)
        assert raised.value.code == "not_found"
    assert services.room_for_user(consumer, rooms[consumer_caucus].pk) == rooms[consumer_caucus]


@pytest.mark.django_db
def test_messages_are_numbered_one_two_three_per_room(mediating_case: Case, consumer: User, mediator: User) -> None:
    rooms = _rooms(mediating_case)
    caucus = rooms[f"consumer:{consumer.pk}"]

    first = services.post_message(rooms["joint"], author=consumer, body="  您好  ")
    second = services.post_message(rooms["joint"], author=mediator, body="请陈述诉求。")
    own = services.post_message(caucus, author=consumer, body="我的底线是五千元。")
    system = services.post_system(rooms["joint"], body="张三进入调解室", event={"type": "joined"})

    assert (first.seq, second.seq, system.seq, own.seq) == (1, 2, 3, 1)
    assert first.body == "您好"
    assert [m.seq for m in services.messages_after(rooms["joint"], 1)] == [2, 3]
    assert list(services.messages_after(rooms["joint"], 3)) == []
    rooms["joint"].refresh_from_db()
    assert rooms["joint"].last_seq == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "empty_body"),
        ("   ", "empty_body"),
        (None, "invalid_body"),
        (["x"], "invalid_body"),
        ("字" * 2001, "too_long"),
    ],
)
def test_a_bad_message_is_refused_and_numbers_nothing(
    mediating_case: Case, consumer: User, body: Any, code: str
) -> None:
    joint = services.joint_room(mediating_case)

    with pytest.raises(RoomError) as raised:
        services.post_message(joint, author=consumer, body=body)

    assert (raised.value.code, raised.value.field) == (code, "body")
    joint.refresh_from_db()
    assert joint.last_seq == 0 and not joint.messages.exists()


@pytest.mark.django_db
def test_a_removed_mediator_cannot_write_a_moment_later(
    mediating_case: Case, mediator: User, case_manager: User
) -> None:
    joint = services.joint_room(mediating_case)
    services.post_message(joint, author=mediator, body="今天先到这里。")

    case_services.remove_mediator(mediating_case, actor=case_manager, mediator=mediator, reason="回避")

    with pytest.raises(RoomError) as raised:
        services.post_message(joint, author=mediator, body="还有一点……")
    assert raised.value.code == "forbidden"
    assert [m.seq for m in joint.messages.all()] == [1]


@pytest.mark.django_db
def test_a_caucus_message_reaches_the_joint_room_only_when_its_author_releases_it(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    rooms = _rooms(mediating_case)
    said = services.post_message(rooms[f"consumer:{consumer.pk}"], author=consumer, body="可以接受分期还款。")
    assert not rooms["joint"].messages.exists()

    with pytest.raises(RoomError) as raised:
        services.release(said, user=mediator)  # not the author, even for the mediator
    assert raised.value.code == "not_author"
    assert not rooms["joint"].messages.exists()

    copy = services.release(said, user=consumer)
    again = services.release(said, user=consumer)

    assert copy == again and copy.room == rooms["joint"] and copy.seq == 1
    assert copy.body == said.body and copy.released_from == said
    assert rooms["joint"].messages.count() == 1
    assert LedgerEntry.objects.filter(action="sessions.caucus.released", case=mediating_case).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_every_number_once(mediating_case: Case, consumer: User, mediator: User) -> None:
    """Threads on their own connections: the test database is a file (settings), PostgreSQL in the scale lane."""
    joint = services.joint_room(mediating_case)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4, timeout=30)

    def write(author: User, worker: int) -> None:
        try:
            barrier.wait()
            for n in range(10):
                services.post_message(joint, author=author, body=f"{worker}-{n}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(person, w)) for w, person in enumerate([consumer, mediator] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    messages = list(Message.objects.filter(room=joint).order_by("seq"))
    assert [m.seq for m in messages] == list(range(1, 41))
    for worker in range(4):  # each writer's own messages keep their order
        mine = [m.body for m in messages if m.body.startswith(f"{worker}-")]
        assert mine == [f"{worker}-{n}" for n in range(10)]

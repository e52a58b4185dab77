"""Opening a sitting: check-in, the recording decision, open/close, mute and move, and what they gate.

Services first, then the same rules over real websockets through the full ASGI application.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.core import mail
from django.utils import timezone

from mediation.models import Case, LedgerEntry, OneTimeCode, User
from mediation.notifications import MemorySmsBackend
from sessions import consumers, negotiation, opening, services
from sessions.models import Attendance, MediationSession, Message, Offer, Room
from sessions.services import RoomError
from tests.test_session_consumer import connection, rooms_of

# Real commits: the codes go out on commit, and the websocket tests need them (see DESIGN.md).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_layer() -> Iterator[None]:
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()
    MemorySmsBackend.outbox.clear()
    yield
    channel_layers.backends.clear()
    consumers._limiter.cache_clear()


def last_code(user: User) -> str:
    """The newest one-time code sent to ``user``, read from the outbox of the channel it went by."""
    sent = OneTimeCode.objects.filter(user=user).order_by("-created_at", "-pk").first()
    assert sent is not None, f"no code was sent to {user.username}"
    if sent.channel == OneTimeCode.Channel.SMS:
        texts = [text for phone, text in MemorySmsBackend.outbox if phone == str(user.phone)]
    else:  # the e-mail outbox also holds the case's notifications
        texts = [str(m.body) for m in mail.outbox if user.email in m.to]
    return re.findall(r"验证码 (\d{6})", "\n".join(texts))[-1]


def sitting(
    case: Case, mediator: User, *, mode: str = MediationSession.Mode.JOINT, number: int = 1
) -> MediationSession:
    """A scheduled sitting, made directly (the scheduling page is not what these tests are about)."""
    start = timezone.now() + datetime.timedelta(minutes=5)
    return MediationSession.objects.create(
        case=case,
        number=number,
        mode=mode,
        scheduled_start=start,
        scheduled_end=start + datetime.timedelta(hours=2),
        created_by=mediator,
    )


def check_in(session: MediationSession, user: User) -> Attendance:
    """As a person would: get a code, read it from the outbox, type it, tick the warning."""
    opening.send_check_in_code(session, user=user)
    return opening.check_in(session, user=user, code=last_code(user), acknowledged=True, ip="203.0.113.7")


def opened(case: Case, mediator: User, *, mode: str = MediationSession.Mode.JOINT) -> MediationSession:
    """A sitting the mediator checked in to, recorded the recording decision for, and opened."""
    session = sitting(case, mediator, mode=mode)
    check_in(session, mediator)
    opening.record_recording_consent(session, mediator=mediator, consent=False)
    return opening.open_sitting(session, mediator=mediator)


def refused(call: Any, *args: Any, **kwargs: Any) -> RoomError:
    with pytest.raises(RoomError) as error:
        call(*args, **kwargs)
    return error.value


def actions(case: Case) -> list[str]:
    return list(LedgerEntry.objects.filter(case=case).order_by("seq").values_list("action", flat=True))


# --- check-in ------------------------------------------------------------------------------------


def test_check_in_records_the_identity_check_and_the_warning_in_attendance_and_ledger(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = sitting(mediating_case, mediator)

    attendance = check_in(session, consumer)

    assert attendance.role == Attendance.Role.CONSUMER
    assert attendance.identity_method == OneTimeCode.Channel.EMAIL  # the persona's phone is not verified
    assert attendance.identity_verified_at is not None and attendance.warning_acknowledged_at is not None
    assert attendance.checked_in and not attendance.in_caucus and attendance.joined_at is None
    entry = LedgerEntry.objects.filter(case=mediating_case, action="sessions.attendance.checked_in").get()
    assert entry.data["session"] == session.pk and entry.data["warning_acknowledged"] is True
    assert entry.actor_id == consumer.pk


def test_check_in_uses_the_verified_phone(mediating_case: Case, bank_agent: User, mediator: User) -> None:
    bank_agent.phone_verified_at = timezone.now()
    bank_agent.save(update_fields=["phone_verified_at"])
    session = sitting(mediating_case, mediator)

    attendance = check_in(session, bank_agent)

    assert attendance.role == Attendance.Role.INSTITUTION and attendance.identity_method == OneTimeCode.Channel.SMS
    assert MemorySmsBackend.outbox[-1][0] == str(bank_agent.phone)
    assert "签到" in MemorySmsBackend.outbox[-1][1]


@pytest.mark.parametrize("problem", ["wrong", "expired", "no_code", "used"])
def test_a_bad_code_is_a_field_error_and_changes_nothing(
    mediating_case: Case, consumer: User, mediator: User, problem: str
) -> None:
    session = sitting(mediating_case, mediator)
    code = ""
    if problem != "no_code":
        opening.send_check_in_code(session, user=consumer)
        code = last_code(consumer)
    if problem == "wrong":
        code = f"{(int(code) + 1) % 10**6:06d}"
    if problem == "expired":
        OneTimeCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    if problem == "used":
        opening.check_in(session, user=consumer, code=code, acknowledged=True)
        Attendance.objects.all().delete()
    before = actions(mediating_case)

    error = refused(opening.check_in, session, user=consumer, code=code, acknowledged=True)

    assert (error.code, error.field) == (problem, "code")
    assert not Attendance.objects.exists()
    assert actions(mediating_case) == before


def test_the_warning_must_be_acknowledged_and_the_code_stays_usable(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = sitting(mediating_case, mediator)
    opening.send_check_in_code(session, user=consumer)

    error = refused(opening.check_in, session, user=consumer, code=last_code(consumer), acknowledged=False)

    assert (error.code, error.field) == ("warning_not_acknowledged", "acknowledged")
    assert not Attendance.objects.exists()
    assert opening.check_in(session, user=consumer, code=last_code(consumer), acknowledged=True).checked_in


def test_a_code_for_another_sitting_does_not_check_in(mediating_case: Case, consumer: User, mediator: User) -> None:
    first, second = sitting(mediating_case, mediator), sitting(mediating_case, mediator, number=2)
    opening.send_check_in_code(first, user=consumer)

    assert (
        refused(opening.check_in, second, user=consumer, code=last_code(consumer), acknowledged=True).code == "no_code"
    )


def test_people_not_taking_part_and_finished_sittings_have_no_check_in(
    mediating_case: Case, consumer: User, mediator: User, case_manager: User, outsider: User
) -> None:
    session = sitting(mediating_case, mediator)
    assert refused(opening.send_check_in_code, session, user=case_manager).code == "not_participant"
    assert refused(opening.send_check_in_code, session, user=outsider).code == "not_participant"
    session.state = MediationSession.State.CANCELLED
    session.save()
    assert refused(opening.send_check_in_code, session, user=consumer).code == "session_finished"
    assert not OneTimeCode.objects.exists()


def test_in_a_separate_sitting_parties_start_in_their_caucus(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = sitting(mediating_case, mediator, mode=MediationSession.Mode.SEPARATE)
    assert check_in(session, consumer).in_caucus
    assert check_in(session, bank_agent).in_caucus
    assert not check_in(session, mediator).in_caucus


# --- open, recording, close ----------------------------------------------------------------------


def test_opening_needs_the_mediators_check_in_and_the_recording_decision(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = sitting(mediating_case, mediator)
    assert refused(opening.open_sitting, session, mediator=consumer).code == "not_mediator"
    assert refused(opening.open_sitting, session, mediator=mediator).code == "check_in_required"
    check_in(session, mediator)
    assert refused(opening.open_sitting, session, mediator=mediator).code == "recording_undecided"
    assert refused(opening.record_recording_consent, session, mediator=consumer, consent=True).code == "not_mediator"
    opening.record_recording_consent(session, mediator=mediator, consent=True)

    session = opening.open_sitting(session, mediator=mediator)

    assert session.state == MediationSession.State.OPEN and session.opened_at is not None
    assert session.recording_consent is True
    consent = LedgerEntry.objects.get(case=mediating_case, action="sessions.session.recording_consent")
    assert consent.actor_id == mediator.pk and consent.data["consent"] is True
    assert "sessions.session.opened" in actions(mediating_case)
    joint = services.joint_room(mediating_case)
    assert joint.messages.get().event == {"event": "session_opened", "session": session.pk}
    assert refused(opening.open_sitting, session, mediator=mediator).code == "not_scheduled"


def test_a_case_has_at_most_one_open_sitting(mediating_case: Case, mediator: User) -> None:
    opened(mediating_case, mediator)
    second = sitting(mediating_case, mediator, number=2)
    check_in(second, mediator)
    opening.record_recording_consent(second, mediator=mediator, consent=True)

    assert refused(opening.open_sitting, second, mediator=mediator).code == "already_open"
    second.refresh_from_db()
    assert second.state == MediationSession.State.SCHEDULED


def test_closing_ends_the_sitting_and_the_attendance(mediating_case: Case, consumer: User, mediator: User) -> None:
    session = opened(mediating_case, mediator)
    check_in(session, consumer)
    Attendance.objects.filter(user=consumer).update(joined_at=timezone.now())
    assert refused(opening.close_sitting, session, mediator=consumer).code == "not_mediator"

    session = opening.close_sitting(session, mediator=mediator)

    assert session.state == MediationSession.State.CLOSED and session.closed_at is not None
    assert Attendance.objects.get(user=consumer).left_at is not None
    assert Attendance.objects.get(user=mediator).left_at is None  # never joined through a room
    assert actions(mediating_case)[-1] == "sessions.session.closed"
    assert refused(opening.close_sitting, session, mediator=mediator).code == "not_open"
    assert refused(opening.record_recording_consent, session, mediator=mediator, consent=True).code == (
        "session_finished"
    )


# --- writing while a sitting is open -------------------------------------------------------------


def test_between_sittings_the_rooms_stay_asynchronous(mediating_case: Case, consumer: User, mediator: User) -> None:
    joint = services.joint_room(mediating_case)
    sitting(mediating_case, mediator)  # scheduled, not open
    assert services.post_message(joint, author=consumer, body="会前留言").session is None


def test_during_a_sitting_only_checked_in_people_write(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = opened(mediating_case, mediator)
    joint = services.joint_room(mediating_case)

    error = refused(services.post_message, joint, author=consumer, body="我先说")
    assert error.code == "check_in_required"
    assert (
        error.extra["check_in_url"] == f"/sessions/{session.pk}/check-in/"
        and error.extra["check_in_url"] in error.message
    )
    assert refused(
        services.post_message, services.caucus_of(mediating_case, "institution"), author=bank_agent, body="x"
    )
    assert joint.messages.filter(kind=Message.Kind.TEXT).count() == 0

    check_in(session, consumer)
    message = services.post_message(joint, author=consumer, body="我先说")
    assert message.session_id == session.pk
    assert services.post_message(joint, author=mediator, body="请讲").session_id == session.pk

    opening.close_sitting(session, mediator=mediator)
    assert services.post_message(joint, author=bank_agent, body="会后补充").session is None


def test_a_muted_person_cannot_write_until_unmuted(mediating_case: Case, consumer: User, mediator: User) -> None:
    session = opened(mediating_case, mediator)
    check_in(session, consumer)
    joint = services.joint_room(mediating_case)
    caucus = services.caucus_of(mediating_case, services.consumer_side(consumer))

    opening.set_muted(mediating_case, mediator=mediator, target=consumer.pk, muted=True)

    assert refused(services.post_message, joint, author=consumer, body="我要说").code == "muted"
    assert refused(services.post_message, caucus, author=consumer, body="我要说").code == "muted"
    assert joint.messages.order_by("-seq").first().body == "张三 已被调解员禁言"  # type: ignore[union-attr]
    assert actions(mediating_case)[-1] == "sessions.attendance.muted"
    opening.set_muted(mediating_case, mediator=mediator, target=consumer.pk, muted=False)
    assert services.post_message(joint, author=consumer, body="我要说").body == "我要说"


def test_offers_are_said_in_the_joint_room_and_follow_its_rules(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = opened(mediating_case, mediator)
    terms = {"amount": "1000.00", "instalments": [], "waivers": [], "other_terms": ""}
    # Not checked in: no offer, and nothing is stored or announced.
    before = Message.objects.filter(room__case=mediating_case).count()
    assert refused(negotiation.propose, mediating_case, user=bank_agent, terms=terms).code == "check_in_required"
    check_in(session, bank_agent)
    check_in(session, consumer)
    offer = negotiation.propose(mediating_case, user=bank_agent, terms=terms)
    # Muted: cannot answer it (nor withdraw or counter) until unmuted.
    opening.set_muted(mediating_case, mediator=mediator, target=consumer.pk, muted=True)
    assert refused(negotiation.answer, offer, user=consumer, accept=True).code == "muted"
    offer.refresh_from_db()
    assert offer.state == Offer.State.OPEN
    opening.set_muted(mediating_case, mediator=mediator, target=consumer.pk, muted=False)
    assert negotiation.answer(offer, user=consumer, accept=True).state == Offer.State.ACCEPTED
    assert Offer.objects.filter(case=mediating_case).count() == 1
    assert Message.objects.filter(room__case=mediating_case).count() > before


def test_a_party_in_its_caucus_writes_there_but_not_in_the_joint_room(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = opened(mediating_case, mediator)
    check_in(session, consumer)
    joint = services.joint_room(mediating_case)
    caucus = services.caucus_of(mediating_case, services.consumer_side(consumer))

    opening.move(mediating_case, mediator=mediator, target=consumer.pk, to="caucus")

    assert refused(services.post_message, joint, author=consumer, body="x").code == "in_caucus"
    assert services.post_message(caucus, author=consumer, body="底线是三千").room_id == caucus.pk
    assert [m.body for m in joint.messages.filter(kind=Message.Kind.SYSTEM)][-1] == "张三 被调解员请入单方会谈室"
    assert [m.body for m in caucus.messages.filter(kind=Message.Kind.SYSTEM)] == ["张三 进入单方会谈室"]
    opening.move(mediating_case, mediator=mediator, target=consumer.pk, to="joint")
    assert services.post_message(joint, author=consumer, body="回来了").room_id == joint.pk
    assert actions(mediating_case)[-2:] == ["sessions.attendance.moved", "sessions.attendance.moved"]


def test_order_controls_refuse_bad_requests_and_change_nothing(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User, other_consumer: User
) -> None:
    assert refused(opening.set_muted, mediating_case, mediator=mediator, target=consumer.pk, muted=True).code == (
        "no_open_session"
    )
    session = opened(mediating_case, mediator)
    check_in(session, consumer)
    before = actions(mediating_case)
    cases = [
        (opening.set_muted, {"mediator": consumer, "target": bank_agent.pk, "muted": True}, "not_mediator"),
        (opening.move, {"mediator": bank_agent, "target": consumer.pk, "to": "caucus"}, "not_mediator"),
        (opening.set_muted, {"mediator": mediator, "target": "1", "muted": True}, "invalid_user"),
        (opening.set_muted, {"mediator": mediator, "target": mediator.pk, "muted": True}, "invalid_user"),
        (opening.set_muted, {"mediator": mediator, "target": other_consumer.pk, "muted": True}, "not_attending"),
        (opening.move, {"mediator": mediator, "target": consumer.pk, "to": "lobby"}, "invalid_to"),
    ]
    for call, arguments, code in cases:
        assert refused(call, mediating_case, **arguments).code == code
    assert actions(mediating_case) == before
    attendance = Attendance.objects.get(user=consumer)
    assert attendance.muted_at is None and not attendance.in_caucus


# --- over websockets -----------------------------------------------------------------------------


async def test_writing_over_the_socket_during_a_sitting_needs_a_check_in(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    socket = await connection(consumer, rooms["joint"])
    assert (await socket.open())[0]
    await socket.hello()

    await socket.send({"type": "send", "body": "我先说", "client_id": "c-1"})
    error = (await socket.until("error"))[-1]
    assert error["code"] == "check_in_required" and error["check_in_url"] == f"/sessions/{session.pk}/check-in/"
    assert error["client_id"] == "c-1"

    await sync_to_async(check_in)(session, consumer)
    await socket.send({"type": "send", "body": "我先说", "client_id": "c-2"})
    assert (await socket.until("ack"))[-1]["seq"] >= 2
    await socket.close()


async def test_mediator_mutes_over_the_socket_and_the_person_is_told_and_refused(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    await sync_to_async(check_in)(session, consumer)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    party, chair = await connection(consumer, rooms["joint"]), await connection(mediator, rooms["joint"])
    for socket in (party, chair):
        assert (await socket.open())[0]
        await socket.hello()

    await chair.send({"type": "mute", "user": consumer.pk})
    assert (await chair.until("done"))[-1] == {"type": "done", "action": "mute", "user": consumer.pk}
    muted = (await party.until("muted"))[-1]
    assert (muted["session"], muted["message"]) == (session.pk, "您已被调解员禁言，可以阅读但暂时不能发言。")
    await party.send({"type": "send", "body": "我不同意", "client_id": "c-1"})
    assert (await party.until("error"))[-1]["code"] == "muted"

    await chair.send({"type": "unmute", "user": consumer.pk})
    assert (await party.until("unmuted"))[-1]["type"] == "unmuted"
    await party.send({"type": "send", "body": "我不同意", "client_id": "c-2"})
    await party.until_seq((await party.until("ack"))[-1]["seq"])
    bodies = [f["body"] for f in party.log if f["type"] == "message"]
    assert bodies[-3:] == ["张三 已被调解员禁言", "张三 已被调解员解除禁言", "我不同意"]
    for socket in (party, chair):
        await socket.close()


async def test_parties_cannot_use_the_mediators_controls(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    await sync_to_async(check_in)(session, bank_agent)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    party = await connection(consumer, rooms["joint"])
    assert (await party.open())[0]
    await party.hello()

    for frame in (
        {"type": "mute", "user": bank_agent.pk},
        {"type": "unmute", "user": bank_agent.pk},
        {"type": "move", "user": bank_agent.pk, "to": "caucus"},
    ):
        await party.send(frame)
        assert (await party.until("error"))[-1]["code"] == "not_mediator"
    attendance = await sync_to_async(Attendance.objects.get)(user=bank_agent)
    assert attendance.muted_at is None and not attendance.in_caucus
    await party.close()


async def test_a_moved_party_is_told_where_to_go_and_cannot_write_in_the_joint_room(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    await sync_to_async(check_in)(session, consumer)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    caucus = rooms[f"consumer:{consumer.pk}"]
    party, chair = await connection(consumer, rooms["joint"]), await connection(mediator, rooms["joint"])
    for socket in (party, chair):
        assert (await socket.open())[0]
        await socket.hello()

    await chair.send({"type": "move", "user": consumer.pk, "to": "caucus"})
    await chair.until("done")
    moved = (await party.until("moved"))[-1]
    assert (moved["session"], moved["to"], moved["to_room"]) == (session.pk, "caucus", caucus.pk)
    await party.send({"type": "send", "body": "x", "client_id": "c-1"})
    assert (await party.until("error"))[-1]["code"] == "in_caucus"
    for socket in (party, chair):
        await socket.close()


async def test_closing_tells_every_connection_of_the_case(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    sockets = [
        await connection(consumer, rooms["joint"]),
        await connection(consumer, rooms[f"consumer:{consumer.pk}"]),
        await connection(bank_agent, rooms["institution"]),
        await connection(mediator, rooms["joint"]),
    ]
    for socket in sockets:
        assert (await socket.open())[0]
        await socket.hello()

    await sync_to_async(opening.close_sitting)(session, mediator=mediator)

    for socket in sockets:
        frame = (await socket.until("session_closed"))[-1]
        assert (frame["session"], frame["number"]) == (session.pk, 1) and "已结束" in frame["message"]
        await socket.close()


async def test_connecting_and_leaving_during_a_sitting_record_attendance_times(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    session = await sync_to_async(opened)(mediating_case, mediator)
    await sync_to_async(check_in)(session, consumer)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    first = await connection(consumer, rooms["joint"])
    second = await connection(consumer, rooms[f"consumer:{consumer.pk}"])
    bank = await connection(bank_agent, rooms["joint"])  # connected but not checked in
    for socket in (first, second, bank):
        assert (await socket.open())[0]

    attendance = await sync_to_async(Attendance.objects.get)(user=consumer)
    assert attendance.joined_at is not None and attendance.left_at is None
    await first.close()
    await sync_to_async(attendance.refresh_from_db)()
    assert attendance.left_at is None  # still in the caucus
    await second.close()
    await sync_to_async(attendance.refresh_from_db)()
    assert attendance.left_at is not None and attendance.left_at >= attendance.joined_at
    assert not await sync_to_async(Attendance.objects.filter(user=bank_agent).exists)()
    await bank.close()
    # The joint room says who joined and left the sitting: once each, not per tab; nothing for
    # someone connected without checking in.
    events = await sync_to_async(
        lambda: [
            (m.body, m.event.get("event"))
            for m in Message.objects.filter(room=rooms["joint"], kind=Message.Kind.SYSTEM).order_by("seq")
            if m.event.get("event") in ("joined", "left")
        ]
    )()
    assert events == [("张三 进入调解", "joined"), ("张三 离开调解", "left")]


async def test_an_outsider_is_refused_on_the_socket_during_a_sitting(
    mediating_case: Case, mediator: User, outsider: User
) -> None:
    await sync_to_async(opened)(mediating_case, mediator)
    rooms = await sync_to_async(rooms_of)(mediating_case)
    for room in rooms.values():
        assert await (await connection(outsider, room)).open() == (False, 4403)
    assert await sync_to_async(Room.objects.filter(case=mediating_case).count)() == len(rooms)

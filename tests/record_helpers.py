"""A sitting held in the rooms, made directly (check-in and opening are another module's business)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from mediation.models import Case, User
from sessions import services
from sessions.models import Attendance, MediationSession, Message, Room

JOINT_CONSUMER = "我于2026年3月办理信用卡分期，银行未告知手续费率。"
JOINT_BANK = "我行确认已收取分期手续费一千二百元。"
CAUCUS_CONSUMER = "私下说，我最低可以接受退还八百元。"
CAUCUS_BANK = "行方内部授权上限为一千元整。"
RELEASED = "我愿意接受分两期退还。"


@dataclass
class Sitting:
    session: MediationSession
    joint: Room
    consumer_caucus: Room
    institution_caucus: Room
    joint_consumer: Message
    joint_bank: Message
    caucus_consumer: Message
    caucus_bank: Message
    released_copy: Message  # the consumer's caucus statement released to the joint room
    system: Message


def attend(session: MediationSession, user: User, role: str, start: datetime.datetime) -> Attendance:
    return Attendance.objects.create(
        session=session,
        user=user,
        role=role,
        identity_method="sms",
        identity_verified_at=start + datetime.timedelta(minutes=1),
        warning_acknowledged_at=start + datetime.timedelta(minutes=2),
        joined_at=start + datetime.timedelta(minutes=3),
        left_at=start + datetime.timedelta(minutes=50),
    )


def held_sitting(case: Case, *, consumer: User, bank_agent: User, mediator: User, number: int = 1) -> Sitting:
    """Sitting ``number`` of ``case``: everyone checked in, statements in the joint room and in both
    caucuses, one caucus statement released by its author; closed afterwards."""
    start = timezone.now() - datetime.timedelta(hours=1)
    session = MediationSession.objects.create(
        case=case,
        number=number,
        state=MediationSession.State.OPEN,
        scheduled_start=start,
        scheduled_end=start + datetime.timedelta(hours=1),
        opened_at=start,
        recording_consent=True,
        created_by=mediator,
    )
    attend(session, consumer, Attendance.Role.CONSUMER, start)
    attend(session, bank_agent, Attendance.Role.INSTITUTION, start)
    attend(session, mediator, Attendance.Role.MEDIATOR, start)
    rooms = {room.side: room for room in services.rooms_for_case(case)}
    joint, mine, theirs = rooms[""], rooms[f"consumer:{consumer.pk}"], rooms["institution"]
    joint_consumer = services.post_message(joint, author=consumer, body=JOINT_CONSUMER)
    joint_bank = services.post_message(joint, author=bank_agent, body=JOINT_BANK)
    caucus_consumer = services.post_message(mine, author=consumer, body=CAUCUS_CONSUMER)
    caucus_bank = services.post_message(theirs, author=bank_agent, body=CAUCUS_BANK)
    to_release = services.post_message(mine, author=consumer, body=RELEASED)
    released_copy = services.release(to_release, user=consumer)
    system = services.post_system(joint, body="张三进入调解室", event={"type": "joined"})
    close(session)
    return Sitting(
        session, joint, mine, theirs, joint_consumer, joint_bank, caucus_consumer, caucus_bank, released_copy, system
    )


def close(session: MediationSession) -> MediationSession:
    session.state = MediationSession.State.CLOSED
    session.closed_at = timezone.now()
    session.save(update_fields=["state", "closed_at"])
    return session

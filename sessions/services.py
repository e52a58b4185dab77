"""Rooms and messages: who may read and write where, and gap-free numbering.

Every write re-checks permission against the case as it is now, so a mediator removed by recusal
or a party removed from the case cannot write a moment later. A message gets its number under a
lock on its room's row (``last_seq + 1``, backed by the unique ``(room, seq)``), so the numbers
in a room are 1, 2, 3, … with no gap and no duplicate, on SQLite and on PostgreSQL alike. Side
effects (the broadcast) run only after the transaction commits, carrying that number.

在线调解规则 Art 18: a caucus holds one side and the mediators. Its messages go nowhere else
unless their author releases them, which posts a copy into the joint room.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.core import ObjectPermissionChecker

from mediation import ledger, permissions
from mediation.models import Case, CaseParticipant, User
from mediation.services import CaseError
from sessions.models import Attendance, MediationSession, Message, Presence, Room

Kind = Room.Kind
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
Broadcast = Callable[[Message], None]
_broadcasters: list[Broadcast] = []


class RoomError(CaseError):
    """Refused; ``code`` is stable (websocket error frames and API bodies carry it)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra  # more fields for the error frame (e.g. check_in_url)


def message_max_chars() -> int:
    return int(settings.SESSION_MESSAGE_MAX_CHARS)


def register_broadcaster(broadcast: Broadcast) -> None:
    """Called with every message after its transaction commits (the real-time layer plugs in here)."""
    if broadcast not in _broadcasters:
        _broadcasters.append(broadcast)


def consumer_side(user: User) -> str:
    return f"consumer:{user.pk}"


def rooms_for_case(case: Case) -> list[Room]:
    """The joint room and a caucus for each consumer and for the institution, created on first use."""
    sides = [(Kind.JOINT, Room.JOINT_SIDE)]
    consumers = case.participants.filter(capacity=CaseParticipant.Capacity.CONSUMER).order_by("user_id")
    sides += [(Kind.CAUCUS, f"consumer:{user_id}") for user_id in consumers.values_list("user_id", flat=True)]
    sides.append((Kind.CAUCUS, Room.INSTITUTION_SIDE))
    return [Room.objects.get_or_create(case=case, kind=kind, side=side)[0] for kind, side in sides]


def open_session(case: Case) -> MediationSession | None:
    """The case's session in progress, if any: messages posted meanwhile belong to it."""
    return MediationSession.objects.filter(case=case, state=MediationSession.State.OPEN).order_by("-number").first()


def joint_room(case: Case) -> Room:
    return Room.objects.get_or_create(case=case, kind=Kind.JOINT, side=Room.JOINT_SIDE)[0]


def caucus_of(case: Case, side: str) -> Room:
    return Room.objects.get_or_create(case=case, kind=Kind.CAUCUS, side=side)[0]


MEDIATOR, CONSUMER, INSTITUTION = "mediator", "consumer", "institution"


def case_role(user: User, case: Case) -> str | None:
    """Who ``user`` takes part in ``case``'s sittings and rooms as: ``mediator``, ``consumer`` or
    ``institution`` — or None (centre staff, outsiders, the inactive).

    The one answer rooms, sittings, offers and the record share. Asked on every write, so one
    guardian checker reads the user's permissions on the case once for both questions. Object
    permissions only: Django's model backend grants none on an object.
    """
    if not user.is_authenticated or not user.is_active:
        return None
    checker = ObjectPermissionChecker(user)
    if checker.has_perm(permissions.MEDIATE, case):
        return MEDIATOR
    if case.participants.filter(
        user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
    ).exists():
        return CONSUMER
    if checker.has_perm(permissions.ANSWER, case):
        return INSTITUTION
    return None


def side_of(user: User, role: str | None) -> str | None:
    """The caucus a party with ``role`` belongs to (None for mediators and non-participants)."""
    if role == CONSUMER:
        return consumer_side(user)
    if role == INSTITUTION:
        return Room.INSTITUTION_SIDE
    return None


def may_enter(user: User, room: Room) -> bool:
    """The joint room: both sides and the mediators; a caucus: that side and the mediators."""
    role = case_role(user, room.case)
    if role == MEDIATOR:
        return True
    if room.kind == Kind.JOINT:
        return role is not None
    return room.side == side_of(user, role)


def rooms_for_user(user: User, case: Case) -> list[Room]:
    return [room for room in rooms_for_case(case) if may_enter(user, room)]


def room_for_user(user: User, pk: int | str) -> Room:
    """The one door to a room: returns it, or raises :class:`RoomError` ``not_found`` (a 404 /
    a 4403 refusal) for anyone who may not enter — an outsider learns nothing."""
    try:
        room = Room.objects.select_related("case").get(pk=pk)
    except (Room.DoesNotExist, ValueError):
        raise RoomError("not_found", _("找不到该调解室。")) from None
    if not may_enter(user, room):
        raise RoomError("not_found", _("找不到该调解室。"))
    return room


def _clean_body(body: Any) -> str:
    if not isinstance(body, str):
        raise RoomError("invalid_body", _("消息内容必须是文字。"), field="body")
    text = body.strip()
    if not text:
        raise RoomError("empty_body", _("消息内容不能为空。"), field="body")
    limit = message_max_chars()
    if len(text) > limit:
        raise RoomError(
            "too_long",
            _("消息过长：最多 %(limit)d 字，当前 %(length)d 字。") % {"limit": limit, "length": len(text)},
            field="body",
        )
    return text


_LOOK_UP = object()


def _append(
    room: Room,
    *,
    author: User | None,
    body: str,
    kind: str,
    event: dict[str, Any] | None = None,
    client_id: str = "",
    session: MediationSession | None | object = _LOOK_UP,
    locked: bool = False,
) -> Message:
    """Number and store one message; must run inside a transaction. ``session`` is the case's
    open sitting when the caller has already looked it up; ``locked`` says the caller read
    ``room`` with ``select_for_update`` in this transaction."""
    if not locked:
        room = Room.objects.select_for_update().select_related("case").get(pk=room.pk)
    room.last_seq += 1
    room.save(update_fields=["last_seq"])
    message = Message.objects.create(
        room=room,
        seq=room.last_seq,
        kind=kind,
        author=author,
        body=body,
        event=event or {},
        client_id=client_id,
        session=open_session(room.case) if session is _LOOK_UP else cast(MediationSession | None, session),
    )
    for broadcast in list(_broadcasters):
        transaction.on_commit(lambda b=broadcast, m=message: b(m), robust=True)  # type: ignore[misc]
    return message


def _clean_client_id(client_id: Any) -> str:
    if client_id is None or client_id == "":
        return ""
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise RoomError(
            "invalid_client_id", _("client_id 须为 1 至 64 位字母、数字、下划线或连字符。"), field="client_id"
        )
    return client_id


def post_message(room: Room, *, author: User, body: Any, client_id: Any = "") -> Message:
    """A participant's text message; permission re-checked against the case as it is now.

    With a ``client_id``, sending again (after a reconnect, say) returns the message already
    stored under it instead of storing a second copy.
    """
    text = _clean_body(body)
    client_id = _clean_client_id(client_id)
    with transaction.atomic():
        # Locked before the checks: the numbering needs the lock anyway, and one read serves both.
        room = Room.objects.select_for_update().select_related("case").get(pk=room.pk)
        session = require_may_write(room, author)
        if client_id:
            sent = Message.objects.filter(room=room, author=author, client_id=client_id).first()
            if sent is not None:
                return sent
        return _append(
            room, author=author, body=text, kind=Message.Kind.TEXT, client_id=client_id, session=session, locked=True
        )


# --- while a sitting is open (sessions/opening.py opens and runs it) ------------------------------


def require_may_write(room: Room, author: User) -> MediationSession | None:
    """Every write into a room (text, file, offer) re-checks, against the case as it is now, that
    its author may still enter the room and that the sitting, if one is open, lets them speak.
    Returns that open sitting (or None)."""
    if not may_enter(author, room):
        raise RoomError("forbidden", _("您已无权在该调解室发言。"))
    return check_sitting_allows_writing(room, author)


def check_sitting_allows_writing(room: Room, author: User) -> MediationSession | None:
    """During an open sitting only checked-in people write, the muted do not, and a party the
    mediator put in its caucus does not write in the joint room. Between sittings the rooms stay
    asynchronous: anyone who may enter may write.

    在线调解规则 Art 17 / 在线诉讼规则 Art 7: identity re-checked and the warning acknowledged first.
    """
    session = open_session(room.case)
    if session is None:
        return None
    attendance = Attendance.objects.filter(session=session, user=author).first()
    if attendance is None or not attendance.checked_in:
        url = reverse("sessions:check_in", kwargs={"session_pk": session.pk})
        raise RoomError(
            "check_in_required",
            _("第 %(number)d 场调解正在进行：请先到签到页面（%(url)s）核验身份并确认风险提示，再发言。")
            % {"number": session.number, "url": url},
            check_in_url=url,
        )
    if attendance.muted_at is not None:
        raise RoomError("muted", _("您已被调解员禁言，暂时不能发言。"))
    if attendance.in_caucus and room.kind == Kind.JOINT:
        raise RoomError("in_caucus", _("调解员已请您进入单方会谈室，暂时不能在联合调解室发言。"))
    return session


def post_system(room: Room, *, body: str, event: dict[str, Any]) -> Message:
    """A system event (joined, left, moved to a caucus, …) in the room's own numbering."""
    with transaction.atomic():
        return _append(room, author=None, body=body, kind=Message.Kind.SYSTEM, event=event)


def messages_after(room: Room, after: int = 0, *, limit: int = 500) -> QuerySet[Message]:
    """The messages numbered above ``after``, in order: what a reconnecting client missed."""
    return room.messages.filter(seq__gt=max(0, after)).order_by("seq").select_related("author", "attachment")[:limit]


def release(message: Message, *, user: User, ip: str | None = None) -> Message:
    """在线调解规则 Art 18: the author of a caucus message releases it to the joint room."""
    with transaction.atomic():
        message = Message.objects.select_for_update().select_related("room__case").get(pk=message.pk)
        room = message.room
        if not may_enter(user, room) or message.author_id != user.pk:
            raise RoomError("not_author", _("只有发言人本人可以公开自己在单方会谈中的发言。"))
        if not room.is_caucus:
            raise RoomError("not_caucus", _("该发言已在联合调解室中，无需公开。"))
        if message.released_at is not None:
            return message.released_copy
        joint = joint_room(room.case)
        if not may_enter(user, joint):
            raise RoomError("forbidden", _("您已无权在该调解室发言。"))
        check_sitting_allows_writing(room, user)
        message.released_at = timezone.now()
        message.save(update_fields=["released_at"])
        copy = _append(joint, author=user, body=message.body, kind=message.kind)
        copy.released_from = message
        copy.save(update_fields=["released_from"])
        if message.kind == Message.Kind.FILE:
            from sessions.attachments import copy_to  # attachments builds on this module

            copy_to(message, copy)
        ledger.record(
            "sessions.caucus.released",
            actor=user,
            case=room.case,
            ip=ip,
            data={"room": room.pk, "seq": message.seq, "joint_seq": copy.seq},
        )
        return copy


# --- presence ------------------------------------------------------------------------------------


def join(room: Room, *, user: User, channel_name: str) -> None:
    Presence.objects.update_or_create(
        channel_name=channel_name, defaults={"room": room, "user": user, "seen_at": timezone.now()}
    )


def touch(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def leave(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).delete()


def present(room: Room) -> list[User]:
    """Who is in the room now: an open connection seen within ``SESSION_PRESENCE_SECONDS``."""
    since = timezone.now() - datetime.timedelta(seconds=settings.SESSION_PRESENCE_SECONDS)
    ids = Presence.objects.filter(room=room, seen_at__gte=since).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=set(ids)).order_by("pk"))

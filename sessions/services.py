"""Rooms and messages: who may read and write where, and gap-free numbering.

Every write re-checks permission against the case as it is now, so a mediator removed by recusal
or a party removed from the case cannot write a moment later. A message gets its number under a
lock on its room's row (``last_seq + 1``, backed by the unique ``(room, seq)``), so the numbers
in a room are 1, 2, 3, … with no gap and no duplicate, on SQLite and on PostgreSQL alike. Side
effects (the broadcast) run only after the transaction commits, carrying that number.

A chat message is the hot path: the check is one precompiled query (:func:`standing`), the number
one ``UPDATE … RETURNING``, the row one prepared ``INSERT`` — three statements, none of them
compiled by the ORM on the way (``mediation.compiled``; README, Figures).

在线调解规则 Art 18: a caucus holds one side and the mediators. Its messages go nowhere else
unless their author releases them, which posts a copy into the joint room.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import compiled, ledger, permissions
from mediation.compiled import CompiledQuery
from mediation.models import Case, CaseGroupObjectPermission, CaseParticipant, CaseUserObjectPermission, User
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


def _role_columns(case: Any, user: Any) -> dict[str, Subquery]:
    """What decides a person's role on a case, as SQL: the account's state, guardian's object
    permissions held directly or through a group (the tables ``has_perm`` reads), and an active
    consumer participation. ``case`` and ``user`` are the expressions or values to compare with."""

    memberships = User.groups.through.objects.filter(user=user).values("group_id")

    def holds(perm: str) -> list[Exists]:
        # These tables hold the case's permissions only (guardian stores the content type's own),
        # so the codename names the permission.
        granted = {"content_object": case, "permission__codename": perm.split(".", 1)[1]}
        return [
            Exists(CaseUserObjectPermission.objects.filter(user=user, **granted)),
            Exists(CaseGroupObjectPermission.objects.filter(group__in=memberships, **granted)),
        ]

    mediate_own, mediate_group = holds(permissions.MEDIATE)
    answer_own, answer_group = holds(permissions.ANSWER)
    return {
        # NULL: no such account or an inactive one; otherwise whether it is a superuser.
        "role_superuser": Subquery(User.objects.filter(pk=user, is_active=True).values("is_superuser")[:1]),
        "role_mediate_own": mediate_own,
        "role_mediate_group": mediate_group,
        "role_consumer": Exists(
            CaseParticipant.objects.filter(
                case=case, user=user, capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
            )
        ),
        "role_answer_own": answer_own,
        "role_answer_group": answer_group,
    }


# In the order _role reads them (values_list fails at once on a name _role_columns lacks).
ROLE_COLUMNS = (
    "role_superuser",
    "role_mediate_own",
    "role_mediate_group",
    "role_consumer",
    "role_answer_own",
    "role_answer_group",
)


def _role(row: tuple[Any, ...]) -> str | None:
    """The role the :func:`_role_columns` answers give; guardian's order of questions (inactive:
    nothing; superuser: every permission)."""
    superuser, mediate_own, mediate_group, consumer, answer_own, answer_group = row
    if superuser is None:  # inactive
        return None
    if superuser or mediate_own or mediate_group:
        return MEDIATOR
    if consumer:
        return CONSUMER
    if answer_own or answer_group:
        return INSTITUTION
    return None


def _case_role_query(p: SimpleNamespace) -> QuerySet[Case]:
    columns = _role_columns(OuterRef("pk"), p.user)
    return Case.objects.filter(pk=p.case).order_by().annotate(**columns).values_list(*ROLE_COLUMNS)


_CASE_ROLE = CompiledQuery(_case_role_query, ints=("case", "user"))


def case_role(user: User, case: Case) -> str | None:
    """Who ``user`` takes part in ``case``'s sittings and rooms as: ``mediator``, ``consumer`` or
    ``institution`` — or None (centre staff, outsiders, the inactive).

    The one answer rooms, sittings, offers and the record share. Asked on every write, so it is
    one precompiled query reading the account and the case's permission rows as they are now.
    Object permissions only: Django's model backend grants none on an object.
    """
    if not user.is_authenticated:
        return None
    row = _CASE_ROLE.fetchone(case=case.pk, user=user.pk)
    return None if row is None else _role(row)


def mediates(user: User, case: Case) -> bool:
    """Whether ``user`` mediates ``case`` now (the sittings' and the record's mediator actions)."""
    return case_role(user, case) == MEDIATOR


def side_of(user: User, role: str | None) -> str | None:
    """The caucus a party with ``role`` belongs to (None for mediators and non-participants)."""
    if role == CONSUMER:
        return consumer_side(user)
    if role == INSTITUTION:
        return Room.INSTITUTION_SIDE
    return None


def may_enter(user: User, room: Room) -> bool:
    """The joint room: both sides and the mediators; a caucus: that side and the mediators."""
    return _admits(user, case_role(user, room.case), kind=room.kind, side=room.side)


def _admits(user: User, role: str | None, *, kind: str, side: str) -> bool:
    if role == MEDIATOR:
        return True
    if kind == Kind.JOINT:
        return role is not None
    return side == side_of(user, role)


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


@functools.cache
def _numbering_sql(vendor: str) -> str:
    """``UPDATE … RETURNING``: raises a room's ``last_seq`` by one and returns it. The UPDATE takes
    the row's write lock until the transaction ends, so concurrent writers number one after
    another."""
    quote = connection.ops.quote_name  # built once per database kind: it runs for every message
    table, column, pk = (quote(name) for name in (Room._meta.db_table, "last_seq", Room._meta.pk.column))
    # Names from the model's metadata, quoted by the backend; the room is a parameter.
    return f"UPDATE {table} SET {column} = {column} + 1 WHERE {pk} = %s RETURNING {column}"  # noqa: S608


def _store(room: Room, message: Message) -> None:
    """Number ``message`` in ``room`` and insert it."""
    if connection.vendor == "postgresql":
        # One statement: the numbering in a WITH clause, the row reading its number. A statement
        # is atomic on its own, so post_message needs no transaction around it (two round trips
        # fewer, BEGIN and COMMIT).
        numbered = f"WITH numbered AS ({_numbering_sql(connection.vendor)})"
        compiled.insert(
            message, with_sql=numbered, with_params=[room.pk], computed={"seq": "(SELECT last_seq FROM numbered)"}
        )
        room.last_seq = message.seq
        return
    with connection.cursor() as cursor:
        cursor.execute(_numbering_sql(connection.vendor), [room.pk])
        row = cursor.fetchone()
    if row is None:
        raise RoomError("not_found", _("找不到该调解室。"))
    room.last_seq = message.seq = row[0]
    compiled.insert(message)


def _append(
    room: Room,
    *,
    author: User | None,
    body: str,
    kind: str,
    event: dict[str, Any] | None = None,
    client_id: str = "",
    sitting: int | None | object = _LOOK_UP,
    announce: bool = True,
) -> Message:
    """Number and store one message, inside the caller's transaction (post_message's on
    PostgreSQL may be the one statement). ``sitting`` is the id of the case's open sitting when
    the caller has already looked it up. With ``announce`` the registered broadcasters get the
    message after commit; without, the caller broadcasts it."""
    if sitting is _LOOK_UP:
        sitting = (
            MediationSession.objects.filter(case_id=room.case_id, state=MediationSession.State.OPEN)
            .values_list("pk", flat=True)
            .first()
        )
    message = Message(
        room=room,
        kind=kind,
        author=author,
        body=body,
        event=event or {},
        client_id=client_id,
        session_id=cast(int | None, sitting),
        created_at=timezone.now(),
    )
    _store(room, message)
    if announce:
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


def post_message(room: Room, *, author: User, body: Any, client_id: Any = "", announce: bool = True) -> Message:
    """A participant's text message; permission re-checked against the case as it is now.

    With a ``client_id``, sending again (after a reconnect, say) returns the message already
    stored under it instead of storing a second copy. ``announce=False``: the caller (the room
    websocket) broadcasts the returned message itself, once this has returned (and committed).
    """
    text = _clean_body(body)
    client_id = _clean_client_id(client_id)
    sitting = require_may_write(room, author)
    # On PostgreSQL the numbering and the row are one statement (see _store): atomic by itself.
    one_statement = connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        with contextlib.nullcontext() if one_statement else transaction.atomic():
            return _append(
                room,
                author=author,
                body=text,
                kind=Message.Kind.TEXT,
                client_id=client_id,
                sitting=sitting,
                announce=announce,
            )
    except IntegrityError:
        # The unique (room, author, client_id) refused a second copy: the first one is the answer.
        sent = Message.objects.filter(room=room, author=author, client_id=client_id).first() if client_id else None
        if sent is None:
            raise
        return sent


# --- while a sitting is open (sessions/opening.py opens and runs it) ------------------------------


@dataclass(frozen=True)
class Standing:
    """Where a person stands in a room right now: the facts every write is checked against."""

    role: str | None
    kind: str
    side: str
    sitting: int | None  # the case's open sitting
    checked_in: bool  # at that sitting: identity re-verified and the warning acknowledged
    muted: bool
    in_caucus: bool


def _standing_query(p: SimpleNamespace) -> QuerySet[Room]:
    case = OuterRef("case_id")
    # order_by(): the models' default orderings would join the case table into every subquery.
    open_sitting = MediationSession.objects.filter(case=case, state=MediationSession.State.OPEN).order_by()
    attendance = Attendance.objects.filter(session__case=case, session__state=MediationSession.State.OPEN, user=p.user)
    return (
        Room.objects.filter(pk=p.room)
        .order_by()
        .annotate(
            **_role_columns(case, p.user),
            sitting=Subquery(open_sitting.values("pk")[:1]),
            checked_in=Exists(
                attendance.filter(identity_verified_at__isnull=False, warning_acknowledged_at__isnull=False)
            ),
            muted=Exists(attendance.filter(muted_at__isnull=False)),
            in_caucus=Exists(attendance.filter(in_caucus=True)),
        )
        .values_list("kind", "side", *ROLE_COLUMNS, "sitting", "checked_in", "muted", "in_caucus")
    )


_STANDING = CompiledQuery(_standing_query, ints=("room", "user"))


def standing(room: Room, user: User) -> Standing | None:
    """One query: the person's role on the room's case and their part in its open sitting."""
    row = _STANDING.fetchone(room=room.pk, user=user.pk) if user.is_authenticated else None
    if row is None:
        return None
    kind, side, *role, sitting, checked_in, muted, in_caucus = row
    return Standing(_role(tuple(role)), kind, side, sitting, bool(checked_in), bool(muted), bool(in_caucus))


def require_may_write(room: Room, author: User) -> int | None:
    """Every write into a room (text, file, offer) re-checks, against the case as it is now, that
    its author may still enter the room and that the sitting, if one is open, lets them speak.
    Returns that open sitting's id (or None). One query answers all of it."""
    found = standing(room, author)
    if found is None or not _admits(author, found.role, kind=found.kind, side=found.side):
        raise RoomError("forbidden", _("您已无权在该调解室发言。"))
    return _sitting_allows_writing(found)


def check_sitting_allows_writing(room: Room, author: User) -> int | None:
    """The open sitting's rules alone (for a caller that has checked entry its own way)."""
    found = standing(room, author)
    if found is None:
        raise RoomError("not_found", _("找不到该调解室。"))
    return _sitting_allows_writing(found)


def _sitting_allows_writing(found: Standing) -> int | None:
    """During an open sitting only checked-in people write, the muted do not, and a party the
    mediator put in its caucus does not write in the joint room. Between sittings the rooms stay
    asynchronous: anyone who may enter may write.

    在线调解规则 Art 17 / 在线诉讼规则 Art 7: identity re-checked and the warning acknowledged first.
    """
    if found.sitting is None:
        return None
    if not found.checked_in:
        url = reverse("sessions:check_in", kwargs={"session_pk": found.sitting})
        number = MediationSession.objects.values_list("number", flat=True).get(pk=found.sitting)
        raise RoomError(
            "check_in_required",
            _("第 %(number)d 场调解正在进行：请先到签到页面（%(url)s）核验身份并确认风险提示，再发言。")
            % {"number": number, "url": url},
            check_in_url=url,
        )
    if found.muted:
        raise RoomError("muted", _("您已被调解员禁言，暂时不能发言。"))
    if found.in_caucus and found.kind == Kind.JOINT:
        raise RoomError("in_caucus", _("调解员已请您进入单方会谈室，暂时不能在联合调解室发言。"))
    return found.sitting


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

"""Opening a sitting: each participant checks in, the mediator records the recording decision, opens,
keeps order (mute, caucus) and closes.

在线调解规则 Art 17 / 在线诉讼规则 Art 7: at every sitting each participant re-verifies identity (a
one-time code to their verified phone, e-mail when they have none) and acknowledges the warning
about sham mediation (虚假调解; 刑法 Art 307-1 虚假诉讼罪) before taking part. Art 22: recording only
with express consent — the mediator records the consent or the refusal, and must have done so before
the sitting opens, so that the mediation record always says which it was.

While a sitting is open, writing in the case's rooms needs a check-in (``services.post_message``
enforces it); between sittings the rooms stay asynchronous. Frames to connected clients go out only
after the transaction commits.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import ledger, otp, permissions
from mediation.models import Case, OneTimeCode, User
from sessions import services
from sessions.models import Attendance, MediationSession, Presence, Room
from sessions.services import RoomError

State = MediationSession.State
Role = Attendance.Role


def check_in_purpose(session: MediationSession) -> str:
    return f"session-check-in:{session.pk}"


def check_in_url(session: MediationSession) -> str:
    return reverse("sessions:check_in", kwargs={"session_pk": session.pk})


def session_for_user(user: User, pk: int | str) -> MediationSession:
    """The one door to a sitting: anyone who may see its case; :class:`RoomError` ``not_found`` otherwise."""
    try:
        session = MediationSession.objects.select_related("case", "case__institution").get(pk=pk)
    except (MediationSession.DoesNotExist, ValueError):
        raise RoomError("not_found", _("找不到该场调解。")) from None
    if not user.is_authenticated or not user.has_perm(permissions.VIEW, session.case):
        raise RoomError("not_found", _("找不到该场调解。"))
    return session


def _locked(session: MediationSession) -> MediationSession:
    return MediationSession.objects.select_for_update().select_related("case").get(pk=session.pk)


def _require_mediator(user: User, session: MediationSession) -> None:
    if not services.mediates(user, session.case):
        raise RoomError("not_mediator", _("只有本案调解员可以执行此操作。"))


# --- check-in ------------------------------------------------------------------------------------


def _require_check_in_possible(session: MediationSession, user: User) -> str:
    if session.state not in (State.SCHEDULED, State.OPEN):
        raise RoomError("session_finished", _("该场调解已结束或已取消，无需签到。"))
    role = services.case_role(user, session.case)
    if role is None:
        raise RoomError("not_participant", _("您不是本场调解的参加人，无需签到。"))
    return role


def send_check_in_code(session: MediationSession, *, user: User) -> OneTimeCode:
    """Send ``user`` a one-time code for checking in to ``session``."""
    _require_check_in_possible(session, user)
    try:
        return otp.send_code(
            user,
            purpose=check_in_purpose(session),
            action=_("第 %(number)d 场调解签到") % {"number": session.number},
        )
    except otp.CodeError as error:
        raise RoomError(error.code, error.message, field="code") from None


def check_in(
    session: MediationSession, *, user: User, code: str, acknowledged: bool, ip: str | None = None
) -> Attendance:
    """Identity re-checked with the code and the sham-mediation warning acknowledged: one Attendance.

    The code is checked outside this function's transaction, so a wrong try stays counted.
    """
    _require_check_in_possible(session, user)
    if not acknowledged:
        raise RoomError("warning_not_acknowledged", _("请阅读并确认虚假调解风险提示。"), field="acknowledged")
    try:
        record = otp.check_code(user, purpose=check_in_purpose(session), code=code)
    except otp.CodeError as error:
        raise RoomError(error.code, error.message, field="code") from None
    with transaction.atomic():
        session = _locked(session)
        role = _require_check_in_possible(session, user)
        now = timezone.now()
        attendance, _created = Attendance.objects.get_or_create(session=session, user=user, defaults={"role": role})
        attendance.role = role
        attendance.identity_method = record.channel
        attendance.identity_verified_at = now
        attendance.warning_acknowledged_at = now
        fields = ["role", "identity_method", "identity_verified_at", "warning_acknowledged_at"]
        if _created and session.mode == MediationSession.Mode.SEPARATE and role != Role.MEDIATOR:
            attendance.in_caucus = True  # 背对背: each side starts in its own caucus
            fields.append("in_caucus")
        if session.state == State.OPEN and _connected(user, session.case):
            attendance.joined_at = attendance.joined_at or now
            attendance.left_at = None
            fields += ["joined_at", "left_at"]
        attendance.save(update_fields=fields)
        ledger.record(
            "sessions.attendance.checked_in",
            actor=user,
            case=session.case,
            ip=ip,
            data={
                "session": session.pk,
                "number": session.number,
                "role": role,
                "identity_method": record.channel,
                "destination": record.destination,
                "warning_acknowledged": True,
            },
        )
    return attendance


# --- the mediator's decisions --------------------------------------------------------------------


def record_recording_consent(
    session: MediationSession, *, mediator: User, consent: bool, ip: str | None = None
) -> MediationSession:
    """在线调解规则 Art 22: the parties' consent to (or refusal of) recording, as the mediator records it."""
    _require_mediator(mediator, session)
    with transaction.atomic():
        session = _locked(session)
        if session.state not in (State.SCHEDULED, State.OPEN):
            raise RoomError("session_finished", _("该场调解已结束或已取消。"))
        session.recording_consent = consent
        session.save(update_fields=["recording_consent"])
        ledger.record(
            "sessions.session.recording_consent",
            actor=mediator,
            case=session.case,
            ip=ip,
            data={"session": session.pk, "number": session.number, "consent": consent},
        )
    return session


def open_sitting(session: MediationSession, *, mediator: User, ip: str | None = None) -> MediationSession:
    """Open a scheduled sitting: the mediator has checked in and recorded the recording decision."""
    _require_mediator(mediator, session)
    with transaction.atomic():
        session = _locked(session)
        if session.state != State.SCHEDULED:
            raise RoomError("not_scheduled", _("只有已安排的调解可以开始。"))
        mine = Attendance.objects.filter(session=session, user=mediator).first()
        if mine is None or not mine.checked_in:
            raise RoomError("check_in_required", _("请先完成本场签到（身份核验和风险提示确认），再开始调解。"))
        if session.recording_consent is None:
            raise RoomError("recording_undecided", _("请先记录当事人是否同意录音录像，再开始调解。"))
        if MediationSession.objects.filter(case=session.case, state=State.OPEN).exclude(pk=session.pk).exists():
            raise RoomError("already_open", _("本案已有一场调解正在进行，请先结束该场。"))
        now = timezone.now()
        session.state = State.OPEN
        session.opened_at = now
        try:
            with transaction.atomic():
                session.save(update_fields=["state", "opened_at"])
        except IntegrityError:  # a second sitting opened meanwhile: the constraint says no
            raise RoomError("already_open", _("本案已有一场调解正在进行，请先结束该场。")) from None
        # Those already connected when the sitting opens have joined it now.
        connected = set(Presence.objects.filter(room__case=session.case).values_list("user_id", flat=True))
        session.attendances.filter(user_id__in=connected, joined_at__isnull=True).exclude(
            identity_verified_at=None
        ).update(joined_at=now)
        ledger.record(
            "sessions.session.opened",
            actor=mediator,
            case=session.case,
            ip=ip,
            data={"session": session.pk, "number": session.number, "recording_consent": session.recording_consent},
        )
        services.post_system(
            services.joint_room(session.case),
            body=_("第 %(number)d 场调解开始。参加人须先签到方可发言。") % {"number": session.number},
            event={"event": "session_opened", "session": session.pk},
        )
    return session


def close_sitting(session: MediationSession, *, mediator: User, ip: str | None = None) -> MediationSession:
    """End the sitting: the rooms go back to asynchronous messages; every connection is told."""
    _require_mediator(mediator, session)
    with transaction.atomic():
        session = _locked(session)
        if session.state != State.OPEN:
            raise RoomError("not_open", _("该场调解未在进行中。"))
        now = timezone.now()
        session.state = State.CLOSED
        session.closed_at = now
        session.save(update_fields=["state", "closed_at"])
        session.attendances.filter(joined_at__isnull=False, left_at__isnull=True).update(left_at=now)
        ledger.record(
            "sessions.session.closed",
            actor=mediator,
            case=session.case,
            ip=ip,
            data={"session": session.pk, "number": session.number},
        )
        services.post_system(
            services.joint_room(session.case),
            body=_("第 %(number)d 场调解结束。") % {"number": session.number},
            event={"event": "session_closed", "session": session.pk},
        )
        case, number, pk = session.case, session.number, session.pk
        transaction.on_commit(lambda: _tell_case(case, {"type": "sitting.closed", "session": pk, "number": number}))
    return session


# --- keeping order during the sitting ------------------------------------------------------------


def _target_attendance(session: MediationSession, target: Any) -> Attendance:
    if not isinstance(target, int) or isinstance(target, bool):
        raise RoomError("invalid_user", _("user 必须是参加人的用户编号。"), field="user")
    attendance = Attendance.objects.select_for_update().select_related("user").filter(session=session, user_id=target)
    found = attendance.first()
    if found is None:
        raise RoomError("not_attending", _("该用户没有参加本场调解。"), field="user")
    if found.role == Role.MEDIATOR:
        raise RoomError("invalid_user", _("不能对调解员执行此操作。"), field="user")
    return found


def _open_for_order(session: MediationSession | None, mediator: User, case: Case) -> MediationSession:
    if not mediator.has_perm(permissions.MEDIATE, case):
        raise RoomError("not_mediator", _("只有本案调解员可以执行此操作。"))
    if session is None:
        raise RoomError("no_open_session", _("本案当前没有进行中的调解。"))
    return _locked(session)


def set_muted(case: Case, *, mediator: User, target: Any, muted: bool, ip: str | None = None) -> Attendance:
    """Mute or unmute a participant of the open sitting: they still read, but cannot write."""
    with transaction.atomic():
        session = _open_for_order(services.open_session(case), mediator, case)
        attendance = _target_attendance(session, target)
        if (attendance.muted_at is not None) == muted:
            return attendance
        attendance.muted_at = timezone.now() if muted else None
        attendance.save(update_fields=["muted_at"])
        name = attendance.user.display_name
        ledger.record(
            "sessions.attendance.muted" if muted else "sessions.attendance.unmuted",
            actor=mediator,
            case=case,
            ip=ip,
            data={"session": session.pk, "user": attendance.user_id},
        )
        body = _("%(name)s 已被调解员禁言") if muted else _("%(name)s 已被调解员解除禁言")
        services.post_system(
            services.joint_room(case),
            body=body % {"name": name},
            event={"event": "muted" if muted else "unmuted", "user": attendance.user_id},
        )
        frame = {"type": "sitting.muted" if muted else "sitting.unmuted", "session": session.pk}
        user_id = attendance.user_id
        transaction.on_commit(lambda: _tell_user(user_id, case, frame))
    return attendance


def caucus_for(attendance: Attendance, case: Case) -> Room:
    """The private caucus of the side ``attendance``'s person belongs to."""
    if attendance.role == Role.CONSUMER:
        return services.caucus_of(case, services.consumer_side(attendance.user))
    return services.caucus_of(case, Room.INSTITUTION_SIDE)


def move(case: Case, *, mediator: User, target: Any, to: Any, ip: str | None = None) -> Attendance:
    """Put a party in their caucus (they cannot write in the joint room meanwhile) or back in the joint room."""
    with transaction.atomic():
        session = _open_for_order(services.open_session(case), mediator, case)
        if to not in ("caucus", "joint"):
            raise RoomError("invalid_to", _("to 必须是 caucus 或 joint。"), field="to")
        attendance = _target_attendance(session, target)
        joint, caucus = services.joint_room(case), caucus_for(attendance, case)
        into_caucus = to == "caucus"
        destination = caucus if into_caucus else joint
        if attendance.in_caucus == into_caucus:
            return attendance
        attendance.in_caucus = into_caucus
        attendance.save(update_fields=["in_caucus"])
        name = {"name": attendance.user.display_name}
        event = {"event": "moved", "user": attendance.user_id, "to": to}
        ledger.record(
            "sessions.attendance.moved",
            actor=mediator,
            case=case,
            ip=ip,
            data={"session": session.pk, "user": attendance.user_id, "to": to, "room": destination.pk},
        )
        if into_caucus:
            services.post_system(joint, body=_("%(name)s 被调解员请入单方会谈室") % name, event=event)
            services.post_system(caucus, body=_("%(name)s 进入单方会谈室") % name, event=event)
        else:
            services.post_system(caucus, body=_("%(name)s 被调解员请回联合调解室") % name, event=event)
            services.post_system(joint, body=_("%(name)s 回到联合调解室") % name, event=event)
        frame = {"type": "sitting.moved", "session": session.pk, "to": to, "to_room": destination.pk}
        user_id = attendance.user_id
        transaction.on_commit(lambda: _tell_user(user_id, case, frame))
    return attendance


# --- connections ---------------------------------------------------------------------------------


def _connected(user: User, case: Case) -> bool:
    return Presence.objects.filter(user=user, room__case=case).exists()


def connection_opened(room: Room, *, user: User) -> None:
    """A checked-in person connected to a room of the case while a sitting is open: they joined
    it, and the joint room says so (not again for a second tab or a reconnect while present)."""
    with transaction.atomic():
        session = services.open_session(room.case)
        if session is None:
            return
        attendance = Attendance.objects.select_for_update().filter(session=session, user=user).first()
        if attendance is None or not attendance.checked_in:
            return
        arriving = attendance.joined_at is None or attendance.left_at is not None
        if not arriving:
            return
        fields = ["left_at"]
        if attendance.joined_at is None:
            attendance.joined_at = timezone.now()
            fields.append("joined_at")
        attendance.left_at = None
        attendance.save(update_fields=fields)
        services.post_system(
            services.joint_room(room.case),
            body=_("%(name)s 进入调解") % {"name": user.display_name},
            event={"event": "joined", "user": user.pk, "session": session.number},
        )


def connection_closed(room: Room, *, user: User) -> None:
    """Their last connection to the case's rooms went away during the sitting: they left it (for
    now), and the joint room says so."""
    with transaction.atomic():
        session = services.open_session(room.case)
        if session is None or _connected(user, room.case):
            return
        left = Attendance.objects.filter(
            session=session, user=user, joined_at__isnull=False, left_at__isnull=True
        ).update(left_at=timezone.now())
        if left:
            services.post_system(
                services.joint_room(room.case),
                body=_("%(name)s 离开调解") % {"name": user.display_name},
                event={"event": "left", "user": user.pk, "session": session.number},
            )


def _tell_user(user_id: int, case: Case, event: dict[str, Any]) -> None:
    """After commit: the person's connections to ``case``'s rooms (others ignore it)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(f"user.{user_id}", {**event, "case": case.pk})


def _tell_case(case: Case, event: dict[str, Any]) -> None:
    """After commit: every connection to every room of ``case``."""
    layer = get_channel_layer()
    if layer is None:
        return
    for room_id in Room.objects.filter(case=case).values_list("pk", flat=True):
        async_to_sync(layer.group_send)(f"room.{room_id}", {**event, "case": case.pk})

"""The mediation record (调解笔录) of one sitting: drafted by the mediator, confirmed by the parties.

在线调解规则 Art 22: the mediator keeps an electronic record of the mediation; the undisputed facts
are confirmed by the parties online; recording only with express consent (the sitting's
``recording_consent``). Art 17 / 在线诉讼规则 Art 7: the record lists each participant's identity
re-check and acknowledgement of the sham-mediation warning, from their ``Attendance``.

Art 18: the parties' statements come from the sitting's joint room only. A caucus message can never
be selected (a copy its author released is a joint-room message and may be), and
``RecordStatement.save`` checks it again, whatever path writes the row.

Lifecycle: draft (the mediator edits) → finalised (the content is frozen as canonical JSON with its
SHA-256; nothing can be edited) → confirmed (every party confirmed that revision). A party may object
instead of confirming, which sends the record back to draft with the objection for the mediator;
finalising again makes a new revision that every party answers afresh. Confirming and objecting
re-authenticate with the login password; the ledger keeps who, when, from which address and browser.

When the last party confirms, ``record_confirmed`` is sent after the transaction commits: the signing
app renders the snapshot to PDF, seals it with the centre's seal and hands it back to
:func:`attach_sealed_pdf` (sessions may not import signing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.dispatch import Signal
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mediation import audience, ledger, permissions
from mediation.ledger import sm3_hex
from mediation.models import Case, User
from mediation.notifications import notify
from sessions import services
from sessions.models import (
    Attendance,
    MediationRecord,
    MediationSession,
    Message,
    RecordConfirmation,
    RecordStatement,
    Room,
)
from sessions.services import RoomError, consumer_side

FORMAT = "fengqiao.mediation_record/1"
FACTS_MAX_CHARS = 5000
OUTCOME_MAX_CHARS = 2000
OBJECTION_MAX_CHARS = 2000

# Sent after commit with ``record`` once every party has confirmed its current revision.
record_confirmed = Signal()


class RecordError(RoomError):
    """Refused; ``code`` is stable (tests and API bodies use it), ``field`` names the form field."""


# --- who -------------------------------------------------------------------------------------------


def session_for_user(user: User, pk: int | str) -> MediationSession:
    """The one door to a sitting and its record: anyone not on its case gets 404."""
    try:
        session = MediationSession.objects.select_related("case").get(pk=pk)
    except (MediationSession.DoesNotExist, ValueError):
        raise Http404 from None
    permissions.get_case_for_user(user, session.case_id)
    return session


def party_side(user: User, case: Case) -> str | None:
    """The side ``user`` answers for: ``consumer:<id>``, ``institution``, or None (not a party)."""
    return services.side_of(user, services.case_role(user, case))


def required_sides(case: Case) -> list[str]:
    """Every party must confirm: each consumer, and the institution (once, by any of its agents)."""
    consumers = sorted(audience.consumers(case), key=lambda person: person.pk)
    return [consumer_side(person) for person in consumers] + [Room.INSTITUTION_SIDE]


def side_label(side: str, case: Case) -> str:
    if side == Room.INSTITUTION_SIDE:
        return _("被投诉机构 %(name)s") % {"name": case.institution.name}
    person = User.objects.filter(pk=int(side.split(":", 1)[1])).first()
    return _("投诉人 %(name)s") % {"name": person.display_name if person else side}


def _require_mediator(user: User, case: Case) -> None:
    if not services.mediates(user, case):
        raise RecordError("not_mediator", _("只有本案的调解员可以制作调解笔录。"))


# --- the draft -------------------------------------------------------------------------------------


def record_of(session: MediationSession) -> MediationRecord | None:
    return MediationRecord.objects.filter(session=session).first()


def joint_statements(session: MediationSession) -> list[Message]:
    """What the mediator may pick from: text messages of the sitting in the case's joint room.

    Caucus messages are never among them (Art 18).
    """
    return list(
        Message.objects.filter(
            room__case=session.case,
            room__kind=Room.Kind.JOINT,
            session=session,
            kind=Message.Kind.TEXT,
            author__isnull=False,
        )
        .select_related("author", "room")
        .order_by("seq")
    )


def check_statement_message(record: MediationRecord, message: Message) -> None:
    """Raise :class:`RecordError` unless ``message`` is a statement in this sitting's joint room."""
    session = record.session
    room = message.room
    if room.case_id != session.case_id:
        raise RecordError("other_case", _("该发言不属于本案。"), field="statements")
    if room.kind != Room.Kind.JOINT:
        # 在线调解规则 Art 18: what a side says in its caucus stays there.
        raise RecordError(
            "caucus_message",
            _("单方会谈中的发言不能写入调解笔录（在线调解规则第十八条）；发言人本人公开到联合调解室后方可选用。"),
            field="statements",
        )
    if message.session_id != session.pk:
        raise RecordError("other_sitting", _("只能选用本场调解中在联合调解室的发言。"), field="statements")
    if message.kind != Message.Kind.TEXT or message.author_id is None:
        raise RecordError("not_a_statement", _("系统消息不是当事人的发言，不能选用。"), field="statements")


def _lock(session: MediationSession) -> tuple[MediationSession, MediationRecord | None]:
    session = MediationSession.objects.select_for_update().select_related("case").get(pk=session.pk)
    record = MediationRecord.objects.select_for_update().filter(session=session).first()
    return session, record


def _require_draft(record: MediationRecord | None) -> None:
    if record is not None and record.state != MediationRecord.State.DRAFT:
        raise RecordError("not_draft", _("调解笔录已定稿，不能再修改；当事人提出异议后方可修改。"))


def _clean_text(value: Any, *, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError("invalid_text", _("内容必须是文字。"), field=field)
    text = value.replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise RecordError(
            "too_long",
            _("不能超过 %(limit)s 个字（现有 %(count)s 个）。") % {"limit": limit, "count": len(text)},
            field=field,
        )
    return text


def _clean_outcome(value: Any) -> str:
    if value in (None, ""):
        return ""
    if value not in MediationRecord.Outcome.values:
        raise RecordError("invalid_outcome", _("请选择调解结果。"), field="outcome")
    return str(value)


def _get_or_start(session: MediationSession, record: MediationRecord | None, actor: User) -> MediationRecord:
    if record is not None:
        return record
    if session.state == MediationSession.State.CANCELLED:
        raise RecordError("cancelled", _("该场调解已取消，不制作调解笔录。"))
    record = MediationRecord.objects.create(session=session, drafted_by=actor, updated_at=timezone.now())
    ledger.record("sessions.record.drafted", actor=actor, case=session.case, data=_ids(record))
    return record


def _ids(record: MediationRecord) -> dict[str, Any]:
    return {"record": record.pk, "session": record.session_id, "sitting": record.session.number}


def save_draft(
    session: MediationSession,
    *,
    actor: User,
    undisputed_facts: Any,
    outcome: Any,
    outcome_text: Any,
    ip: str | None = None,
) -> MediationRecord:
    """Create or edit the draft (mediator only); refused once finalised."""
    facts = _clean_text(undisputed_facts, field="undisputed_facts", limit=FACTS_MAX_CHARS)
    kind = _clean_outcome(outcome)
    text = _clean_text(outcome_text, field="outcome_text", limit=OUTCOME_MAX_CHARS)
    with transaction.atomic():
        session, record = _lock(session)
        _require_mediator(actor, session.case)
        _require_draft(record)
        record = _get_or_start(session, record, actor)
        record.undisputed_facts, record.outcome, record.outcome_text = facts, kind, text
        record.updated_at = timezone.now()
        record.save(update_fields=["undisputed_facts", "outcome", "outcome_text", "updated_at"])
        ledger.record(
            "sessions.record.updated",
            actor=actor,
            case=session.case,
            ip=ip,
            data={**_ids(record), "outcome": kind, "facts_sha256": hashlib.sha256(facts.encode()).hexdigest()},
        )
    return record


def _message(session: MediationSession, message_id: Any) -> Message:
    try:
        return Message.objects.select_related("room").get(pk=int(message_id))
    except (Message.DoesNotExist, TypeError, ValueError):
        raise RecordError("unknown_message", _("找不到该发言。"), field="statements") from None


def select_statement(
    session: MediationSession, message: Message | int, *, actor: User, ip: str | None = None
) -> RecordStatement:
    """Put one joint-room statement of the sitting in the record (mediator only, draft only)."""
    with transaction.atomic():
        session, record = _lock(session)
        _require_mediator(actor, session.case)
        _require_draft(record)
        found = _message(session, message.pk if isinstance(message, Message) else message)
        record = _get_or_start(session, record, actor)
        check_statement_message(record, found)
        statement, created = RecordStatement.objects.get_or_create(
            record=record, message=found, defaults={"selected_by": actor}
        )
        if created:
            ledger.record(
                "sessions.record.statement_selected",
                actor=actor,
                case=session.case,
                ip=ip,
                data={**_ids(record), "message": found.pk, "seq": found.seq},
            )
    return statement


def unselect_statement(
    session: MediationSession, message: Message | int, *, actor: User, ip: str | None = None
) -> None:
    with transaction.atomic():
        session, record = _lock(session)
        _require_mediator(actor, session.case)
        _require_draft(record)
        message_id = message.pk if isinstance(message, Message) else message
        if record is None:
            return
        deleted, _rows = RecordStatement.objects.filter(record=record, message_id=message_id).delete()
        if deleted:
            ledger.record(
                "sessions.record.statement_unselected",
                actor=actor,
                case=session.case,
                ip=ip,
                data={**_ids(record), "message": message_id},
            )


def set_statements(
    session: MediationSession, message_ids: Iterable[Any], *, actor: User, ip: str | None = None
) -> MediationRecord:
    """Make the record's statements exactly ``message_ids``: all of them or, on any refusal, none."""
    with transaction.atomic():
        session, record = _lock(session)
        _require_mediator(actor, session.case)
        _require_draft(record)
        wanted = [_message(session, message_id) for message_id in message_ids]
        record = _get_or_start(session, record, actor)
        for message in wanted:
            check_statement_message(record, message)
        current = set(record.statements.values_list("message_id", flat=True))
        wanted_ids = {message.pk for message in wanted}
        for message in wanted:
            if message.pk not in current:
                select_statement(session, message, actor=actor, ip=ip)
        for message_id in current - wanted_ids:
            unselect_statement(session, message_id, actor=actor, ip=ip)
    return record


def save_record(
    session: MediationSession,
    *,
    actor: User,
    undisputed_facts: Any,
    outcome: Any,
    outcome_text: Any,
    statements: Iterable[Any],
    ip: str | None = None,
) -> MediationRecord:
    """The record page's one save: the texts and the ticked statements, together or not at all."""
    with transaction.atomic():
        save_draft(
            session, actor=actor, undisputed_facts=undisputed_facts, outcome=outcome, outcome_text=outcome_text, ip=ip
        )
        return set_statements(session, statements, actor=actor, ip=ip)


# --- finalising: the snapshot ---------------------------------------------------------------------


def _time(moment: Any) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _author_role(user: User, case: Case, roles: dict[int, str]) -> str:
    if user.pk in roles:
        return roles[user.pk]
    if user.has_perm(permissions.MEDIATE, case):
        return Attendance.Role.MEDIATOR
    side = party_side(user, case)
    if side == Room.INSTITUTION_SIDE:
        return Attendance.Role.INSTITUTION
    if side:
        return Attendance.Role.CONSUMER
    return Attendance.Role.OTHER


def build_snapshot(record: MediationRecord, *, finalised_by: User, finalised_at: Any, revision: int) -> dict[str, Any]:
    """Everything the record says, as plain data: the frozen content the parties confirm."""
    session = record.session
    case = session.case
    attendances = list(session.attendances.select_related("user").order_by("role", "user_id"))
    roles = {row.user_id: row.role for row in attendances}
    role_labels = dict(Attendance.Role.choices)
    with translation.override("zh-hans"):
        participants = [
            {
                "user_id": row.user_id,
                "name": row.user.display_name,
                "role": row.role,
                "role_label": str(role_labels[row.role]),
                "identity_method": row.identity_method,
                "identity_verified_at": _time(row.identity_verified_at),
                "warning_acknowledged_at": _time(row.warning_acknowledged_at),
                "joined_at": _time(row.joined_at),
                "left_at": _time(row.left_at),
            }
            for row in attendances
        ]
        statements = []
        chosen = record.statements.select_related("message__author", "message__room").order_by("message__seq")
        for statement in chosen:
            message = statement.message
            check_statement_message(record, message)  # Art 18, once more at the moment of freezing
            role = _author_role(message.author, case, roles) if message.author else Attendance.Role.OTHER
            statements.append(
                {
                    "seq": message.seq,
                    "author_id": message.author_id,
                    "author": message.author.display_name if message.author else "",
                    "author_role": role,
                    "author_role_label": str(role_labels[role]),
                    "at": _time(message.created_at),
                    "body": message.body,
                    "released_from_caucus": message.released_from_id is not None,
                }
            )
        return {
            "format": FORMAT,
            "revision": revision,
            "case": {
                "number": case.number,
                "institution": case.institution.name,
                "centre": case.centre.name,
            },
            "session": {
                "number": session.number,
                "mode": session.mode,
                "mode_label": str(session.get_mode_display()),
                "scheduled_start": _time(session.scheduled_start),
                "scheduled_end": _time(session.scheduled_end),
                "opened_at": _time(session.opened_at),
                "closed_at": _time(session.closed_at),
                "recording_consent": session.recording_consent,
            },
            "participants": participants,
            "undisputed_facts": record.undisputed_facts,
            "statements": statements,
            "outcome": {
                "kind": record.outcome,
                "label": str(record.get_outcome_display()),
                "text": record.outcome_text,
            },
            "finalised_at": _time(finalised_at),
            "finalised_by": finalised_by.display_name,
        }


def canonical_json(data: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 as is: the bytes the SHA-256 is taken over."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def snapshot_of(record: MediationRecord) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record.snapshot)
    return data


def finalise(session: MediationSession, *, actor: User, ip: str | None = None) -> MediationRecord:
    """Freeze the draft (mediator only, after the sitting closed) and ask each party to confirm it."""
    with transaction.atomic():
        session, record = _lock(session)
        case = session.case
        _require_mediator(actor, case)
        if record is None:
            raise RecordError("no_record", _("请先填写调解笔录。"))
        _require_draft(record)
        if session.state != MediationSession.State.CLOSED:
            raise RecordError("not_closed", _("本场调解结束后才能定稿调解笔录。"))
        if not record.outcome:
            raise RecordError("outcome_required", _("请选择调解结果。"), field="outcome")
        now = timezone.now()
        revision = record.revision + 1
        content = canonical_json(build_snapshot(record, finalised_by=actor, finalised_at=now, revision=revision))
        record.snapshot = content
        record.snapshot_sha256 = hashlib.sha256(content.encode()).hexdigest()
        record.revision = revision
        record.state = MediationRecord.State.FINALISED
        record.finalised_at, record.finalised_by = now, actor
        record.save(update_fields=["snapshot", "snapshot_sha256", "revision", "state", "finalised_at", "finalised_by"])
        ledger.record(
            "sessions.record.finalised",
            actor=actor,
            case=case,
            ip=ip,
            data={
                **_ids(record),
                "revision": revision,
                "sha256": record.snapshot_sha256,
                "sm3": sm3_hex(content.encode()),
                "statements": record.statements.count(),
            },
        )
        notify(
            audience.both_sides(case),
            "sessions.record.finalised",
            _("案件 %(number)s 第 %(sitting)s 场调解的调解笔录已定稿，请核对后确认或提出异议。")
            % {"number": case.number, "sitting": session.number},
            case=case,
        )
    return record


# --- the parties' answers --------------------------------------------------------------------------


def current_answers(record: MediationRecord) -> dict[str, RecordConfirmation]:
    """Each side's answer to the record's current revision."""
    rows = record.confirmations.filter(revision=record.revision).select_related("user")
    return {row.side: row for row in rows}


def waiting_for(record: MediationRecord) -> list[str]:
    """The sides that have not yet confirmed the current revision."""
    answered = current_answers(record)
    return [
        side
        for side in required_sides(record.session.case)
        if side not in answered or answered[side].kind != RecordConfirmation.Kind.CONFIRMED
    ]


def _check_password(user: User, password: Any, record: MediationRecord, *, action: str, ip: str | None) -> None:
    """在线调解规则 Art 22 online confirmation: the person re-enters their login password.

    Checked outside any transaction so that a failed try stays in the ledger.
    """
    if isinstance(password, str) and password and user.check_password(password):
        return
    ledger.record(
        "sessions.record.reauthentication_failed",
        actor=user,
        case=record.session.case,
        ip=ip,
        data={**_ids(record), "action": action},
    )
    raise RecordError("password", _("登录密码不正确。"), field="password")


def _answer(
    record: MediationRecord,
    *,
    user: User,
    password: Any,
    kind: str,
    objection: str = "",
    ip: str | None,
    user_agent: str,
) -> MediationRecord:
    case = record.session.case
    side = party_side(user, case)
    if side is None:
        raise RecordError("not_a_party", _("只有本案当事人可以确认调解笔录。"))
    if record.state != MediationRecord.State.FINALISED:
        raise RecordError("not_finalised", _("调解笔录尚未定稿或已确认完毕，现在不能确认或提出异议。"))
    _check_password(user, password, record, action=kind, ip=ip)
    ip = ledger.normalise_ip(ip)
    with transaction.atomic():
        record = MediationRecord.objects.select_for_update().select_related("session__case").get(pk=record.pk)
        session = record.session
        # Re-checked under the lock: the mediator may have withdrawn it or another party objected.
        if record.state != MediationRecord.State.FINALISED:
            raise RecordError("not_finalised", _("调解笔录尚未定稿或已确认完毕，现在不能确认或提出异议。"))
        if party_side(user, case) != side:
            raise RecordError("not_a_party", _("只有本案当事人可以确认调解笔录。"))
        if record.confirmations.filter(revision=record.revision, side=side).exists():
            raise RecordError("already_answered", _("您（或贵方其他经办人）已对本版调解笔录作出答复。"))
        now = timezone.now()
        RecordConfirmation.objects.create(
            record=record,
            revision=record.revision,
            snapshot_sha256=record.snapshot_sha256,
            side=side,
            user=user,
            kind=kind,
            objection=objection,
            at=now,
            ip=ip,
            user_agent=user_agent[:400],
        )
        evidence = {
            **_ids(record),
            "revision": record.revision,
            "sha256": record.snapshot_sha256,
            "side": side,
            "reauthenticated": True,
            "user_agent": user_agent[:300],
        }
        mediators = audience.mediators(case)
        if kind == RecordConfirmation.Kind.OBJECTED:
            record.state = MediationRecord.State.DRAFT
            record.save(update_fields=["state"])
            ledger.record(
                "sessions.record.objected",
                actor=user,
                case=case,
                ip=ip,
                data={**evidence, "objection_sha256": hashlib.sha256(objection.encode()).hexdigest()},
            )
            notify(
                mediators,
                "sessions.record.objected",
                _("%(who)s对案件 %(number)s 第 %(sitting)s 场调解的调解笔录提出异议，笔录已退回修改。")
                % {"who": side_label(side, case), "number": case.number, "sitting": session.number},
                case=case,
            )
            return record
        ledger.record("sessions.record.confirmed", actor=user, case=case, ip=ip, data=evidence)
        if not waiting_for(record):
            record.state = MediationRecord.State.CONFIRMED
            record.confirmed_at = now
            record.save(update_fields=["state", "confirmed_at"])
            ledger.record(
                "sessions.record.confirmed_by_all",
                actor=user,
                case=case,
                ip=ip,
                data={**_ids(record), "revision": record.revision, "sha256": record.snapshot_sha256},
            )
            notify(
                audience.both_sides(case) + mediators,
                "sessions.record.confirmed_by_all",
                _("案件 %(number)s 第 %(sitting)s 场调解的调解笔录已经各方当事人确认。")
                % {"number": case.number, "sitting": session.number},
                case=case,
            )
            confirmed = record
            # Rendering and sealing are slow: after the confirming transaction commits.
            transaction.on_commit(lambda: record_confirmed.send(sender=MediationRecord, record=confirmed), robust=True)
    return record


def confirm(
    record: MediationRecord, *, user: User, password: Any, ip: str | None = None, user_agent: str = ""
) -> MediationRecord:
    """A party confirms the current revision (在线调解规则 Art 22)."""
    return _answer(
        record, user=user, password=password, kind=RecordConfirmation.Kind.CONFIRMED, ip=ip, user_agent=user_agent
    )


def object_to(
    record: MediationRecord,
    *,
    user: User,
    password: Any,
    objection: Any,
    ip: str | None = None,
    user_agent: str = "",
) -> MediationRecord:
    """A party objects instead of confirming: the record goes back to draft for the mediator."""
    text = _clean_text(objection, field="objection", limit=OBJECTION_MAX_CHARS)
    if not text:
        raise RecordError("objection_required", _("请写明异议内容。"), field="objection")
    return _answer(
        record,
        user=user,
        password=password,
        kind=RecordConfirmation.Kind.OBJECTED,
        objection=text,
        ip=ip,
        user_agent=user_agent,
    )


# --- the sealed PDF --------------------------------------------------------------------------------


def attach_sealed_pdf(record: MediationRecord, pdf: bytes) -> MediationRecord:
    """Store the rendered, sealed record (called by the signing app); once only."""
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        record = MediationRecord.objects.select_for_update().select_related("session__case").get(pk=record.pk)
        if record.state != MediationRecord.State.CONFIRMED:
            raise RecordError("not_confirmed", _("调解笔录尚未经各方确认，不能盖章。"))
        if record.is_sealed:
            return record
        record.pdf.save(f"mediation-record-{record.pk}-{digest[:16]}.pdf", ContentFile(pdf), save=False)
        record.pdf_sha256 = digest
        record.pdf_sm3 = sm3_hex(pdf)
        record.sealed_at = timezone.now()
        record.save(update_fields=["pdf", "pdf_sha256", "pdf_sm3", "sealed_at"])
        ledger.record(
            "sessions.record.sealed",
            case=record.session.case,
            data={
                **_ids(record),
                "revision": record.revision,
                "snapshot_sha256": record.snapshot_sha256,
                "sha256": digest,
                "sm3": record.pdf_sm3,
            },
        )
    return record


def read_sealed(record: MediationRecord) -> bytes:
    """The sealed PDF as stored, checked against the hash recorded when it was stored."""
    if not record.is_sealed:
        raise RecordError("not_sealed", _("调解笔录尚未盖章。"))
    with record.pdf.open("rb") as handle:
        data: bytes = handle.read()
    if hashlib.sha256(data).hexdigest() != record.pdf_sha256:
        raise RecordError("changed", _("调解笔录文件与盖章时记录的哈希值不一致，请联系系统管理员。"))
    return data

"""The case lifecycle. Every change of ``Case.state`` goes through a function here.

Each function: runs in a transaction, locks the case row, guards the current state (raising
``CaseError`` with a sentence a person can read), writes the transition row and a ledger entry
with a dotted action code, and schedules notifications for after the commit. Views decide who
may call what (``mediation.permissions``); these functions decide what the rules allow.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import audience, clocks, ledger, permissions
from mediation.classification import ISSUE_TYPES
from mediation.evidence_checks import UploadRejected, sniff_upload
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    CaseTransition,
    ClockKind,
    Deadline,
    Evidence,
    ExtensionRequest,
    InstitutionAnswer,
    NotAcceptedReason,
    Organisation,
    Role,
    TerminationReason,
    User,
)
from mediation.notifications import notify

S = CaseState

# The lifecycle of DESIGN.md as data: target state → states it may be reached from.
ALLOWED_FROM: dict[str, set[str]] = {
    S.ACCEPTED: {S.SUBMITTED},
    S.NOT_ACCEPTED: {S.SUBMITTED},
    S.TRANSFERRED: {S.ACCEPTED},
    S.ANSWERED: {S.TRANSFERRED},
    S.MEDIATION_REQUESTED: {S.ANSWERED, S.ACCEPTED},
    S.CHOOSING_MEDIATOR: {S.MEDIATION_REQUESTED, S.AWAITING_MEDIATOR, S.MEDIATING},
    S.AWAITING_MEDIATOR: {S.CHOOSING_MEDIATOR},
    S.MEDIATING: {S.AWAITING_MEDIATOR},
    S.AGREEMENT_EFFECTIVE: {S.MEDIATING},
    S.CONFIRMATION_APPLIED: {S.AGREEMENT_EFFECTIVE},
    S.CONFIRMED: {S.CONFIRMATION_APPLIED},
    S.CONFIRMATION_REJECTED: {S.CONFIRMATION_APPLIED},
    S.PERFORMING: {S.AGREEMENT_EFFECTIVE, S.CONFIRMED},
    S.CLOSED: {S.ANSWERED, S.AGREEMENT_EFFECTIVE, S.CONFIRMED, S.CONFIRMATION_REJECTED, S.PERFORMING},
    # 在线调解规则 Art 25: mediation may end without agreement at any point before it.
    S.TERMINATED: {S.MEDIATION_REQUESTED, S.CHOOSING_MEDIATOR, S.AWAITING_MEDIATOR, S.MEDIATING},
}


class CaseError(Exception):
    """A request the lifecycle rules refuse; ``str(error)`` is shown to the user as is."""


# Apps further right add their own conditions for putting a mediator on a case (the pool's
# status, certificate and conflict rules) without the core importing them. Each raises CaseError.
AssignmentCheck = Callable[[Case, User], None]
_assignment_checks: list[AssignmentCheck] = []


def register_assignment_check(check: AssignmentCheck) -> None:
    if check not in _assignment_checks:
        _assignment_checks.append(check)


# Conditions before a mediator may accept (the pool: disclosure settled, 在线调解规则 Art 13).
_acceptance_checks: list[AssignmentCheck] = []


def register_acceptance_check(check: AssignmentCheck) -> None:
    if check not in _acceptance_checks:
        _acceptance_checks.append(check)


def check_mediator_assignable(case: Case, mediator: User) -> None:
    """Raise CaseError when ``mediator`` may not be put on ``case``."""
    if mediator.role != Role.MEDIATOR or not mediator.is_active:
        raise CaseError(_("只能指定在册的调解员。"))
    for check in _assignment_checks:
        check(case, mediator)


def _lock(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("institution", "centre").get(pk=case.pk)


def _check_transition(case: Case, to_state: str) -> None:
    if case.state not in ALLOWED_FROM[to_state]:
        raise CaseError(
            _("案件当前状态为「%(current)s」，不能变更为「%(target)s」。")
            % {"current": case.get_state_display(), "target": S(to_state).label}
        )


def _move(
    case: Case,
    to_state: str,
    *,
    actor: User | None,
    action: str,
    ip: str | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Guard, write the state, the transition row and the ledger entry (inside the caller's lock)."""
    _check_transition(case, to_state)
    from_state = case.state
    case.state = to_state
    case.save(update_fields=["state", "updated_at"])
    CaseTransition.objects.create(
        case=case, from_state=from_state, to_state=to_state, actor=actor, reason=reason, data=data or {}
    )
    ledger.record(
        action,
        actor=actor,
        case=case,
        ip=ip,
        data={"from": from_state, "to": to_state, "reason": reason, **(data or {})},
    )


def _notify_on_commit(recipients: Iterable[User], kind: str, message: str, case: Case) -> None:
    people = list(recipients)
    # Robust: the change is committed by then, so a failing notification is logged, not
    # reported to the user as if the change itself had failed.
    transaction.on_commit(lambda: notify(people, kind, message, case=case), robust=True)


def add_participant(
    case: Case, user: User, capacity: str, *, actor: User | None, ip: str | None = None
) -> CaseParticipant:
    with transaction.atomic():
        participant, _created = CaseParticipant.objects.get_or_create(
            case=case, user=user, capacity=capacity, removed_at__isnull=True
        )
        permissions.grant_participant(participant)
        ledger.record(
            "mediation.participant.added",
            actor=actor,
            case=case,
            ip=ip,
            data={"user": user.pk, "capacity": capacity},
        )
    return participant


def remove_participant(participant: CaseParticipant, *, actor: User | None, reason: str, ip: str | None = None) -> None:
    """Permissions go at once: the next request by that user is refused."""
    with transaction.atomic():
        participant.removed_at = timezone.now()
        participant.save(update_fields=["removed_at"])
        permissions.withdraw_participant(participant)
        ledger.record(
            "mediation.participant.removed",
            actor=actor,
            case=participant.case,
            ip=ip,
            data={"user": participant.user_id, "capacity": participant.capacity, "reason": reason},
        )


# --- intake ----------------------------------------------------------------------------------


def _validate_classification(product_category: str, issue_type: str) -> None:
    if product_category not in ISSUE_TYPES:
        raise CaseError(_("请选择有效的产品类别。"))
    if issue_type not in dict(ISSUE_TYPES[product_category]):
        raise CaseError(_("问题类型与所选产品类别不符。"))


def submit_complaint(
    *,
    consumer: User,
    entered_by: User,
    channel: str,
    centre: Organisation,
    institution: Organisation,
    product_category: str,
    issue_type: str,
    amount_in_dispute: Decimal,
    description: str,
    requested_outcome: str,
    consent_online_mediation: bool,
    service_address: str,
    ip: str | None = None,
) -> Case:
    """Register a complaint (by the consumer on the web, or by staff on a caller's behalf)."""
    if consumer.role != Role.CONSUMER:
        raise CaseError(_("投诉人必须是金融消费者账户。"))
    if institution.kind != Organisation.Kind.INSTITUTION:
        raise CaseError(_("被投诉方必须是金融机构。"))
    if centre.kind != Organisation.Kind.CENTRE:
        raise CaseError(_("受理单位必须是调解中心。"))
    if entered_by.pk != consumer.pk:
        if entered_by.role != Role.CASE_MANAGER:
            raise CaseError(_("只有调解中心工作人员可以代为登记投诉。"))
        if entered_by.organisation_id != centre.pk:
            raise CaseError(_("只能为本调解中心代为登记投诉。"))
    if amount_in_dispute < 0:
        raise CaseError(_("争议金额不能为负数。"))
    _validate_classification(product_category, issue_type)
    now = timezone.now()
    with transaction.atomic():
        since = now - datetime.timedelta(days=settings.REPEAT_COMPLAINT_DAYS)
        head_office = institution.head_office
        repeat = Case.objects.filter(
            participants__user=consumer,
            participants__capacity=CaseParticipant.Capacity.CONSUMER,
            product_category=product_category,
            created_at__gte=since,
        ).filter(
            # Same institution: any branch of the same head office counts.
            institution__in=_organisation_tree(head_office)
        )
        is_repeat = repeat.exists()
        case = Case.objects.create(
            number=f"tmp-{hashlib.sha256(f'{consumer.pk}{now.isoformat()}'.encode()).hexdigest()[:24]}",
            centre=centre,
            institution=institution,
            product_category=product_category,
            issue_type=issue_type,
            amount_in_dispute=amount_in_dispute,
            description=description,
            requested_outcome=requested_outcome,
            intake_channel=channel,
            entered_by=entered_by,
            consent_online_mediation=consent_online_mediation,
            consented_at=now if consent_online_mediation else None,
            service_address=service_address,
            service_address_confirmed_at=now,
            is_repeat=is_repeat,
            escalated=is_repeat,
        )
        case.number = f"FQ{timezone.localdate().year}{case.pk:07d}"
        case.save(update_fields=["number"])
        CaseTransition.objects.create(case=case, from_state="", to_state=S.SUBMITTED, actor=entered_by)
        permissions.grant_centre_access(case)
        add_participant(case, consumer, CaseParticipant.Capacity.CONSUMER, actor=entered_by, ip=ip)
        ledger.record(
            "mediation.case.submitted",
            actor=entered_by,
            case=case,
            ip=ip,
            data={
                "number": case.number,
                "channel": channel,
                "institution": institution.pk,
                "product_category": product_category,
                "issue_type": issue_type,
                "amount_in_dispute": str(amount_in_dispute),
                "repeat": is_repeat,
            },
        )
        message = _("新投诉 %(number)s 已登记。") % {"number": case.number}
        if is_repeat:
            message += " " + _("该投诉人%(days)s日内就同一机构同类产品重复投诉，已标记提级处理。") % {
                "days": settings.REPEAT_COMPLAINT_DAYS
            }
        _notify_on_commit(audience.case_managers(case), "mediation.case.submitted", message, case)
    return case


def _organisation_tree(root: Organisation) -> list[Organisation]:
    """``root`` and every branch below it."""
    tree, frontier = [root], [root]
    while frontier:
        children = list(Organisation.objects.filter(parent__in=frontier))
        tree.extend(children)
        frontier = children
    return tree


def accept_case(case: Case, *, actor: User, ip: str | None = None) -> Case:
    with transaction.atomic():
        case = _lock(case)
        _move(case, S.ACCEPTED, actor=actor, ip=ip, action="mediation.case.accepted")
        _notify_on_commit(audience.consumers(case), "mediation.case.accepted", _("您的投诉已受理。"), case)
    return case


def decline_case(case: Case, *, actor: User, reason: str, note: str = "", ip: str | None = None) -> Case:
    if reason not in NotAcceptedReason.values:
        raise CaseError(_("请选择不予受理的理由。"))
    if reason == NotAcceptedReason.OTHER and not note.strip():
        raise CaseError(_("以“其他”理由不予受理时须说明具体情况。"))
    with transaction.atomic():
        case = _lock(case)
        _move(
            case,
            S.NOT_ACCEPTED,
            actor=actor,
            ip=ip,
            action="mediation.case.not_accepted",
            reason=note,
            data={"code": reason},
        )
        case.not_accepted_reason = reason
        case.state_note = note
        case.save(update_fields=["not_accepted_reason", "state_note"])
        message = _("您的投诉不予受理：%(reason)s。") % {"reason": NotAcceptedReason(reason).label}
        _notify_on_commit(audience.consumers(case), "mediation.case.not_accepted", message, case)
    return case


def transfer_to_institution(case: Case, *, actor: User, ip: str | None = None) -> Case:
    """转办: the institution now sees the complaint and its 15-day answer clock starts."""
    with transaction.atomic():
        case = _lock(case)
        _move(case, S.TRANSFERRED, actor=actor, ip=ip, action="mediation.case.transferred")
        permissions.grant_institution_access(case)
        deadline = clocks.start_clock(case, ClockKind.INSTITUTION_ANSWER)
        message = _("投诉 %(number)s 已转办贵机构，请于 %(due)s 前答复。") % {
            "number": case.number,
            "due": deadline.due_date.isoformat(),
        }
        _notify_on_commit(audience.institution_people(case), "mediation.case.transferred", message, case)
        _notify_on_commit(
            audience.consumers(case), "mediation.case.transferred", _("您的投诉已转交被投诉机构处理。"), case
        )
    return case


def request_answer_extension(case: Case, *, actor: User, reason: str, ip: str | None = None) -> ExtensionRequest:
    """+15 days for a complex case at the institution's own decision; a further +30 needs approval."""
    if not reason.strip():
        raise CaseError(_("申请延期须说明理由。"))
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.TRANSFERRED:
            raise CaseError(_("只有待机构答复的投诉可以申请延期。"))
        if actor.role != Role.INSTITUTION_AGENT or not actor.has_perm(permissions.ANSWER, case):
            raise CaseError(_("只有被投诉机构的经办人员可以申请延期。"))
        deadline = clocks.open_clock(case, ClockKind.INSTITUTION_ANSWER)
        if deadline is None:
            raise CaseError(_("答复期限已结束，不能延期。"))
        if deadline.due_date < timezone.localdate():
            raise CaseError(_("答复期限已过，不能再申请延期。"))
        previous = list(deadline.extension_requests.exclude(status=ExtensionRequest.Status.REJECTED))
        if any(r.status == ExtensionRequest.Status.PENDING for r in previous):
            raise CaseError(_("已有待审批的延期申请。"))
        steps = clocks.CLOCK_SPECS[ClockKind.INSTITUTION_ANSWER].extensions
        if len(previous) >= len(steps):
            raise CaseError(_("答复期限已延长至上限，不能再延期。"))
        days, needs_approval = steps[len(previous)]
        request = ExtensionRequest.objects.create(deadline=deadline, requested_by=actor, days=days, reason=reason)
        ledger.record(
            "mediation.extension.requested",
            actor=actor,
            case=case,
            ip=ip,
            data={"days": days, "reason": reason, "needs_approval": needs_approval},
        )
        if needs_approval:
            # The requester cannot approve their own request, so is not asked to.
            approvers = [u for u in audience.institution_people(case) if u.can_approve_extensions and u.pk != actor.pk]
            _notify_on_commit(
                approvers,
                "mediation.extension.requested",
                _("投诉 %(number)s 申请再延长答复期限 %(days)s 日，待您审批。") % {"number": case.number, "days": days},
                case,
            )
        else:
            _grant_extension(request, approver=None, ip=ip)
    return request


def _grant_extension(request: ExtensionRequest, *, approver: User | None, ip: str | None) -> None:
    deadline = clocks.extend_clock(request.deadline, request.days)
    request.status = ExtensionRequest.Status.APPROVED
    request.decided_by = approver
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    case = deadline.case
    ledger.record(
        "mediation.extension.granted",
        actor=approver or request.requested_by,
        case=case,
        ip=ip,
        data={"days": request.days, "due": deadline.due_date.isoformat()},
    )
    message = _("被投诉机构答复期限已延长 %(days)s 日，至 %(due)s。理由：%(reason)s") % {
        "days": request.days,
        "due": deadline.due_date.isoformat(),
        "reason": request.reason,
    }
    # The consumer must be told of every extension (办法: 告知投诉人).
    _notify_on_commit(audience.consumers(case), "mediation.extension.granted", message, case)


def decide_extension(
    request: ExtensionRequest, *, actor: User, approve: bool, ip: str | None = None
) -> ExtensionRequest:
    with transaction.atomic():
        case = _lock(request.deadline.case)
        request = ExtensionRequest.objects.select_for_update().select_related("deadline").get(pk=request.pk)
        if request.status != ExtensionRequest.Status.PENDING:
            raise CaseError(_("该延期申请已处理。"))
        if not (
            actor.can_approve_extensions
            and actor.role == Role.INSTITUTION_AGENT
            and actor.has_perm(permissions.ANSWER, case)
        ):
            raise CaseError(_("只有被投诉机构有审批权限的人员可以审批延期。"))
        if actor.pk == request.requested_by_id:
            raise CaseError(_("申请人不能审批自己的延期申请。"))
        if not request.deadline.is_open:
            # The institution answered (or the case ended) while the request was pending.
            raise CaseError(_("答复期限已结束，无需再审批延期。"))
        if approve:
            _grant_extension(request, approver=actor, ip=ip)
        else:
            request.status = ExtensionRequest.Status.REJECTED
            request.decided_by = actor
            request.decided_at = timezone.now()
            request.save(update_fields=["status", "decided_by", "decided_at"])
            ledger.record("mediation.extension.rejected", actor=actor, case=case, ip=ip, data={"days": request.days})
    return request


def answer_complaint(
    case: Case,
    *,
    agent: User,
    outcome: str,
    text: str,
    attachments: Iterable[Evidence] = (),
    ip: str | None = None,
) -> InstitutionAnswer:
    if outcome not in InstitutionAnswer.Outcome.values:
        raise CaseError(_("请选择处理结果。"))
    if not text.strip():
        raise CaseError(_("请填写答复内容。"))
    with transaction.atomic():
        case = _lock(case)
        # The sweep may already have closed the clock as expired: judge lateness on the latest
        # answer clock whatever its status.
        deadline = case.deadlines.filter(kind=ClockKind.INSTITUTION_ANSWER).order_by("-created_at", "-id").first()
        late = deadline is not None and (
            deadline.status == Deadline.Status.EXPIRED or deadline.due_date < timezone.localdate()
        )
        _move(
            case,
            S.ANSWERED,
            actor=agent,
            ip=ip,
            action="mediation.case.answered",
            data={"outcome": outcome, "late": late},
        )
        answer = InstitutionAnswer.objects.create(case=case, agent=agent, outcome=outcome, text=text)
        answer.attachments.set([e for e in attachments if e.case_id == case.pk])
        clocks.stop_clock(case, ClockKind.INSTITUTION_ANSWER, Deadline.Status.EXPIRED if late else Deadline.Status.MET)
        if outcome == InstitutionAnswer.Outcome.NOT_RESOLVED:
            # 办法: an institution that upholds its position must tell the consumer about mediation.
            message = _("被投诉机构答复：未解决。您可以申请由调解中心组织调解，免费在线进行。")
        else:
            message = _("被投诉机构答复：已解决。如您仍不满意，可以申请调解。")
        _notify_on_commit(audience.consumers(case), "mediation.case.answered", message, case)
    return answer


def accept_resolution(case: Case, *, consumer: User, ip: str | None = None) -> Case:
    """The consumer is satisfied with the institution's answer: the case closes."""
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.ANSWERED:
            # Later stages close on performance or by the centre, not on the consumer's say-so.
            raise CaseError(_("只有机构已答复的投诉可以由投诉人确认结案。"))
        _move(case, S.CLOSED, actor=consumer, ip=ip, action="mediation.case.closed", reason=_("投诉人认可机构处理结果"))
        clocks.stop_all_clocks(case)
    return case


# --- mediation -------------------------------------------------------------------------------


def request_mediation(case: Case, *, consumer: User, ip: str | None = None) -> Case:
    """The consumer asks for mediation and consents to it online (在线调解规则 Art 4)."""
    with transaction.atomic():
        case = _lock(case)
        now = timezone.now()
        _move(case, S.MEDIATION_REQUESTED, actor=consumer, ip=ip, action="mediation.case.mediation_requested")
        case.consent_online_mediation = True
        case.consented_at = case.consented_at or now
        case.save(update_fields=["consent_online_mediation", "consented_at"])
        if not audience.institution_people(case):
            # Complaints taken straight to mediation have not been transferred yet.
            permissions.grant_institution_access(case)
        _notify_on_commit(
            audience.institution_people(case) + audience.case_managers(case),
            "mediation.case.mediation_requested",
            _("投诉人申请调解，请被投诉机构确认是否同意在线调解。"),
            case,
        )
    return case


def record_institution_consent(
    case: Case, *, agent: User, consent: bool, reason: str = "", ip: str | None = None
) -> Case:
    """Both sides must consent to online mediation (在线调解规则 Art 4); refusal ends it (Art 25)."""
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.MEDIATION_REQUESTED:
            raise CaseError(_("只有申请调解的案件需要机构确认是否同意调解。"))
        if not consent:
            _terminate(case, actor=agent, reason=TerminationReason.REFUSED, note=reason, ip=ip)
            return case
        case.institution_consented_at = timezone.now()
        case.save(update_fields=["institution_consented_at"])
        _move(case, S.CHOOSING_MEDIATOR, actor=agent, ip=ip, action="mediation.case.consented")
        deadline = clocks.start_clock(case, ClockKind.PARTY_CHOICE)
        message = _("双方已同意在线调解。请于 %(due)s 前共同选定调解员，逾期由调解中心指定。") % {
            "due": deadline.due_date.isoformat()
        }
        _notify_on_commit(
            audience.participants(case) + audience.institution_people(case), "mediation.case.consented", message, case
        )
    return case


def start_assignment_clock(case: Case, *, actor: User | None = None, ip: str | None = None) -> Deadline | None:
    """Parties did not choose in time: the centre now has 3 working days to appoint (Art 10)."""
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.CHOOSING_MEDIATOR:
            return None
        if clocks.open_clock(case, ClockKind.ASSIGNMENT) is not None:
            return None
        clocks.stop_clock(case, ClockKind.PARTY_CHOICE, Deadline.Status.EXPIRED)
        deadline = clocks.start_clock(case, ClockKind.ASSIGNMENT)
        ledger.record(
            "mediation.clock.assignment_started",
            actor=actor,
            case=case,
            ip=ip,
            data={"due": deadline.due_date.isoformat()},
        )
        _notify_on_commit(
            audience.case_managers(case),
            "mediation.clock.assignment_started",
            _("当事人未在期限内共同选定调解员，请于 %(due)s 前指定。") % {"due": deadline.due_date.isoformat()},
            case,
        )
    return deadline


def assign_mediator(
    case: Case, *, actor: User, mediator: User, chosen_by_parties: bool = False, ip: str | None = None
) -> CaseParticipant:
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.CHOOSING_MEDIATOR:
            raise CaseError(_("案件当前状态为「%(state)s」，不能指定调解员。") % {"state": case.get_state_display()})
        check_mediator_assignable(case, mediator)
        clocks.stop_clock(case, ClockKind.PARTY_CHOICE)
        clocks.stop_clock(case, ClockKind.ASSIGNMENT)
        _move(
            case,
            S.AWAITING_MEDIATOR,
            actor=actor,
            ip=ip,
            action="mediation.case.mediator_assigned",
            data={"mediator": mediator.pk, "chosen_by_parties": chosen_by_parties},
        )
        participant = add_participant(case, mediator, CaseParticipant.Capacity.LEAD_MEDIATOR, actor=actor, ip=ip)
        deadline = clocks.start_clock(case, ClockKind.MEDIATOR_ACCEPTANCE)
        _notify_on_commit(
            [mediator],
            "mediation.case.mediator_assigned",
            _("您被指定为案件 %(number)s 的调解员，请于 %(due)s 前接受或拒绝。")
            % {"number": case.number, "due": deadline.due_date.isoformat()},
            case,
        )
    return participant


def _assigned_participant(case: Case, mediator: User) -> CaseParticipant:
    participant = case.participants.filter(
        user=mediator,
        removed_at__isnull=True,
        capacity__in=[CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR],
    ).first()
    if participant is None:
        raise CaseError(_("您不是本案的调解员。"))
    return participant


def mediator_accepts(case: Case, *, mediator: User, ip: str | None = None) -> Case:
    """在线调解规则 Art 12; acceptance starts the 30-day term (Art 24)."""
    with transaction.atomic():
        case = _lock(case)
        _assigned_participant(case, mediator)
        if case.state == S.AWAITING_MEDIATOR:
            for check in _acceptance_checks:
                check(case, mediator)
        _move(case, S.MEDIATING, actor=mediator, ip=ip, action="mediation.case.mediator_accepted")
        clocks.stop_clock(case, ClockKind.MEDIATOR_ACCEPTANCE)
        deadline = clocks.start_clock(case, ClockKind.MEDIATION_TERM)
        message = _("调解员已接受委派，调解期限至 %(due)s。") % {"due": deadline.due_date.isoformat()}
        _notify_on_commit(
            audience.participants(case) + audience.case_managers(case),
            "mediation.case.mediator_accepted",
            message,
            case,
        )
    return case


def mediator_declines(case: Case, *, mediator: User, reason: str, ip: str | None = None) -> Case:
    """A decline needs its reason (Art 12); the centre then has 3 working days to appoint again."""
    if not reason.strip():
        raise CaseError(_("拒绝接受委派须说明理由。"))
    with transaction.atomic():
        case = _lock(case)
        participant = _assigned_participant(case, mediator)
        if case.state != S.AWAITING_MEDIATOR:
            # Once accepted, leaving is a removal by the centre or a termination, not a decline.
            raise CaseError(
                _("案件当前状态为「%(state)s」，不能再拒绝委派；如需退出，请联系调解中心更换调解员。")
                % {"state": case.get_state_display()}
            )
        _move(
            case,
            S.CHOOSING_MEDIATOR,
            actor=mediator,
            ip=ip,
            action="mediation.case.mediator_declined",
            reason=reason,
        )
        clocks.stop_clock(case, ClockKind.MEDIATOR_ACCEPTANCE)
        remove_participant(participant, actor=mediator, reason=reason, ip=ip)
        deadline = clocks.start_clock(case, ClockKind.ASSIGNMENT)
        _notify_on_commit(
            audience.case_managers(case),
            "mediation.case.mediator_declined",
            _("调解员拒绝接受委派（%(reason)s），请于 %(due)s 前重新指定。")
            % {"reason": reason, "due": deadline.due_date.isoformat()},
            case,
        )
    return case


def add_co_mediator(case: Case, *, actor: User, mediator: User, ip: str | None = None) -> CaseParticipant:
    """在线调解规则 Art 11: a complex case may have several mediators, one of them the lead."""
    with transaction.atomic():
        case = _lock(case)
        if case.state not in (S.AWAITING_MEDIATOR, S.MEDIATING):
            raise CaseError(_("只有已指定主调解员的案件可以增加调解员。"))
        if case.participants.filter(
            user=mediator,
            removed_at__isnull=True,
            capacity__in=[CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR],
        ).exists():
            raise CaseError(_("该调解员已在本案中。"))
        check_mediator_assignable(case, mediator)
        participant = add_participant(case, mediator, CaseParticipant.Capacity.MEDIATOR, actor=actor, ip=ip)
        ledger.record("mediation.case.co_mediator_added", actor=actor, case=case, ip=ip, data={"mediator": mediator.pk})
        _notify_on_commit(
            [mediator] + audience.participants(case),
            "mediation.case.co_mediator_added",
            _("%(name)s 加入本案共同调解。") % {"name": mediator.display_name},
            case,
        )
    return participant


def remove_mediator(
    case: Case,
    *,
    actor: User | None,
    mediator: User,
    reason: str,
    action: str = "mediation.case.mediator_removed",
    ip: str | None = None,
) -> Case:
    """Take a mediator off the case (recusal, a granted change request, silence).

    Their permissions go at once. Without a lead the case returns to the centre, which has 3
    working days to appoint again (Art 10); a new lead's acceptance starts a new term.
    """
    if not reason.strip():
        raise CaseError(_("更换调解员须说明理由。"))
    with transaction.atomic():
        case = _lock(case)
        participant = _assigned_participant(case, mediator)
        remove_participant(participant, actor=actor, reason=reason, ip=ip)
        if participant.capacity == CaseParticipant.Capacity.LEAD_MEDIATOR:
            _move(
                case,
                S.CHOOSING_MEDIATOR,
                actor=actor,
                ip=ip,
                action=action,
                reason=reason,
                data={"mediator": mediator.pk},
            )
            clocks.stop_clock(case, ClockKind.MEDIATOR_ACCEPTANCE, Deadline.Status.CANCELLED)
            clocks.stop_clock(case, ClockKind.MEDIATION_TERM, Deadline.Status.CANCELLED)
            deadline = clocks.start_clock(case, ClockKind.ASSIGNMENT)
            _notify_on_commit(
                audience.case_managers(case),
                action,
                _("案件 %(number)s 需要重新指定调解员（%(reason)s），请于 %(due)s 前指定。")
                % {"number": case.number, "reason": reason, "due": deadline.due_date.isoformat()},
                case,
            )
        else:
            ledger.record(action, actor=actor, case=case, ip=ip, data={"mediator": mediator.pk, "reason": reason})
        _notify_on_commit(
            [mediator] + audience.participants(case),
            action,
            _("调解员 %(name)s 已不再参与本案调解。") % {"name": mediator.display_name},
            case,
        )
    return case


def release_silent_mediator(case: Case) -> Case | None:
    """在线调解规则 Art 12: a mediator silent past the acceptance deadline frees the case."""
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.AWAITING_MEDIATOR:
            return None
        lead = (
            case.participants.filter(removed_at__isnull=True, capacity=CaseParticipant.Capacity.LEAD_MEDIATOR)
            .select_related("user")
            .first()
        )
        if lead is None:
            return None
        return remove_mediator(
            case,
            actor=None,
            mediator=lead.user,
            reason=_("调解员逾期未答复是否接受委派"),
            action="mediation.case.mediator_silent",
        )


def extend_mediation_term(case: Case, *, actor: User, days: int, reason: str, ip: str | None = None) -> Deadline:
    """在线调解规则 Art 24: the term may be extended when the parties agree."""
    if days <= 0 or days > 90:
        raise CaseError(_("延长天数应在1至90日之间。"))
    if not reason.strip():
        raise CaseError(_("请说明各方同意延长的情况。"))
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.MEDIATING:
            raise CaseError(_("只有调解中的案件可以延长调解期限。"))
        deadline = clocks.open_clock(case, ClockKind.MEDIATION_TERM)
        if deadline is None:
            raise CaseError(_("调解期限已结束。"))
        clocks.extend_clock(deadline, days)
        ledger.record(
            "mediation.term.extended",
            actor=actor,
            case=case,
            ip=ip,
            data={"days": days, "reason": reason, "due": deadline.due_date.isoformat()},
        )
        _notify_on_commit(
            audience.participants(case),
            "mediation.term.extended",
            _("调解期限已延长至 %(due)s。") % {"due": deadline.due_date.isoformat()},
            case,
        )
    return deadline


def pause_mediation_term(case: Case, *, actor: User, reason: str, ip: str | None = None) -> Deadline:
    """在线调解规则 Art 26: time spent on an appraisal does not count towards the term."""
    with transaction.atomic():
        case = _lock(case)
        if case.state != S.MEDIATING:
            raise CaseError(_("只有调解中的案件可以暂停调解期限。"))
        deadline = clocks.open_clock(case, ClockKind.MEDIATION_TERM)
        if deadline is None:
            raise CaseError(_("调解期限已结束。"))
        try:
            clocks.pause_clock(deadline, reason)
        except clocks.ClockError as exc:
            raise CaseError(str(exc)) from None
        ledger.record("mediation.term.paused", actor=actor, case=case, ip=ip, data={"reason": reason})
    return deadline


def resume_mediation_term(case: Case, *, actor: User, ip: str | None = None) -> Deadline:
    with transaction.atomic():
        case = _lock(case)
        deadline = clocks.open_clock(case, ClockKind.MEDIATION_TERM)
        if deadline is None:
            raise CaseError(_("调解期限已结束。"))
        try:
            clocks.resume_clock(deadline)
        except clocks.ClockError as exc:
            raise CaseError(str(exc)) from None
        ledger.record(
            "mediation.term.resumed", actor=actor, case=case, ip=ip, data={"due": deadline.due_date.isoformat()}
        )
    return deadline


def record_agreement_effective(
    case: Case, *, actor: User | None, effective_at: datetime.datetime | None = None, ip: str | None = None
) -> Case:
    """在线调解规则 Art 19: effective when the last party signs; starts the 30-day window (民事诉讼法 Art 205)."""
    with transaction.atomic():
        case = _lock(case)
        effective_at = effective_at or timezone.now()
        _move(case, S.AGREEMENT_EFFECTIVE, actor=actor, ip=ip, action="mediation.case.agreement_effective")
        case.agreement_effective_at = effective_at
        case.save(update_fields=["agreement_effective_at"])
        clocks.stop_clock(case, ClockKind.MEDIATION_TERM)
        deadline = clocks.start_clock(case, ClockKind.JUDICIAL_CONFIRMATION, start=timezone.localdate(effective_at))
        _notify_on_commit(
            audience.participants(case),
            "mediation.case.agreement_effective",
            _("调解协议已生效。如需申请司法确认，双方应于 %(due)s 前共同提出。")
            % {"due": deadline.due_date.isoformat()},
            case,
        )
    return case


def record_confirmation_applied(case: Case, *, actor: User, ip: str | None = None) -> Case:
    with transaction.atomic():
        case = _lock(case)
        _check_transition(case, S.CONFIRMATION_APPLIED)
        deadline = clocks.open_clock(case, ClockKind.JUDICIAL_CONFIRMATION)
        if deadline is None or deadline.due_date < timezone.localdate():
            raise CaseError(_("申请司法确认的30日期限已届满，不能再申请。"))
        _move(case, S.CONFIRMATION_APPLIED, actor=actor, ip=ip, action="mediation.case.confirmation_applied")
        clocks.stop_clock(case, ClockKind.JUDICIAL_CONFIRMATION)
    return case


def record_confirmation_ruling(
    case: Case, *, actor: User, confirmed: bool, reason: str = "", ip: str | None = None
) -> Case:
    with transaction.atomic():
        case = _lock(case)
        target = S.CONFIRMED if confirmed else S.CONFIRMATION_REJECTED
        _move(case, target, actor=actor, ip=ip, action="mediation.case.confirmation_ruled", reason=reason)
        _notify_on_commit(
            audience.participants(case) + audience.case_managers(case),
            "mediation.case.confirmation_ruled",
            _("法院已裁定确认调解协议有效。")
            if confirmed
            else _("法院裁定驳回司法确认申请：%(reason)s") % {"reason": reason},
            case,
        )
    return case


def start_performance(case: Case, *, actor: User, ip: str | None = None) -> Case:
    with transaction.atomic():
        case = _lock(case)
        _move(case, S.PERFORMING, actor=actor, ip=ip, action="mediation.case.performing")
        clocks.stop_all_clocks(case)
    return case


def close_case(case: Case, *, actor: User, reason: str, ip: str | None = None) -> Case:
    with transaction.atomic():
        case = _lock(case)
        _move(case, S.CLOSED, actor=actor, ip=ip, action="mediation.case.closed", reason=reason)
        clocks.stop_all_clocks(case)
        _notify_on_commit(audience.participants(case), "mediation.case.closed", _("案件已结案。"), case)
    return case


def _terminate(case: Case, *, actor: User | None, reason: str, note: str, ip: str | None) -> None:
    if reason not in TerminationReason.values:
        raise CaseError(_("请选择调解终止的法定理由。"))
    if reason == TerminationReason.OTHER and not note.strip():
        raise CaseError(_("以“其他”理由终止调解时须说明具体情况。"))
    _move(
        case, S.TERMINATED, actor=actor, ip=ip, action="mediation.case.terminated", reason=note, data={"code": reason}
    )
    case.termination_reason = reason
    case.state_note = note
    case.save(update_fields=["termination_reason", "state_note"])
    clocks.stop_all_clocks(case)
    message = _("调解终止：%(reason)s。您可以依法向人民法院提起诉讼。") % {"reason": TerminationReason(reason).label}
    _notify_on_commit(
        audience.participants(case) + audience.case_managers(case), "mediation.case.terminated", message, case
    )


def terminate_mediation(case: Case, *, actor: User | None, reason: str, note: str = "", ip: str | None = None) -> Case:
    """在线调解规则 Art 25: mediation ends without agreement, with one of the legal reasons."""
    with transaction.atomic():
        case = _lock(case)
        _terminate(case, actor=actor, reason=reason, note=note, ip=ip)
    return case


# --- evidence --------------------------------------------------------------------------------


def add_evidence(
    case: Case, *, user: User, upload: UploadedFile, description: str = "", ip: str | None = None
) -> Evidence:
    """Accept a file only for what its content is, not what its name claims."""
    try:
        checked = sniff_upload(upload)
    except UploadRejected as exc:
        raise CaseError(str(exc)) from None
    evidence = Evidence(
        uploaded_by=user,
        original_name=checked.safe_name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        sm3=checked.sm3,
        description=description,
    )
    try:
        with transaction.atomic():
            case = _lock(case)
            if case.is_final:
                raise CaseError(_("案件已结束，不能再提交材料。"))
            evidence.case = case
            evidence.file.save(checked.sha256, upload, save=False)
            evidence.save()
            ledger.record(
                "mediation.evidence.uploaded",
                actor=user,
                case=case,
                ip=ip,
                data={
                    "evidence": evidence.pk,
                    "name": evidence.original_name,
                    "type": evidence.content_type,
                    "size": evidence.size,
                    "sha256": evidence.sha256,
                    "sm3": evidence.sm3,
                },
            )
    except BaseException:
        # The rolled-back row no longer points at the stored file; do not leave it behind.
        if evidence.file.name:
            evidence.file.storage.delete(evidence.file.name)
        raise
    return evidence


def record_sensitive_view(
    case: Case, *, user: User, what: str, ip: str | None = None, data: dict[str, Any] | None = None
) -> None:
    """Views of evidence and identity data are themselves evidence (who saw what, when)."""
    ledger.record(f"mediation.viewed.{what}", actor=user, case=case, ip=ip, data=data or {})

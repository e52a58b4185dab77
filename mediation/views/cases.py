"""The consumer's case list and complaint form, and the case page every party shares.

Case-scoped actions are POST-only, but the permission getter runs before the method check: an
outsider gets the same 404 whatever the method, never a 405 that confirms the URL is live.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mediation import permissions, services
from mediation.classification import issue_type_label
from mediation.forms import (
    ComplaintForm,
    ConsentForm,
    DeclineAssignmentForm,
    EvidenceForm,
    InstitutionConsentForm,
    TerminateForm,
)
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    Deadline,
    Evidence,
    InstitutionAnswer,
    IntakeChannel,
    LedgerEntry,
    Role,
    User,
)
from mediation.services import ALLOWED_FROM, CaseError
from mediation.views import staff
from mediation.views.accounts import AuthenticatedRequest

# What happens next, in words a consumer understands.
NEXT_STEP: dict[str, Any] = {
    CaseState.SUBMITTED: gettext_lazy("调解中心正在审核是否受理您的投诉。"),
    CaseState.ACCEPTED: gettext_lazy("投诉已受理，调解中心将把投诉转交被投诉机构处理。"),
    CaseState.NOT_ACCEPTED: gettext_lazy("投诉不予受理，理由见下方记录。您仍可以依法通过其他途径解决。"),
    CaseState.TRANSFERRED: gettext_lazy("被投诉机构应在答复期限内核实情况并答复。"),
    CaseState.ANSWERED: gettext_lazy("机构已答复。投诉人可以认可处理结果，或申请由调解中心组织调解。"),
    CaseState.MEDIATION_REQUESTED: gettext_lazy("投诉人已申请调解，等待被投诉机构确认是否同意在线调解。"),
    CaseState.CHOOSING_MEDIATOR: gettext_lazy("双方可共同选定调解员；逾期由调解中心指定。"),
    CaseState.AWAITING_MEDIATOR: gettext_lazy("等待调解员接受委派。"),
    CaseState.MEDIATING: gettext_lazy("调解进行中，调解员将安排在线调解。"),
    CaseState.AGREEMENT_EFFECTIVE: gettext_lazy("调解协议已生效。双方可在期限内共同申请司法确认。"),
    CaseState.CONFIRMATION_APPLIED: gettext_lazy("已向人民法院申请司法确认，等待法院审查。"),
    CaseState.CONFIRMED: gettext_lazy("法院已确认调解协议有效，请按协议履行。"),
    CaseState.CONFIRMATION_REJECTED: gettext_lazy("法院驳回了司法确认申请。当事人可以重新调解或依法起诉。"),
    CaseState.PERFORMING: gettext_lazy("调解协议正在履行中。"),
    CaseState.CLOSED: gettext_lazy("案件已结案。"),
    CaseState.TERMINATED: gettext_lazy("调解已终止。您可以依法向人民法院提起诉讼。"),
}

# Ledger entries worth showing the parties, besides the state changes themselves.
TIMELINE_ACTIONS: dict[str, Any] = {
    "mediation.evidence.uploaded": gettext_lazy("提交了材料「%(name)s」"),
    "mediation.extension.requested": gettext_lazy("申请延长答复期限 %(days)s 日：%(reason)s"),
    "mediation.extension.granted": gettext_lazy("答复期限延长 %(days)s 日，至 %(due)s"),
    "mediation.extension.rejected": gettext_lazy("延长答复期限 %(days)s 日的申请未获批准"),
    "mediation.term.extended": gettext_lazy("调解期限延长 %(days)s 日，至 %(due)s"),
    "mediation.term.paused": gettext_lazy("调解期限暂停计算：%(reason)s"),
    "mediation.term.resumed": gettext_lazy("调解期限恢复计算，至 %(due)s"),
    "mediation.clock.assignment_started": gettext_lazy("当事人未在期限内选定调解员，由调解中心于 %(due)s 前指定"),
}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime.datetime
    who: str
    title: str
    detail: str = ""


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _who(user: User | None) -> str:
    if user is None:
        return _("系统")
    if user.organisation_id and user.role != Role.CONSUMER:
        return _("%(organisation)s（%(name)s）") % {"organisation": user.organisation, "name": user.display_name}
    return user.display_name


def _timeline(case: Case) -> list[TimelineEvent]:
    answers = list(InstitutionAnswer.objects.filter(case=case).select_related("agent"))
    events: list[TimelineEvent] = []
    for transition in case.transitions.select_related("actor"):
        title = _("状态：%(state)s") % {"state": CaseState(transition.to_state).label}
        detail = transition.reason
        if transition.to_state == CaseState.ANSWERED and answers:
            answer = answers.pop(0)
            title = _("机构答复：%(outcome)s") % {"outcome": answer.get_outcome_display()}
            detail = answer.text
        elif transition.data.get("code") and transition.to_state == CaseState.TERMINATED:
            detail = f"{case.get_termination_reason_display()} {transition.reason}".strip()
        elif transition.data.get("code") and transition.to_state == CaseState.NOT_ACCEPTED:
            detail = f"{case.get_not_accepted_reason_display()} {transition.reason}".strip()
        events.append(TimelineEvent(transition.at, _who(transition.actor), title, detail))
    entries = LedgerEntry.objects.filter(case=case, action__in=TIMELINE_ACTIONS).select_related("actor")
    for entry in entries:
        values = {"name": "", "days": "", "reason": "", "due": "", **entry.data}
        events.append(TimelineEvent(entry.at, _who(entry.actor), str(TIMELINE_ACTIONS[entry.action]) % values))
    return sorted(events, key=lambda event: event.at)


@login_required
def my_cases(request: AuthenticatedRequest) -> HttpResponse:
    cases = (
        permissions.cases_for_user(request.user)
        .select_related("institution")
        .prefetch_related("deadlines")
        .order_by("-created_at", "-id")
    )
    return render(request, "mediation/cases/my_cases.html", {"cases": cases})


@login_required
def file_complaint(request: AuthenticatedRequest) -> HttpResponse:
    """The step-by-step complaint form (在线调解规则 Art 8: dispute summary, phone, service address)."""
    if request.user.role != Role.CONSUMER:
        raise Http404
    form = ComplaintForm(request.POST or None, initial={"service_address": request.user.email})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = services.submit_complaint(
                consumer=request.user,
                entered_by=request.user,
                channel=IntakeChannel.WEB,
                centre=form.chosen_centre(),
                institution=data["institution"],
                product_category=data["product_category"],
                issue_type=data["issue_code"],
                amount_in_dispute=data["amount_in_dispute"],
                description=data["description"],
                requested_outcome=data["requested_outcome"],
                consent_online_mediation=data["consent_online_mediation"],
                service_address=data["service_address"],
                ip=_client_ip(request),
            )
        except CaseError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("投诉已提交，案件编号 %(number)s。") % {"number": case.number})
            return redirect("case_detail", pk=case.pk)
    return render(request, "mediation/cases/file_complaint.html", {"form": form})


def _is_consumer_party(user: User, case: Case) -> bool:
    return user.role == Role.CONSUMER and user.has_perm(permissions.TAKE_PART, case)


def _is_assigned_mediator(user: User, case: Case) -> bool:
    return case.participants.filter(
        user=user,
        removed_at__isnull=True,
        capacity__in=[CaseParticipant.Capacity.MEDIATOR, CaseParticipant.Capacity.LEAD_MEDIATOR],
    ).exists()


# Sections other apps add to the case page (the mediator pool's choice, disclosure and rating
# links) without the core knowing them: each returns a CasePanel for this reader, or None.
@dataclass(frozen=True)
class CasePanel:
    template: str
    context: dict[str, Any]


CASE_PANELS: list[Callable[[User, Case], CasePanel | None]] = []


def register_case_panel(build: Callable[[User, Case], CasePanel | None]) -> None:
    if build not in CASE_PANELS:
        CASE_PANELS.append(build)


@login_required
def case_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk)
    user = request.user
    consumer_party = (
        case.participants.filter(capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True)
        .select_related("user")
        .first()
    )
    deadlines = list(case.deadlines.filter(status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED]))
    is_consumer = _is_consumer_party(user, case)
    is_institution = user.role == Role.INSTITUTION_AGENT and user.has_perm(permissions.ANSWER, case)
    is_mediator = user.has_perm(permissions.MEDIATE, case) and _is_assigned_mediator(user, case)
    context = {
        "case": case,
        "consumer_party": consumer_party.user if consumer_party else None,
        "issue_label": issue_type_label(case.product_category, case.issue_type),
        "timeline": _timeline(case),
        "next_step": NEXT_STEP.get(case.state, ""),
        "deadlines": deadlines,
        "evidence_list": case.evidence.select_related("uploaded_by"),
        "evidence_form": EvidenceForm(),
        "can_add_evidence": not case.is_final,
        "can_accept_resolution": is_consumer and case.state == CaseState.ANSWERED,
        "can_request_mediation": is_consumer and case.state in ALLOWED_FROM[CaseState.MEDIATION_REQUESTED],
        "consent_form": ConsentForm(auto_id="mediation_%s"),
        "can_answer": is_institution and case.state == CaseState.TRANSFERRED,
        "can_consent": is_institution and case.state == CaseState.MEDIATION_REQUESTED,
        "institution_consent_form": InstitutionConsentForm(auto_id="consent_%s"),
        "can_respond_to_assignment": is_mediator and case.state == CaseState.AWAITING_MEDIATOR,
        "decline_form": DeclineAssignmentForm(auto_id="decline_%s"),
        "can_terminate": is_mediator and case.state in ALLOWED_FROM[CaseState.TERMINATED],
        "terminate_form": TerminateForm(auto_id="terminate_%s"),
    }
    if user.has_perm(permissions.MANAGE, case):
        context.update(staff.case_actions_context(case))
    context["panels"] = [panel for build in CASE_PANELS if (panel := build(user, case)) is not None]
    return render(request, "mediation/cases/case_detail.html", context)


def _form_errors(form: Any) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
def evidence_upload(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("case_detail", pk=case.pk)
    try:
        evidence = services.add_evidence(
            case,
            user=request.user,
            upload=form.cleaned_data["file"],
            description=form.cleaned_data["description"],
            ip=_client_ip(request),
        )
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("材料「%(name)s」已上传。") % {"name": evidence.original_name})
    return redirect("case_detail", pk=case.pk)


@login_required
def evidence_download(request: AuthenticatedRequest, pk: int, evidence_pk: int) -> FileResponse:
    case = permissions.get_case_for_user(request.user, pk)
    evidence = get_object_or_404(Evidence, pk=evidence_pk, case=case)
    services.record_sensitive_view(
        case, user=request.user, what="evidence", ip=_client_ip(request), data={"evidence": evidence.pk}
    )
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    # The type is what the upload check sniffed; the browser must not guess another one.
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def accept_resolution(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.TAKE_PART)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.user.role != Role.CONSUMER:
        raise Http404
    try:
        services.accept_resolution(case, consumer=request.user, ip=_client_ip(request))
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("您已认可机构的处理结果，案件已结案。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def request_mediation(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.TAKE_PART)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.user.role != Role.CONSUMER:
        raise Http404
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("case_detail", pk=case.pk)
    try:
        services.request_mediation(case, consumer=request.user, ip=_client_ip(request))
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("调解申请已提交，等待被投诉机构确认。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def institution_consent(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.ANSWER)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.user.role != Role.INSTITUTION_AGENT:
        raise Http404
    form = InstitutionConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("case_detail", pk=case.pk)
    consent = form.cleaned_data["consent"]
    try:
        services.record_institution_consent(
            case, agent=request.user, consent=consent, reason=form.cleaned_data["reason"], ip=_client_ip(request)
        )
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已同意在线调解。") if consent else _("已记录不同意调解，调解终止。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def mediator_accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MEDIATE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.mediator_accepts(case, mediator=request.user, ip=_client_ip(request))
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("您已接受委派，调解期限开始计算。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def mediator_decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MEDIATE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = DeclineAssignmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("case_detail", pk=case.pk)
    try:
        services.mediator_declines(
            case, mediator=request.user, reason=form.cleaned_data["reason"], ip=_client_ip(request)
        )
    except CaseError as error:
        messages.error(request, str(error))
        return redirect("case_detail", pk=case.pk)
    messages.success(request, _("您已拒绝委派，调解中心将重新指定调解员。"))
    # Declining withdrew this mediator's access to the case page.
    return redirect("home")


@login_required
def terminate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MEDIATE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not _is_assigned_mediator(request.user, case):
        raise Http404
    form = TerminateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("case_detail", pk=case.pk)
    try:
        services.terminate_mediation(
            case,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            ip=_client_ip(request),
        )
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("调解已终止，终止记录已保存。"))
    return redirect("case_detail", pk=case.pk)

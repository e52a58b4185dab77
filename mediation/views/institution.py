"""Institution agents: the inbox of transferred complaints, the answer and its extensions.

Case-scoped actions are POST-only, but the permission getter runs before the method check: an
outsider gets the same 404 whatever the method, never a 405 that confirms the URL is live.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mediation import clocks, permissions, services
from mediation.forms import AnswerForm, ExtensionRequestForm
from mediation.models import Case, CaseState, ClockKind, Deadline, ExtensionRequest, Role
from mediation.services import CaseError
from mediation.views.accounts import AuthenticatedRequest


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _require_agent(request: AuthenticatedRequest) -> None:
    if request.user.role != Role.INSTITUTION_AGENT:
        raise Http404


def _open_answer_deadline(case: Case) -> Deadline | None:
    return case.deadlines.filter(
        kind=ClockKind.INSTITUTION_ANSWER, status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED]
    ).first()


@login_required
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    """Transferred complaints, the most urgent first: overdue ones sort before those still running."""
    _require_agent(request)
    open_answer = Deadline.objects.filter(
        case=OuterRef("pk"),
        kind=ClockKind.INSTITUTION_ANSWER,
        status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED],
    )
    cases = (
        permissions.cases_for_user(request.user, permissions.ANSWER)
        .filter(state=CaseState.TRANSFERRED)
        .annotate(answer_due=Subquery(open_answer.values("due_date")[:1]))
        .select_related("institution")
        .order_by("answer_due", "created_at", "id")
    )
    deadlines = {
        deadline.case_id: deadline
        for deadline in Deadline.objects.filter(
            case__in=[case.pk for case in cases],
            kind=ClockKind.INSTITUTION_ANSWER,
            status__in=[Deadline.Status.RUNNING, Deadline.Status.PAUSED],
        )
    }
    calendar = clocks.WorkingCalendar()
    rows = [
        (case, deadline, clocks.remaining(deadline, calendar=calendar) if deadline else None)
        for case, deadline in ((case, deadlines.get(case.pk)) for case in cases)
    ]
    pending = []
    if request.user.can_approve_extensions:
        pending = list(
            ExtensionRequest.objects.filter(
                status=ExtensionRequest.Status.PENDING,
                deadline__case__in=permissions.cases_for_user(request.user, permissions.ANSWER),
            )
            .exclude(requested_by=request.user)
            .select_related("deadline__case", "requested_by")
        )
    return render(request, "mediation/institution/inbox.html", {"rows": rows, "pending": pending})


@login_required
def answer(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.ANSWER)
    _require_agent(request)
    if case.state != CaseState.TRANSFERRED:
        messages.info(request, _("该投诉当前状态为「%(state)s」，无需答复。") % {"state": case.get_state_display()})
        return redirect("case_detail", pk=case.pk)
    form = AnswerForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Attachments and the answer stand or fall together: no orphan evidence on a refused answer.
            with transaction.atomic():
                attachments = [
                    services.add_evidence(
                        case,
                        user=request.user,
                        upload=upload,
                        description=_("机构答复附件"),
                        ip=_client_ip(request),
                    )
                    for upload in form.cleaned_data["attachments"]
                ]
                services.answer_complaint(
                    case,
                    agent=request.user,
                    outcome=form.cleaned_data["outcome"],
                    text=form.cleaned_data["text"],
                    attachments=attachments,
                    ip=_client_ip(request),
                )
        except CaseError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("答复已提交，投诉人将收到通知。"))
            return redirect("institution_inbox")
    deadline = _open_answer_deadline(case)
    context = {
        "case": case,
        "form": form,
        "deadline": deadline,
        "remaining": clocks.remaining(deadline) if deadline else None,
        "extension_requests": deadline.extension_requests.select_related("requested_by", "decided_by")
        if deadline
        else [],
        "extension_form": ExtensionRequestForm(),
    }
    return render(request, "mediation/institution/answer.html", context)


@login_required
def request_extension(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.ANSWER)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_agent(request)
    form = ExtensionRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors.get("reason", [])))
        return redirect("institution_answer", pk=case.pk)
    try:
        extension = services.request_answer_extension(
            case, actor=request.user, reason=form.cleaned_data["reason"], ip=_client_ip(request)
        )
    except CaseError as error:
        messages.error(request, str(error))
    else:
        if extension.status == ExtensionRequest.Status.APPROVED:
            messages.success(request, _("答复期限已延长 %(days)s 日。") % {"days": extension.days})
        else:
            messages.success(
                request, _("延长 %(days)s 日的申请已提交，待有审批权限的人员批准。") % {"days": extension.days}
            )
    return redirect("institution_answer", pk=case.pk)


@login_required
def decide_extension(request: AuthenticatedRequest, pk: int, extension_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.ANSWER)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_agent(request)
    extension = get_object_or_404(ExtensionRequest, pk=extension_pk, deadline__case=case)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        messages.error(request, _("请选择批准或驳回。"))
        return redirect("institution_answer", pk=case.pk)
    approve = decision == "approve"
    try:
        services.decide_extension(extension, actor=request.user, approve=approve, ip=_client_ip(request))
    except CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("已批准延期。") if approve else _("已驳回延期申请。"))
    return redirect("institution_answer", pk=case.pk)

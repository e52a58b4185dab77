"""Performance follow-up and enforcement pages (namespace ``judicial``).

Every view first fetches the case through ``permissions.get_case_for_user``: anyone not on the
case (parties, its mediators, its centre's case managers) gets 404 whatever the method. Who may
do what on an item (the performing side reports, the other side confirms or disputes) is decided
by ``judicial_link.performance``; the wrong person gets 403 and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from judicial_link import enforcement, performance
from judicial_link.forms_performance import DisputeForm, EnforcementForm, ReportForm
from judicial_link.models import DueItem, EnforcementPackage
from judicial_link.performance import PerformanceError
from mediation import permissions, services
from mediation.models import Case, CaseState, Role
from mediation.views.accounts import AuthenticatedRequest

OVERDUE_LIST_SIZE = 200


@dataclass(frozen=True)
class ItemRow:
    item: DueItem
    days_to_due: int  # negative once past the due date
    overdue: bool
    may_report: bool
    may_respond: bool

    @property
    def days_over(self) -> int:
        return -self.days_to_due


def _client_ip(request: AuthenticatedRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _item(case: Case, item_pk: int) -> DueItem:
    item = DueItem.objects.filter(case=case, pk=item_pk).select_related("agreement").first()
    if item is None:
        raise Http404
    item.case = case
    return item


def _page(request: AuthenticatedRequest, case: Case, *, action_error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    items = performance.ensure_due_items(case)
    for item in items:
        item.case = case
    today = timezone.localdate()
    side = performance.side_of(user, case)
    rows = [
        ItemRow(
            item=item,
            days_to_due=(item.due_date - today).days,
            overdue=item.is_overdue(today),
            may_report=side == item.payer and item.state in DueItem.OPEN_STATES,
            may_respond=side == item.payee and item.state == DueItem.State.REPORTED_PAID,
        )
        for item in items
    ]
    summary = performance.summary(items, today)
    limit = enforcement.enforcement_limit(items)
    context: dict[str, Any] = {
        "case": case,
        "rows": rows,
        "summary": summary,
        "limit": limit,
        "days_left": limit.days_left(today) if limit else None,
        "today": today,
        "side": side,
        "is_party": side is not None,
        "confirmed_by": enforcement.confirming_application(case),
        "enforcement_refusal": enforcement.refusal(case, user, items, today) if side else None,
        "packages": list(EnforcementPackage.objects.filter(case=case).select_related("court", "built_by")),
        "may_close": summary.all_confirmed
        and user.has_perm(permissions.MANAGE, case)
        and case.state in services.ALLOWED_FROM[CaseState.CLOSED],
        "action_error": action_error,
    }
    return render(request, "judicial_link/performance/page.html", context, status=status)


@login_required
def performance_page(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _page(request, case)


def _refused(request: AuthenticatedRequest, case: Case, error: PerformanceError) -> HttpResponse:
    """The wrong person or a state that no longer allows it: the page as stored, the error above it."""
    return _page(request, case, action_error=error.message, status=403 if error.forbidden else 400)


def _item_form_page(
    request: AuthenticatedRequest, case: Case, item: DueItem, form: forms.Form, template: str, status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    context = {"case": case, "item": item, "form": form, "overdue": item.is_overdue(today), "today": today}
    return render(request, template, context, status=status)


@login_required
def report(request: AuthenticatedRequest, case_pk: int, item_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    item = _item(case, item_pk)
    template = "judicial_link/performance/report.html"
    if request.method == "GET":
        if not performance.may_report(request.user, item):
            return _refused(request, case, _not_reporter(item))
        return _item_form_page(request, case, item, ReportForm(), template)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = ReportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            performance.report_performed(
                item,
                actor=request.user,
                paid_on=form.cleaned_data["paid_on"],
                amount=form.cleaned_data["amount"],
                note=form.cleaned_data["note"],
                upload=form.cleaned_data["evidence"],
                ip=_client_ip(request),
            )
        except PerformanceError as error:
            if error.field is None:
                return _refused(request, case, error)
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("已报告履行，已通知对方核对确认。"))
            return redirect("judicial:performance", case_pk=case.pk)
    elif not performance.may_report(request.user, item):
        return _refused(request, case, _not_reporter(item))
    item.refresh_from_db()
    return _item_form_page(request, case, item, form, template, status=400)


def _not_reporter(item: DueItem) -> PerformanceError:
    if item.state not in DueItem.OPEN_STATES:
        return PerformanceError(
            "state", _("该项当前状态为「%(state)s」，不能报告履行。") % {"state": item.get_state_display()}
        )
    return PerformanceError(
        "not_payer", _("只有履行方（%(payer)s）可以报告该项已履行。") % {"payer": item.payer_name}, forbidden=True
    )


@login_required
def confirm(request: AuthenticatedRequest, case_pk: int, item_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    item = _item(case, item_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        performance.confirm_performed(item, actor=request.user, ip=_client_ip(request))
    except PerformanceError as error:
        return _refused(request, case, error)
    messages.success(request, _("已确认该项履行完毕。"))
    return redirect("judicial:performance", case_pk=case.pk)


@login_required
def dispute(request: AuthenticatedRequest, case_pk: int, item_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    item = _item(case, item_pk)
    template = "judicial_link/performance/dispute.html"
    if request.method == "GET":
        if not performance.may_respond(request.user, item):
            return _refused(request, case, _not_responder(item))
        return _item_form_page(request, case, item, DisputeForm(), template)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = DisputeForm(request.POST)
    if not performance.may_respond(request.user, item):
        return _refused(request, case, _not_responder(item))
    if form.is_valid():
        try:
            performance.dispute_performed(
                item, actor=request.user, reason=form.cleaned_data["reason"], ip=_client_ip(request)
            )
        except PerformanceError as error:
            if error.field is None:
                return _refused(request, case, error)
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("已提出异议，已通知履行方和调解中心。"))
            return redirect("judicial:performance", case_pk=case.pk)
    return _item_form_page(request, case, item, form, template, status=400)


def _not_responder(item: DueItem) -> PerformanceError:
    if item.state != DueItem.State.REPORTED_PAID:
        return PerformanceError(
            "state", _("该项当前状态为「%(state)s」，尚无待确认的履行报告。") % {"state": item.get_state_display()}
        )
    return PerformanceError(
        "not_payee", _("只有权利方（%(payee)s）可以确认履行或提出异议。") % {"payee": item.payee_name}, forbidden=True
    )


def _download(
    request: AuthenticatedRequest, case: Case, what: str, file: Any, data: dict[str, Any], **response: Any
) -> FileResponse:
    # Who fetched performance evidence or a package, and when, is evidence itself.
    services.record_sensitive_view(case, user=request.user, what=what, ip=_client_ip(request), data=data)
    download = FileResponse(file.open("rb"), as_attachment=True, **response)
    download["X-Content-Type-Options"] = "nosniff"
    return download


@login_required
def payment_evidence(request: AuthenticatedRequest, case_pk: int, item_pk: int) -> HttpResponseBase:
    case = permissions.get_case_for_user(request.user, case_pk)
    item = _item(case, item_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if not item.evidence:
        raise Http404
    return _download(
        request,
        case,
        "payment_evidence",
        item.evidence,
        {"item": item.pk, "sha256": item.evidence_sha256},
        filename=item.evidence_name,
        content_type=item.evidence_content_type,
    )


def _enforcement_page(
    request: AuthenticatedRequest, case: Case, form: EnforcementForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    today = timezone.localdate()
    items = performance.ensure_due_items(case)
    limit = enforcement.enforcement_limit(items)
    refusal = enforcement.refusal(case, request.user, items, today)
    side = performance.side_of(request.user, case)
    context = {
        "case": case,
        "form": form,
        "limit": limit,
        "days_left": limit.days_left(today) if limit else None,
        "today": today,
        "refusal": refusal,
        "action_error": error,
        "application": enforcement.confirming_application(case),
        "breached": enforcement.breached_items(items, today, creditor=side) if side else [],
    }
    return render(request, "judicial_link/performance/enforcement.html", context, status=status)


@login_required
def enforcement_application(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method == "GET":
        return _enforcement_page(request, case, EnforcementForm())
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = EnforcementForm(request.POST)
    if not form.is_valid():
        return _enforcement_page(request, case, form, status=400)
    try:
        built = enforcement.build_enforcement_package(case, actor=request.user, ip=_client_ip(request))
    except PerformanceError as error:
        return _enforcement_page(request, case, form, error=error.message, status=403 if error.forbidden else 400)
    messages.success(
        request,
        _("已生成向%(court)s申请强制执行的材料包，请下载后提交法院。") % {"court": built.court.name},
    )
    return redirect("judicial:performance", case_pk=case.pk)


@login_required
def enforcement_download(request: AuthenticatedRequest, case_pk: int, enforcement_pk: int) -> HttpResponseBase:
    case = permissions.get_case_for_user(request.user, case_pk)
    built = EnforcementPackage.objects.filter(case=case, pk=enforcement_pk).first()
    if built is None:
        raise Http404
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if performance.side_of(request.user, case) is None:
        return _refused(
            request, case, PerformanceError("not_party", _("只有本案当事人可以下载强制执行申请材料。"), forbidden=True)
        )
    return _download(
        request,
        case,
        "enforcement_package",
        built.package,
        {"package": built.pk, "sha256": built.package_sha256},
        filename=f"{case.number}-enforcement.zip",
        content_type="application/zip",
    )


@login_required
def overdue(request: AuthenticatedRequest) -> HttpResponse:
    """The case managers' list of overdue items across their centre; nobody else has one (404)."""
    user = request.user
    if user.role != Role.CASE_MANAGER or user.organisation_id is None:
        raise Http404
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    today = timezone.localdate()
    items = list(performance.overdue_for_centre(user.organisation_id, today)[:OVERDUE_LIST_SIZE])
    context = {
        "rows": [(item, (today - item.due_date).days) for item in items],
        "count": performance.overdue_for_centre(user.organisation_id, today).count(),
        "shown": len(items),
    }
    return render(request, "judicial_link/performance/overdue.html", context)

"""Caseload and evaluation pages: the mediator's dashboard, the centre's load view, ratings,
complaints about mediators and per-mediator figures.

Every view settles who may see it on its first line (a case through
``permissions.get_case_for_user``, a complaint through ``_get_complaint_for_user``, a page
through the reader's role), so an outsider gets 404 whatever the method; only then does it look
at the method.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import ledger, permissions
from mediation.models import Case, Organisation, Role, User
from mediation.services import CaseError
from mediation.views.accounts import AuthenticatedRequest
from mediators import caseload, evaluation
from mediators.forms_caseload import ComplaintDecisionForm, ComplaintForm, RatingForm
from mediators.models import MediatorComplaint


def _centre_of_case_manager(user: User) -> Organisation:
    """The centre pages exist only for case managers; everyone else learns nothing (404)."""
    centre = user.organisation
    if user.role != Role.CASE_MANAGER or centre is None:
        raise Http404
    return centre


def _case_of_party(user: User, pk: int) -> Case:
    """The case, for a party to it; 404 for everyone else, mediators and centre staff included."""
    case = permissions.get_case_for_user(user, pk)
    if evaluation.party_side(user, case) is None:
        raise Http404
    return case


def _get_complaint_for_user(user: User, complaint_pk: int) -> MediatorComplaint:
    """A complaint, for the case managers of the centre that handles it; 404 for everyone else."""
    centre = _centre_of_case_manager(user)
    complaint = (
        evaluation.complaints_for_centre(centre.pk)
        .select_related("case", "mediator", "filed_by", "handled_by")
        .filter(pk=complaint_pk)
        .first()
    )
    if complaint is None:
        raise Http404
    return complaint


# --- caseloads -------------------------------------------------------------------------------


@login_required
def mediator_dashboard(request: AuthenticatedRequest) -> HttpResponse:
    if request.user.role != Role.MEDIATOR:
        raise Http404
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(
        request, "mediators/caseload/dashboard.html", {"dashboard": caseload.mediator_dashboard(request.user)}
    )


@login_required
def centre_load(request: AuthenticatedRequest) -> HttpResponse:
    centre = _centre_of_case_manager(request.user)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(
        request,
        "mediators/caseload/load.html",
        {
            "centre": centre,
            "load": caseload.centre_load(centre),
            "warning_days": caseload.ACCEPTANCE_WARNING_WORKING_DAYS,
        },
    )


# --- ratings and complaints by the parties ---------------------------------------------------


@login_required
def rate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = _case_of_party(request.user, pk)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    ratable = case.state in evaluation.RATABLE_STATES
    # Before the end the served mediators stay selectable so the service can say why it refuses.
    mediators = (
        evaluation.mediators_left_to_rate(case, request.user) if ratable else evaluation.mediators_who_served(case)
    )
    form = RatingForm(request.POST or None, mediators=mediators)
    if request.method == "POST" and form.is_valid():
        mediator: User = form.cleaned_data["mediator"]
        try:
            evaluation.rate_mediator(
                case,
                party=request.user,
                mediator=mediator,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("感谢您对调解员 %(name)s 的评价。") % {"name": mediator.display_name})
            return redirect("case_detail", pk=case.pk)
    return render(
        request,
        "mediators/caseload/rate.html",
        {"case": case, "form": form, "ratable": ratable, "mediators": mediators},
        status=400 if request.method == "POST" else 200,
    )


@login_required
def complain(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    case = _case_of_party(request.user, pk)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    mediators = evaluation.mediators_ever_on(case)
    form = ComplaintForm(request.POST or None, mediators=mediators)
    if request.method == "POST" and form.is_valid():
        try:
            evaluation.file_complaint(
                case,
                party=request.user,
                mediator=form.cleaned_data["mediator"],
                ground=form.cleaned_data["ground"],
                text=form.cleaned_data["text"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("投诉已提交，调解中心将依规处理并告知您结果。"))
            return redirect("case_detail", pk=case.pk)
    return render(
        request,
        "mediators/caseload/complain.html",
        {"case": case, "form": form, "mediators": mediators},
        status=400 if request.method == "POST" else 200,
    )


# --- complaints handled by the centre --------------------------------------------------------


@login_required
def complaint_list(request: AuthenticatedRequest) -> HttpResponse:
    centre = _centre_of_case_manager(request.user)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    complaints = (
        evaluation.complaints_for_centre(centre.pk)
        .select_related("case", "mediator", "filed_by")
        .annotate(is_open=ExpressionWrapper(Q(status=MediatorComplaint.Status.OPEN), output_field=BooleanField()))
        .order_by("-is_open", "-created_at", "-id")
    )
    return render(request, "mediators/caseload/complaint_list.html", {"complaints": complaints})


@login_required
def complaint_detail(request: AuthenticatedRequest, complaint_pk: int) -> HttpResponse:
    complaint = _get_complaint_for_user(request.user, complaint_pk)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    is_open = complaint.status == MediatorComplaint.Status.OPEN
    form = ComplaintDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            evaluation.decide_complaint(
                complaint,
                actor=request.user,
                upheld=form.cleaned_data["decision"] == MediatorComplaint.Status.UPHELD,
                resolution=form.cleaned_data["resolution"],
                ip=ledger.client_ip(request),
            )
        except CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("投诉处理结果已记录，并已通知投诉人和调解员。"))
            return redirect("mediators:complaint_detail", complaint_pk=complaint.pk)
    return render(
        request,
        "mediators/caseload/complaint_detail.html",
        {"complaint": complaint, "form": form, "is_open": is_open},
        status=400 if request.method == "POST" else 200,
    )


# --- figures ---------------------------------------------------------------------------------


def _figures_for(user: User) -> list[evaluation.MediatorFigures]:
    """Case managers see their centre's mediators; regulators and administrators every centre's."""
    if user.role == Role.CASE_MANAGER:
        return evaluation.mediator_figures(caseload.centre_mediators(_centre_of_case_manager(user)))
    if user.role in (Role.REGULATOR, Role.ADMIN) or user.is_superuser:
        return evaluation.mediator_figures(caseload.centre_mediators())
    raise Http404


@login_required
def mediator_figures(request: AuthenticatedRequest) -> HttpResponse:
    figures = _figures_for(request.user)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(
        request,
        "mediators/caseload/figures.html",
        {"figures": figures, "all_centres": request.user.role != Role.CASE_MANAGER},
    )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _text(value: str) -> str:
    # A name starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@login_required
def mediator_figures_csv(request: AuthenticatedRequest) -> HttpResponse:
    figures = _figures_for(request.user)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fengqiao-mediators-{timezone.localdate()}.csv"'
    # A byte-order mark so spreadsheet programs read the Chinese labels as UTF-8.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(
        [
            _("调解组织"),
            _("调解员"),
            _("承办案件"),
            _("达成协议"),
            _("调解终止"),
            _("调解成功率"),
            _("接受委派至结束用时中位数（工作日）"),
            _("平均评分"),
            _("评价数"),
            _("投诉（处理中）"),
            _("投诉（成立）"),
            _("投诉总数"),
        ]
    )
    for row in figures:
        writer.writerow(
            [
                _text(row.centre_name),
                _text(row.name),
                row.handled,
                row.agreements,
                row.terminated,
                _percent(row.success_rate),
                _number(row.median_working_days),
                _number(row.rating_average, 2),
                row.rating_count,
                row.complaints_open,
                row.complaints_upheld,
                row.complaints_total,
            ]
        )
    return response

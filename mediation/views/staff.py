"""Centre staff (case managers): the centre's case list, intake on a caller's behalf, case actions.

Every case action fetches the case through ``permissions.get_case_for_user`` with the MANAGE
permission before anything else (404 for anyone outside the centre, whatever the method, so the
answer never hints that the case exists), then refuses anything but POST and makes one service call.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from mediation import ledger, permissions, services
from mediation.models import (
    Case,
    CaseParticipant,
    CaseState,
    ClockKind,
    Deadline,
    Organisation,
    Role,
    User,
)
from mediation.staff_forms import (
    AssignMediatorForm,
    CaseFilterForm,
    CloseForm,
    DeclineForm,
    ExtendTermForm,
    IntakeForm,
    PauseTermForm,
    TerminateForm,
)
from mediation.views.accounts import AuthenticatedRequest

CASES_PER_PAGE = 50
OPEN_DEADLINE_STATUSES = [Deadline.Status.RUNNING, Deadline.Status.PAUSED]


def _centre_of_case_manager(user: User) -> Organisation:
    """The staff pages exist only for case managers; everyone else learns nothing (404)."""
    centre = user.organisation
    if user.role != Role.CASE_MANAGER or centre is None:
        raise Http404
    return centre


# --- case list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    case: Case
    consumer: User | None
    next_deadline: Deadline | None
    days_left: int | None

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0


def organisation_and_branches(root: Organisation) -> list[int]:
    """Ids of ``root`` and every branch below it (one query per level of the tree)."""
    ids, frontier = [root.pk], [root.pk]
    while frontier:
        children = Organisation.objects.filter(parent__in=frontier).values_list("pk", flat=True)
        # A parent loop entered in the admin must not loop here forever.
        frontier = [pk for pk in children if pk not in ids]
        ids.extend(frontier)
    return ids


def filter_cases(cases: QuerySet[Case], filters: dict[str, Any]) -> QuerySet[Case]:
    today = timezone.localdate()
    if filters.get("q"):
        cases = cases.filter(number__icontains=filters["q"].strip())
    if filters.get("state"):
        cases = cases.filter(state=filters["state"])
    if filters.get("institution"):
        cases = cases.filter(institution__in=organisation_and_branches(filters["institution"]))
    if filters.get("product_category"):
        cases = cases.filter(product_category=filters["product_category"])
    if filters.get("overdue"):
        cases = cases.filter(
            Exists(Deadline.objects.filter(case=OuterRef("pk"), status__in=OPEN_DEADLINE_STATUSES, due_date__lt=today))
        )
    if filters.get("flagged"):
        cases = cases.filter(Q(is_repeat=True) | Q(escalated=True))
    return cases


def case_list_queryset(user: User) -> QuerySet[Case]:
    """The centre's cases with everything a list row shows fetched in a fixed number of queries."""
    return (
        permissions.cases_for_user(user, permissions.MANAGE)
        .select_related("institution")
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=CaseParticipant.objects.filter(
                    capacity=CaseParticipant.Capacity.CONSUMER, removed_at__isnull=True
                ).select_related("user"),
                to_attr="consumer_participants",
            ),
            Prefetch(
                "deadlines",
                queryset=Deadline.objects.filter(status__in=OPEN_DEADLINE_STATUSES).order_by("due_date", "id"),
                to_attr="open_deadlines",
            ),
        )
        .order_by("-created_at", "-id")
    )


def _row(case: Case, today: datetime.date) -> CaseRow:
    consumers: list[CaseParticipant] = case.consumer_participants  # type: ignore[attr-defined]
    deadlines: list[Deadline] = case.open_deadlines  # type: ignore[attr-defined]
    deadline = deadlines[0] if deadlines else None
    return CaseRow(
        case=case,
        consumer=consumers[0].user if consumers else None,
        next_deadline=deadline,
        days_left=(deadline.due_date - today).days if deadline else None,
    )


@login_required
@require_GET
def case_list(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    _centre_of_case_manager(user)
    form = CaseFilterForm(request.GET or None)
    cases = case_list_queryset(user)
    if form.is_valid():
        cases = filter_cases(cases, form.cleaned_data)
    page = Paginator(cases, CASES_PER_PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mediation/staff/case_list.html",
        {
            "form": form,
            "page": page,
            "rows": [_row(case, today) for case in page.object_list],
            "query": query.urlencode(),
        },
    )


# --- intake ----------------------------------------------------------------------------------


def _create_consumer(data: dict[str, Any], *, actor: User, channel: str) -> User:
    """A consumer account opened by staff; it has no password until the person claims it."""
    person = User(
        username=f"c-{uuid.uuid4().hex[:16]}",
        role=Role.CONSUMER,
        real_name=data["real_name"].strip(),
        phone=data["phone"],
        email=data.get("email") or "",
    )
    person.set_unusable_password()
    person.set_id_number(data["id_number"])
    person.save()
    ledger.record(
        "mediation.consumer.registered_by_staff",
        actor=actor,
        data={"user": person.pk, "channel": channel},
    )
    return person


@login_required
@require_http_methods(["GET", "POST"])
def intake(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    centre = _centre_of_case_manager(user)
    form = IntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # One unit: if the complaint is refused, the account opened for it is not kept either.
            with transaction.atomic():
                consumer = data["consumer"] or _create_consumer(data, actor=user, channel=data["channel"])
                case = services.submit_complaint(
                    consumer=consumer,
                    entered_by=user,
                    channel=data["channel"],
                    centre=centre,
                    institution=data["institution"],
                    product_category=data["product_category"],
                    issue_type=data["issue_type"],
                    amount_in_dispute=data["amount_in_dispute"],
                    description=data["description"],
                    requested_outcome=data["requested_outcome"],
                    consent_online_mediation=data["consent_online_mediation"],
                    service_address=data["service_address"],
                    ip=ledger.client_ip(request),
                )
        except services.CaseError as exc:
            form.add_error(None, str(exc))
        except IntegrityError:
            # Someone registered the same ID number between validation and saving.
            form.add_error("id_number", _("该身份证号码已有账户，请重新提交以使用该账户。"))
        else:
            messages.success(request, _("投诉 %(number)s 已登记。") % {"number": case.number})
            return redirect("case_detail", pk=case.pk)
    return render(request, "mediation/staff/intake.html", {"form": form})


# --- case actions ----------------------------------------------------------------------------


def _form_errors(request: HttpRequest, case: Case, form: forms.Form, title: str, action_url: str) -> HttpResponse:
    """Show the action's form again with its field errors (nothing was changed)."""
    return render(
        request,
        "mediation/staff/case_action.html",
        {"case": case, "form": form, "title": title, "action_url": action_url},
        status=400,
    )


# perform(case, actor, cleaned form data, ip) calls one service function.
Perform = Callable[[Case, User, dict[str, Any], str | None], object]


def _case_action(
    request: AuthenticatedRequest,
    pk: int,
    *,
    perform: Perform,
    success: str | Callable[[dict[str, Any]], str],
    form_class: Callable[..., forms.Form] | None = None,
    form_kwargs: Callable[[Case], dict[str, Any]] | None = None,
    title: str = "",
) -> HttpResponse:
    """One centre action on one case: permission (404) before method (405), form, service, message."""
    case = permissions.get_case_for_user(request.user, pk, perm=permissions.MANAGE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    data: dict[str, Any] = {}
    if form_class is not None:
        form = (
            form_class(request.POST, centre=case.centre)
            if form_class is AssignMediatorForm
            else form_class(request.POST)
        )
        if not form.is_valid():
            return _form_errors(request, case, form, title, request.path)
        data = form.cleaned_data
    try:
        perform(case, request.user, data, ledger.client_ip(request))
    except services.CaseError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success(data) if callable(success) else success)
    return redirect("case_detail", pk=case.pk)


@login_required
def accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        perform=lambda case, user, data, ip: services.accept_case(case, actor=user, ip=ip),
        success=_("已受理。"),
    )


@login_required
def decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=DeclineForm,
        title=_("不予受理"),
        perform=lambda case, user, data, ip: services.decline_case(
            case, actor=user, reason=data["reason"], note=data["note"], ip=ip
        ),
        success=_("已决定不予受理，并已通知投诉人。"),
    )


@login_required
def transfer(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        perform=lambda case, user, data, ip: services.transfer_to_institution(case, actor=user, ip=ip),
        success=_("已转办被投诉机构，答复期限开始计算。"),
    )


@login_required
def assign_mediator(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=AssignMediatorForm,
        form_kwargs=lambda case: {"centre": case.centre},
        title=_("指定调解员"),
        perform=lambda case, user, data, ip: services.assign_mediator(
            case, actor=user, mediator=data["mediator"], ip=ip
        ),
        success=lambda data: _("已指定调解员 %(name)s，等待其接受。") % {"name": data["mediator"].display_name},
    )


@login_required
def extend_term(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=ExtendTermForm,
        title=_("延长调解期限"),
        perform=lambda case, user, data, ip: services.extend_mediation_term(
            case, actor=user, days=data["days"], reason=data["reason"], ip=ip
        ),
        success=_("调解期限已延长。"),
    )


@login_required
def pause_term(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=PauseTermForm,
        title=_("暂停调解期限"),
        perform=lambda case, user, data, ip: services.pause_mediation_term(
            case, actor=user, reason=data["reason"], ip=ip
        ),
        success=_("调解期限已暂停计算。"),
    )


@login_required
def resume_term(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        perform=lambda case, user, data, ip: services.resume_mediation_term(case, actor=user, ip=ip),
        success=_("调解期限已恢复计算。"),
    )


@login_required
def terminate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=TerminateForm,
        title=_("终止调解"),
        perform=lambda case, user, data, ip: services.terminate_mediation(
            case, actor=user, reason=data["reason"], note=data["note"], ip=ip
        ),
        success=_("调解已终止，已通知各方。"),
    )


@login_required
def close(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _case_action(
        request,
        pk,
        form_class=CloseForm,
        title=_("结案"),
        perform=lambda case, user, data, ip: services.close_case(case, actor=user, reason=data["reason"], ip=ip),
        success=_("案件已结案。"),
    )


# --- the actions panel on the case page ------------------------------------------------------


def case_actions_context(case: Case) -> dict[str, Any]:
    """Context for ``mediation/staff/_case_actions.html``: the actions the case's state allows.

    The case page calls this only for users holding the MANAGE permission on the case.
    """
    allowed = services.ALLOWED_FROM
    term = None
    if case.state == CaseState.MEDIATING:
        term = (
            Deadline.objects.filter(case=case, kind=ClockKind.MEDIATION_TERM, status__in=OPEN_DEADLINE_STATUSES)
            .order_by("id")
            .first()
        )
    return {
        "staff_actions": {
            "can_accept": case.state in allowed[CaseState.ACCEPTED],
            "can_decline": case.state in allowed[CaseState.NOT_ACCEPTED],
            "can_transfer": case.state in allowed[CaseState.TRANSFERRED],
            "can_assign": case.state == CaseState.CHOOSING_MEDIATOR,
            "can_extend": term is not None,
            "can_pause": term is not None and term.status == Deadline.Status.RUNNING,
            "can_resume": term is not None and term.status == Deadline.Status.PAUSED,
            "can_terminate": case.state in allowed[CaseState.TERMINATED],
            "can_close": case.state in allowed[CaseState.CLOSED],
            "decline_form": DeclineForm(auto_id="staff_decline_%s"),
            "assign_form": AssignMediatorForm(centre=case.centre, auto_id="staff_assign_%s"),
            "extend_form": ExtendTermForm(auto_id="staff_extend_%s"),
            "pause_form": PauseTermForm(auto_id="staff_pause_%s"),
            "terminate_form": TerminateForm(auto_id="staff_terminate_%s"),
            "close_form": CloseForm(auto_id="staff_close_%s"),
        }
    }

"""The scheduling page of a case: its sittings, the mediator's schedule form, the parties' unavailable days.

Every view calls its getter first, so anyone not on the case gets 404 whatever the method; a
person on the case who may not do the thing (a party trying to schedule) gets 404 too, as the
case's mediator-only actions do. A form refused by a rule comes back with the error on its field
and status 400; nothing was changed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from mediation import ledger, permissions
from mediation.models import Case, CaseState
from mediation.views.accounts import AuthenticatedRequest
from sessions import scheduling
from sessions.forms_scheduling import CancelForm, ScheduleForm, UnavailableDateForm
from sessions.models import MediationSession, UnavailableDate
from sessions.scheduling import SchedulingError


def _refuse_method(request: HttpRequest, *allowed: str) -> HttpResponse | None:
    """Called after the getter, so a visitor who may not see the object gets 404 whatever the method."""
    return None if request.method in allowed else HttpResponseNotAllowed(list(allowed))


def _add_error(form: forms.Form, error: SchedulingError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _page(
    request: AuthenticatedRequest,
    case: Case,
    *,
    schedule_form: ScheduleForm | None = None,
    unavailable_form: UnavailableDateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    is_mediator = user.has_perm(permissions.MEDIATE, case)
    can_declare = scheduling.is_party_or_mediator(user, case) and not case.is_final
    can_schedule = is_mediator and case.state == CaseState.MEDIATING
    sittings = list(
        MediationSession.objects.filter(case=case).prefetch_related("expected_participants").order_by("number")
    )
    upcoming = UnavailableDate.objects.filter(case=case, date__gte=timezone.localdate()).select_related("user")
    context: dict[str, Any] = {
        "case": case,
        "sittings": [
            {
                "session": sitting,
                "people": [scheduling.person_label(person, case) for person in sitting.expected_participants.all()],
                "changeable": is_mediator and sitting.state == MediationSession.State.SCHEDULED,
            }
            for sitting in sittings
        ],
        "is_mediator": is_mediator,
        "can_schedule": can_schedule,
        # A refused form is shown even when the page would not offer it now, so its error is seen.
        "schedule_form": schedule_form or (ScheduleForm(case=case) if can_schedule else None),
        "can_declare": can_declare,
        "unavailable_form": unavailable_form or (UnavailableDateForm() if can_declare else None),
        "my_dates": [entry for entry in upcoming if entry.user_id == user.pk],
        # The mediator plans around everyone's days; a party sees only their own.
        "everyone_dates": (
            [{"entry": entry, "who": scheduling.person_label(entry.user, case)} for entry in upcoming]
            if is_mediator
            else []
        ),
        "reminder_hours": sorted(scheduling.reminder_hours(), reverse=True),
    }
    return render(request, "sessions/sessions_list.html", context, status=status)


@login_required
def sessions_list(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    return _page(request, case)


@login_required
def session_schedule(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk, perm=permissions.MEDIATE)
    if refused := _refuse_method(request, "POST"):
        return refused
    form = ScheduleForm(request.POST, case=case)
    if form.is_valid():
        try:
            session = scheduling.schedule_session(
                case, actor=request.user, ip=ledger.client_ip(request), **form.service_arguments()
            )
        except SchedulingError as error:
            _add_error(form, error)
        else:
            messages.success(
                request, _("已安排第 %(session)s 次调解，邀请已发送给应到人员。") % {"session": session.number}
            )
            return redirect("sessions:sessions_list", case_pk=case.pk)
    return _page(request, case, schedule_form=form, status=400)


def _change_page(
    request: AuthenticatedRequest,
    session: MediationSession,
    *,
    form: ScheduleForm | None = None,
    cancel_form: CancelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "case": session.case,
        "session": session,
        "form": form or ScheduleForm(case=session.case, session=session),
        "cancel_form": cancel_form or CancelForm(),
    }
    return render(request, "sessions/session_change.html", context, status=status)


@login_required
def session_reschedule(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session = scheduling.get_session_for_user(request.user, session_pk, perm=permissions.MEDIATE)
    if refused := _refuse_method(request, "GET", "HEAD", "POST"):
        return refused
    if session.state != MediationSession.State.SCHEDULED:
        messages.error(request, _("只能改期或取消尚未开始的调解会议。"))
        return redirect("sessions:sessions_list", case_pk=session.case_id)
    if request.method != "POST":
        return _change_page(request, session)
    form = ScheduleForm(request.POST, case=session.case, session=session)
    if form.is_valid():
        try:
            scheduling.reschedule_session(
                session, actor=request.user, ip=ledger.client_ip(request), **form.service_arguments()
            )
        except SchedulingError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("第 %(session)s 次调解已改期，已通知应到人员。") % {"session": session.number})
            return redirect("sessions:sessions_list", case_pk=session.case_id)
    return _change_page(request, session, form=form, status=400)


@login_required
def session_cancel(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session = scheduling.get_session_for_user(request.user, session_pk, perm=permissions.MEDIATE)
    if refused := _refuse_method(request, "POST"):
        return refused
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            scheduling.cancel_session(
                session, actor=request.user, reason=form.cleaned_data["reason"], ip=ledger.client_ip(request)
            )
        except SchedulingError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("第 %(session)s 次调解已取消，已通知应到人员。") % {"session": session.number})
            return redirect("sessions:sessions_list", case_pk=session.case_id)
    return _change_page(request, session, cancel_form=form, status=400)


@login_required
def session_ics(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session = scheduling.get_session_for_user(request.user, session_pk)
    if refused := _refuse_method(request, "GET", "HEAD"):
        return refused
    response = HttpResponse(scheduling.invitation_ics(session), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{scheduling.ics_filename(session)}"'
    return response


@login_required
def unavailable_add(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if not scheduling.is_party_or_mediator(request.user, case):
        raise Http404  # centre staff declare nothing here
    if refused := _refuse_method(request, "POST"):
        return refused
    form = UnavailableDateForm(request.POST)
    if form.is_valid():
        try:
            entry = scheduling.add_unavailable_date(
                case,
                user=request.user,
                date=form.cleaned_data["date"],
                note=form.cleaned_data["note"],
                ip=ledger.client_ip(request),
            )
        except SchedulingError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("已登记 %(date)s 不便参加。") % {"date": entry.date.isoformat()})
            return redirect("sessions:sessions_list", case_pk=case.pk)
    return _page(request, case, unavailable_form=form, status=400)


@login_required
def unavailable_delete(request: AuthenticatedRequest, unavailable_date_pk: int) -> HttpResponse:
    entry = scheduling.get_unavailable_date_for_owner(request.user, unavailable_date_pk)
    if refused := _refuse_method(request, "POST"):
        return refused
    case_pk, date = entry.case_id, entry.date
    scheduling.remove_unavailable_date(entry, user=request.user, ip=ledger.client_ip(request))
    messages.success(request, _("已删除 %(date)s 的登记。") % {"date": date.isoformat()})
    return redirect("sessions:sessions_list", case_pk=case_pk)

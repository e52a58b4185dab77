"""A sitting's page (state, attendance, the mediator's controls) and the check-in page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mediation import ledger
from mediation.views.accounts import AuthenticatedRequest
from sessions import opening, services
from sessions.forms_opening import AttendanceActionForm, CheckInForm, RecordingForm
from sessions.models import Attendance, MediationSession
from sessions.services import RoomError


def _session(request: AuthenticatedRequest, session_pk: int) -> MediationSession:
    try:
        return opening.session_for_user(request.user, session_pk)
    except RoomError:
        raise Http404 from None


def _mediator_post(request: AuthenticatedRequest, session_pk: int) -> tuple[MediationSession, HttpResponse | None]:
    """404 for outsiders, then 405 for anything but POST, then 403 for people on the case who do not mediate it."""
    session = _session(request, session_pk)
    if request.method != "POST":
        return session, HttpResponseNotAllowed(["POST"])
    if not services.mediates(request.user, session.case):
        raise PermissionDenied(_("只有本案调解员可以执行此操作。"))
    return session, None


@login_required
def session_detail(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session = _session(request, session_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _detail_page(request, session)


def _detail_page(
    request: AuthenticatedRequest, session: MediationSession, *, recording_form: RecordingForm | None = None
) -> HttpResponse:
    user = request.user
    attendances = list(session.attendances.select_related("user").order_by("role", "identity_verified_at"))
    mine = next((a for a in attendances if a.user_id == user.pk), None)
    mediating = services.mediates(user, session.case)
    role = services.case_role(user, session.case)
    context: dict[str, Any] = {
        "session": session,
        "case": session.case,
        "attendances": attendances,
        "mine": mine,
        "mediating": mediating,
        "may_check_in": role is not None and session.state in ("scheduled", "open") and not (mine and mine.checked_in),
        "has_rooms": role is not None,
        "recording_form": recording_form
        or RecordingForm(
            initial={
                "consent": None if session.recording_consent is None else ("yes" if session.recording_consent else "no")
            }
        ),
        "can_order": mediating and session.state == MediationSession.State.OPEN,
    }
    return render(request, "sessions/session_detail.html", context, status=400 if recording_form else 200)


def _run(
    request: AuthenticatedRequest, session: MediationSession, action: Callable[[], object], done: str
) -> HttpResponse:
    try:
        action()
    except RoomError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("sessions:session_detail", session_pk=session.pk)


@login_required
def session_open(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _mediator_post(request, session_pk)
    if refused:
        return refused
    return _run(
        request,
        session,
        lambda: opening.open_sitting(session, mediator=request.user, ip=ledger.client_ip(request)),
        _("调解已开始。"),
    )


@login_required
def session_close(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _mediator_post(request, session_pk)
    if refused:
        return refused
    return _run(
        request,
        session,
        lambda: opening.close_sitting(session, mediator=request.user, ip=ledger.client_ip(request)),
        _("本场调解已结束。"),
    )


@login_required
def session_recording(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _mediator_post(request, session_pk)
    if refused:
        return refused
    form = RecordingForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, session, recording_form=form)
    consent = form.cleaned_data["consent"]
    return _run(
        request,
        session,
        lambda: opening.record_recording_consent(
            session, mediator=request.user, consent=consent, ip=ledger.client_ip(request)
        ),
        _("已记录：当事人同意录音录像。") if consent else _("已记录：当事人不同意录音录像，本场不录音录像。"),
    )


@login_required
def attendance_action(request: AuthenticatedRequest, session_pk: int, attendance_pk: int) -> HttpResponse:
    """The page's buttons for what the room's mute/unmute/move frames do."""
    session, refused = _mediator_post(request, session_pk)
    if refused:
        return refused
    attendance = Attendance.objects.filter(session=session, pk=attendance_pk).select_related("user").first()
    if attendance is None:
        raise Http404
    form = AttendanceActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors["action"]))
        return redirect("sessions:session_detail", session_pk=session.pk)
    action = form.cleaned_data["action"]
    if session.state != MediationSession.State.OPEN:
        messages.error(request, _("本场调解未在进行中。"))
        return redirect("sessions:session_detail", session_pk=session.pk)
    case, ip, target = session.case, ledger.client_ip(request), attendance.user_id

    def run() -> None:
        if action in ("mute", "unmute"):
            opening.set_muted(case, mediator=request.user, target=target, muted=action == "mute", ip=ip)
        else:
            opening.move(case, mediator=request.user, target=target, to=action, ip=ip)

    labels = dict(AttendanceActionForm.base_fields["action"].choices)  # type: ignore[attr-defined]
    done = _("已完成：%(action)s（%(name)s）。") % {"action": labels[action], "name": attendance.user.display_name}
    return _run(request, session, run, done)


@login_required
def check_in(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    """在线调解规则 Art 17: a one-time code to the verified phone, then the sham-mediation warning."""
    session = _session(request, session_pk)
    if services.case_role(request.user, session.case) is None:
        raise Http404  # centre staff see the sitting but take no part in it
    if request.method == "GET":
        return _check_in_page(request, session, CheckInForm())
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    if request.POST.get("action") == "send":
        try:
            record = opening.send_check_in_code(session, user=request.user)
        except RoomError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("验证码已发送至 %(destination)s。") % {"destination": record.destination})
        return redirect("sessions:check_in", session_pk=session.pk)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        return _check_in_page(request, session, form, status=400)
    try:
        opening.check_in(
            session,
            user=request.user,
            code=form.cleaned_data["code"],
            acknowledged=form.cleaned_data["acknowledged"],
            ip=ledger.client_ip(request),
        )
    except RoomError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _check_in_page(request, session, form, status=400)
    messages.success(request, _("签到完成：身份已核验，风险提示已确认。"))
    return redirect("sessions:session_detail", session_pk=session.pk)


def _check_in_page(
    request: AuthenticatedRequest, session: MediationSession, form: CheckInForm, *, status: int = 200
) -> HttpResponse:
    mine = session.attendances.filter(user=request.user).first()
    context = {"session": session, "case": session.case, "form": form, "mine": mine}
    return render(request, "sessions/check_in.html", context, status=status)

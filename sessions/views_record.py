"""The mediation record page of one sitting: the mediator drafts and finalises, the parties confirm
or object, everyone on the case reads it and downloads the sealed PDF.

An outsider gets 404 on every URL, whatever the method. Someone on the case who may not do the
action (a party editing, the mediator confirming) gets the page back with the reason.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mediation import ledger
from mediation.models import Case, User
from mediation.views.accounts import AuthenticatedRequest
from mediation.views.cases import CasePanel
from sessions import record as records
from sessions import services
from sessions.forms_record import ConfirmForm, ObjectForm, RecordForm
from sessions.models import MediationRecord, MediationSession, RecordConfirmation
from sessions.record import RecordError


def _user_agent(request: AuthenticatedRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


def _answers(record: MediationRecord | None, session: MediationSession) -> list[dict[str, Any]]:
    """Each party's state for the current revision: waiting, confirmed, or objected."""
    if record is None or record.revision == 0:
        return []
    given = records.current_answers(record)
    case = session.case
    return [
        {"side": side, "label": records.side_label(side, case), "answer": given.get(side)}
        for side in records.required_sides(case)
    ]


def _page(
    request: AuthenticatedRequest,
    session: MediationSession,
    *,
    record_form: RecordForm | None = None,
    confirm_form: ConfirmForm | None = None,
    object_form: ObjectForm | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    case = session.case
    record = records.record_of(session)
    mediator = services.mediates(user, case)
    side = records.party_side(user, case)
    draft = record is None or record.state == MediationRecord.State.DRAFT
    editable = mediator and draft and session.state != MediationSession.State.CANCELLED
    offered = records.joint_statements(session) if editable else []
    if editable and record_form is None:
        initial: dict[str, Any] = {}
        if record is not None:
            initial = {
                "undisputed_facts": record.undisputed_facts,
                "outcome": record.outcome,
                "outcome_text": record.outcome_text,
                "statements": list(record.statements.values_list("message_id", flat=True)),
            }
        record_form = RecordForm(initial=initial, statements=offered)
    answerable = (
        record is not None
        and record.state == MediationRecord.State.FINALISED
        and side is not None
        and side not in records.current_answers(record)
    )
    objections = []
    if record is not None:
        objections = list(
            record.confirmations.filter(kind=RecordConfirmation.Kind.OBJECTED).select_related("user").order_by("-at")
        )
    context: dict[str, Any] = {
        "case": case,
        "session": session,
        "record": record,
        "mediator": mediator,
        "side": side,
        "record_form": record_form if editable else None,
        "can_finalise": editable and record is not None and session.state == MediationSession.State.CLOSED,
        "snapshot": records.snapshot_of(record) if record is not None and not draft else None,
        "answers": _answers(record, session),
        "objections": objections if (mediator or side) else [],
        "confirm_form": (confirm_form or ConfirmForm()) if answerable else None,
        "object_form": (object_form or ObjectForm()) if answerable else None,
        "action_error": action_error,
    }
    return render(request, "sessions/record.html", context, status=status)


def _refused(
    request: AuthenticatedRequest, session: MediationSession, error: RecordError, **forms: Any
) -> HttpResponse:
    for form in forms.values():
        if form is not None and error.field in form.fields:
            form.add_error(error.field, error.message)
            return _page(request, session, status=400, **forms)
    return _page(request, session, action_error=error.message, status=400, **forms)


def _posted(
    request: AuthenticatedRequest, session_pk: int, *, mediator: bool = False
) -> tuple[MediationSession, HttpResponse | None]:
    """404 for anyone not on the case, then 405 for anything but POST, then 403 when the action is
    the mediator's and the person does not mediate the case."""
    session = records.session_for_user(request.user, session_pk)
    if request.method != "POST":
        return session, HttpResponseNotAllowed(["POST"])
    if mediator and not services.mediates(request.user, session.case):
        raise PermissionDenied
    return session, None


@login_required
def record(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session = records.session_for_user(request.user, session_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _page(request, session)


@login_required
def record_save(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _posted(request, session_pk, mediator=True)
    if refused:
        return refused
    form = RecordForm(request.POST, statements=records.joint_statements(session))
    if not form.is_valid():
        return _page(request, session, record_form=form, status=400)
    data = form.cleaned_data
    try:
        records.save_record(
            session,
            actor=request.user,
            undisputed_facts=data["undisputed_facts"],
            outcome=data["outcome"],
            outcome_text=data["outcome_text"],
            statements=data["statements"],
            ip=ledger.client_ip(request),
        )
    except RecordError as error:
        return _refused(request, session, error, record_form=form)
    messages.success(request, _("调解笔录草稿已保存。"))
    return redirect("sessions:record", session_pk=session.pk)


@login_required
def record_finalise(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _posted(request, session_pk, mediator=True)
    if refused:
        return refused
    try:
        records.finalise(session, actor=request.user, ip=ledger.client_ip(request))
    except RecordError as error:
        return _refused(request, session, error)
    messages.success(request, _("调解笔录已定稿，已通知各方当事人在线确认。"))
    return redirect("sessions:record", session_pk=session.pk)


def _record_or_404(session: MediationSession) -> MediationRecord:
    found = records.record_of(session)
    if found is None:
        raise Http404
    return found


@login_required
def record_confirm(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _posted(request, session_pk)
    if refused:
        return refused
    found = _record_or_404(session)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _page(request, session, confirm_form=form, status=400)
    try:
        records.confirm(
            found,
            user=request.user,
            password=form.cleaned_data["password"],
            ip=ledger.client_ip(request),
            user_agent=_user_agent(request),
        )
    except RecordError as error:
        return _refused(request, session, error, confirm_form=form)
    messages.success(request, _("您已确认调解笔录。"))
    return redirect("sessions:record", session_pk=session.pk)


@login_required
def record_object(request: AuthenticatedRequest, session_pk: int) -> HttpResponse:
    session, refused = _posted(request, session_pk)
    if refused:
        return refused
    found = _record_or_404(session)
    form = ObjectForm(request.POST)
    if not form.is_valid():
        return _page(request, session, object_form=form, status=400)
    try:
        records.object_to(
            found,
            user=request.user,
            password=form.cleaned_data["password"],
            objection=form.cleaned_data["objection"],
            ip=ledger.client_ip(request),
            user_agent=_user_agent(request),
        )
    except RecordError as error:
        return _refused(request, session, error, object_form=form)
    messages.success(request, _("您的异议已提交，调解笔录已退回调解员修改。"))
    return redirect("sessions:record", session_pk=session.pk)


@login_required
def record_pdf(request: AuthenticatedRequest, session_pk: int) -> HttpResponseBase:
    session = records.session_for_user(request.user, session_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    found = _record_or_404(session)
    if not found.is_sealed:
        raise Http404
    try:
        data = records.read_sealed(found)
    except RecordError as error:
        return _page(request, session, action_error=error.message, status=409)
    response = HttpResponse(data, content_type="application/pdf")
    name = f"{session.case.number}-mediation-record-{session.number}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def records_panel(user: User, case: Case) -> CasePanel | None:
    """The case page's list of sittings held and the state of each one's record, with a link."""
    sittings = list(
        MediationSession.objects.filter(
            case=case, state__in=[MediationSession.State.OPEN, MediationSession.State.CLOSED]
        ).order_by("number")
    )
    if not sittings:
        return None
    found = {record.session_id: record for record in MediationRecord.objects.filter(session__in=sittings)}
    side = records.party_side(user, case)
    rows = []
    for sitting in sittings:
        record = found.get(sitting.pk)
        to_answer = (
            record is not None
            and side is not None
            and record.state == MediationRecord.State.FINALISED
            and side not in records.current_answers(record)
        )
        rows.append({"session": sitting, "record": record, "to_answer": to_answer})
    return CasePanel("sessions/record_panel.html", {"case": case, "rows": rows})

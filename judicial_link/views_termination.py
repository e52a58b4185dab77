"""The termination record and the litigation-referral package of a terminated case.

Everyone on the case reads the signed record and downloads the referral package; only the
drafters (the case's mediators, ``termination.drafters``) see the draft, edit it and sign it —
anyone else on the case gets 403 there. An outsider gets 404 on every URL, whatever the method.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from judicial_link import termination
from judicial_link.forms_termination import SignRecordForm, TerminationRecordForm
from judicial_link.models import ReferralPackage, TerminationRecord
from judicial_link.termination import TerminationError
from mediation import permissions
from mediation import services as case_services
from mediation.models import Case, CaseState
from mediation.views.accounts import AuthenticatedRequest
from signing.evidence import Origin


def _origin(request: AuthenticatedRequest) -> Origin:
    return Origin(ip=request.META.get("REMOTE_ADDR") or None, user_agent=request.META.get("HTTP_USER_AGENT", ""))


def _require_drafter(request: AuthenticatedRequest, case: Case) -> None:
    """Someone on the case who is not its mediator: 403 (the outsider got 404 already)."""
    if not termination.may_draft(request.user, case):
        raise PermissionDenied


def _page(
    request: AuthenticatedRequest,
    case: Case,
    *,
    draft_form: TerminationRecordForm | None = None,
    sign_form: SignRecordForm | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    record = termination.record_of(case)
    drafter = termination.may_draft(user, case)
    terminated = case.state == CaseState.TERMINATED
    editable = drafter and terminated and (record is None or not record.is_signed)
    if editable and draft_form is None:
        initial = (
            {name: getattr(record, name) for name in termination.TEXT_FIELDS}
            if record is not None
            else termination.proposed_text(case)
        )
        draft_form = TerminationRecordForm(initial=initial)
    signable = editable and record is not None
    if signable and sign_form is None and record is not None:
        sign_form = SignRecordForm(initial={"seen_hash": termination.content_hash(record)})
    context: dict[str, Any] = {
        "case": case,
        "record": record,
        "drafter": drafter,
        "terminated": terminated,
        "draft_form": draft_form if editable else None,
        "sign_form": sign_form if signable else None,
        "referral": ReferralPackage.objects.filter(case=case).first(),
        "action_error": action_error,
    }
    return render(request, "judicial_link/termination/record.html", context, status=status)


@login_required
def record(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _page(request, case)


@login_required
def save_draft(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_drafter(request, case)
    form = TerminationRecordForm(request.POST)
    if not form.is_valid():
        return _page(request, case, draft_form=form, status=400)
    try:
        termination.save_draft(case, actor=request.user, texts=form.cleaned_data, ip=_origin(request).ip)
    except TerminationError as error:
        if error.field in form.fields:
            form.add_error(error.field, error.message)
            return _page(request, case, draft_form=form, status=400)
        return _page(request, case, draft_form=form, action_error=error.message, status=400)
    messages.success(request, _("调解终结记录已保存。请预览 PDF，核对无误后签署。"))
    return redirect("judicial:termination_record", case_pk=case.pk)


# The record page shows the draft PDF in a frame of its own origin.
@xframe_options_sameorigin
@login_required
def preview(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    _require_drafter(request, case)
    found = termination.record_of(case)
    if found is None:
        raise Http404
    if found.is_signed:
        return redirect("judicial:termination_document", case_pk=case.pk)
    response = HttpResponse(termination.render_record(found), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{case.number}-termination-record-draft.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def sign_code(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_drafter(request, case)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    try:
        sent = termination.request_code(case, user=request.user)
    except TerminationError as error:
        if wants_json:
            status = 429 if error.code in {"rate_limited", "too_soon"} else 400
            body = {"error": {"code": error.code, "field": "code", "message": error.message}}
            return JsonResponse(body, status=status)
        messages.error(request, error.message)
    else:
        message = _("验证码已发送至 %(destination)s。") % {"destination": sent.destination}
        if wants_json:
            return JsonResponse({"destination": sent.destination, "message": message})
        messages.success(request, message)
    return redirect("judicial:termination_record", case_pk=case.pk)


@login_required
def sign(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _require_drafter(request, case)
    form = SignRecordForm(request.POST)
    if not form.is_valid():
        return _page(request, case, sign_form=form, status=400)
    try:
        termination.sign_record(
            case,
            user=request.user,
            password=form.cleaned_data["password"],
            code=form.cleaned_data["code"].strip(),
            seen_hash=form.cleaned_data["seen_hash"],
            origin=_origin(request),
        )
    except TerminationError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, case, sign_form=form, status=400)
    messages.success(request, _("调解终结记录已签署并加盖调解组织电子印章，当事人已收到通知。"))
    return redirect("judicial:termination_record", case_pk=case.pk)


def _file(
    request: AuthenticatedRequest, case: Case, what: str, file: Any, *, data: dict[str, Any], **response: Any
) -> FileResponse:
    # Who fetched a court document, and when, is evidence like any other view of case material.
    case_services.record_sensitive_view(case, user=request.user, what=what, ip=_origin(request).ip, data=data)
    download = FileResponse(file.open("rb"), **response)
    download["X-Content-Type-Options"] = "nosniff"
    return download


@xframe_options_sameorigin
@login_required
def document(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    found: TerminationRecord | None = termination.record_of(case)
    if found is None or not found.is_signed:
        raise Http404
    return _file(
        request,
        case,
        "termination_record",
        found.signed_pdf,
        data={"record": found.pk, "sha256": found.signed_sha256},
        filename=f"{case.number}-termination-record.pdf",
        content_type="application/pdf",
    )


@login_required
def referral_build(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        termination.build_referral(case, actor=request.user, ip=_origin(request).ip)
    except TerminationError as error:
        return _page(request, case, action_error=error.message, status=400)
    messages.success(request, _("诉讼材料包已生成，清单已加盖调解组织电子签名。"))
    return redirect("judicial:termination_record", case_pk=case.pk)


@login_required
def referral_download(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    referral = ReferralPackage.objects.filter(case=case).first()
    if referral is None:
        raise Http404
    return _file(
        request,
        case,
        "referral_package",
        referral.package,
        data={"package": referral.pk, "sha256": referral.package_sha256},
        as_attachment=True,
        filename=f"{case.number}-referral.zip",
        content_type="application/zip",
    )

"""Signing pages: read the final text, get a code, sign or decline; download revisions and the report."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from mediation import permissions
from mediation.models import Case
from mediation.views.accounts import AuthenticatedRequest
from signing import services
from signing.forms_signing import DeclineForm, SignForm
from signing.models import Agreement, PdfRevision
from signing.services import Origin, SigningError


def _origin(request: AuthenticatedRequest) -> Origin:
    return Origin(ip=request.META.get("REMOTE_ADDR") or None, user_agent=request.META.get("HTTP_USER_AGENT", ""))


def _agreement(request: AuthenticatedRequest, case_pk: int) -> tuple[Case, Agreement]:
    case = permissions.get_case_for_user(request.user, case_pk)
    agreement = Agreement.objects.filter(case=case).select_related("case", "final_version").first()
    if agreement is None:
        raise Http404
    return case, agreement


def _page(
    request: AuthenticatedRequest,
    case: Case,
    agreement: Agreement,
    *,
    sign_form: SignForm | None = None,
    decline_form: DeclineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    slot = services.next_slot(user, agreement)
    latest = services.latest_revision(agreement)
    mine = services.slots_for(user, agreement)
    can_decline = slot is not None and slot.stage == slot.STAGE_PARTIES
    if slot is not None and latest is not None and sign_form is None:
        sign_form = SignForm(initial={"seen_sha256": latest.sha256, "request_token": services.new_request_token()})
    if can_decline and decline_form is None:
        decline_form = DeclineForm()
    context: dict[str, Any] = {
        "case": case,
        "agreement": agreement,
        "slots": list(agreement.slots.select_related("signed_by")),
        "revisions": list(agreement.revisions.select_related("slot")),
        "latest": latest,
        "slot": slot,
        "mine": mine,
        "sign_form": sign_form if slot is not None else None,
        "decline_form": decline_form if can_decline else None,
        "can_prepare": agreement.final_version_id is not None
        and latest is None
        and user.has_perm(permissions.MEDIATE, case),
    }
    return render(request, "signing/sign/sign.html", context, status=status)


@login_required
def sign(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case, agreement = _agreement(request, case_pk)
    if request.method == "GET":
        return _page(request, case, agreement)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = SignForm(request.POST)
    if not form.is_valid():
        return _page(request, case, agreement, sign_form=form, status=400)
    try:
        slot = services.sign(
            agreement,
            user=request.user,
            password=form.cleaned_data["password"],
            code=form.cleaned_data["code"].strip(),
            seen_sha256=form.cleaned_data["seen_sha256"],
            request_token=form.cleaned_data["request_token"],
            origin=_origin(request),
        )
    except SigningError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, case, agreement, sign_form=form, status=400)
    agreement.refresh_from_db()
    if agreement.state == Agreement.State.EFFECTIVE:
        messages.success(request, _("签署完成。各方均已签署，调解协议已生效。"))
    else:
        messages.success(request, _("您已完成签署（%(label)s）。") % {"label": slot.label})
    return redirect("signing:sign", case_pk=case.pk)


@login_required
def sign_code(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case, agreement = _agreement(request, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    try:
        _slot, destination = services.request_code(agreement, user=request.user, origin=_origin(request))
    except SigningError as error:
        if wants_json:
            status = 429 if error.code in {"rate_limited", "too_soon"} else 400
            return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=status)
        messages.error(request, error.message)
    else:
        message = _("验证码已发送至 %(destination)s。") % {"destination": destination}
        if wants_json:
            return JsonResponse({"destination": destination, "message": message})
        messages.success(request, message)
    return redirect("signing:sign", case_pk=case.pk)


@login_required
def decline(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case, agreement = _agreement(request, case_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _page(request, case, agreement, decline_form=form, status=400)
    try:
        services.decline(
            agreement,
            user=request.user,
            password=form.cleaned_data["password"],
            code=form.cleaned_data["code"].strip(),
            reason=form.cleaned_data["reason"],
            origin=_origin(request),
        )
    except SigningError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, case, agreement, decline_form=form, status=400)
    messages.warning(request, _("您已拒绝签署。签署已作废，调解终止，各方已收到通知。"))
    return redirect("case_detail", pk=case.pk)


@login_required
def prepare(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    """The mediator retries preparing the signing text if rendering failed after finalisation."""
    case = permissions.get_case_for_user(request.user, case_pk, perm=permissions.MEDIATE)
    agreement = get_object_or_404(Agreement, case=case)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.prepare_signing(agreement, actor=request.user, ip=_origin(request).ip)
    except SigningError as error:
        messages.error(request, error.message)
    return redirect("signing:sign", case_pk=case.pk)


def _pdf(revision: PdfRevision, filename: str) -> FileResponse:
    response = FileResponse(revision.file.open("rb"), filename=filename, content_type="application/pdf")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# The signing page shows the PDF in a frame of its own origin.
@xframe_options_sameorigin
@login_required
def document(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    case, agreement = _agreement(request, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    latest = services.latest_revision(agreement)
    if latest is None:
        raise Http404
    return _pdf(latest, f"{case.number}-agreement.pdf")


@login_required
def revision(request: AuthenticatedRequest, case_pk: int, number: int) -> HttpResponseBase:
    case, agreement = _agreement(request, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    found = get_object_or_404(PdfRevision, agreement=agreement, number=number)
    return _pdf(found, f"{case.number}-agreement-r{number}.pdf")


@login_required
def report(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case, agreement = _agreement(request, case_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if not agreement.revisions.exists():
        raise Http404
    response = HttpResponse(services.signing_report(agreement), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{case.number}-signing-report.pdf"'
    return response

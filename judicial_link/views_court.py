"""The court portal: a court's clerks and judges receive applications, check them, accept and rule.

Every page is for users with role ``court_clerk`` of the court the application went to; anyone
else, other courts' clerks included, gets 404 from ``services.application_for_court_user``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from judicial_link import package, services
from judicial_link.forms_court import AcceptForm, ExtendForm, RefuseForm, RuleForm
from judicial_link.models import ConfirmationApplication
from judicial_link.services import ApplicationError
from mediation import audience
from mediation import services as case_services
from mediation.models import CaseParticipant, Deadline, Role
from mediation.views.accounts import AuthenticatedRequest

INBOX_PAGE_SIZE = 50
# Only manifest.json is read for the per-file hashes; a stored package's manifest is a few kB.
MAX_MANIFEST_BYTES = 5 * 1024 * 1024

DOC_TYPE_LABELS: dict[str, StrOrPromise] = {
    "agreement": gettext_lazy("调解协议书"),
    "signing_report": gettext_lazy("签署报告"),
    "application_form": gettext_lazy("司法确认申请书"),
    # The application's own documents carry the pre-flight codes; "undertaking:consumer:7" is an undertaking.
    "undertaking": gettext_lazy("承诺书"),
    "business_licence": gettext_lazy("营业执照"),
    "legal_representative_certificate": gettext_lazy("法定代表人（负责人）身份证明书"),
    "power_of_attorney": gettext_lazy("授权委托书"),
    "mediation_record": gettext_lazy("调解笔录"),
    "presiding_proof": gettext_lazy("调解组织主持调解证明"),
    "termination_record": gettext_lazy("调解终结记录"),
    "evidence": gettext_lazy("证据材料"),
    "ledger_excerpt": gettext_lazy("审计日志摘录"),
    "parties": gettext_lazy("送达地址及联系电话"),
}


@dataclass(frozen=True)
class SignatureRow:
    signer: str
    organisation: str
    signed_at: datetime | None
    ok: bool
    verdict: str


@dataclass(frozen=True)
class FileRow:
    path: str
    title: str
    doc_type: str
    size: int
    sha256: str  # as the signed manifest records it; "" when the manifest cannot be read
    ok: bool
    problems: list[str]
    signed_pdf: bool
    pdf_verdict: str
    signatures: list[SignatureRow] = field(default_factory=list)


def _client_ip(request: AuthenticatedRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _clerk_only(request: AuthenticatedRequest) -> None:
    if request.user.role != Role.COURT_CLERK:
        raise Http404


def _next_deadline(application: ConfirmationApplication) -> Deadline | None:
    """The court clock running now: acceptance while submitted, the ruling once accepted."""
    if application.state not in ConfirmationApplication.OPEN_STATES:
        return None
    for deadline in services.deadlines(application).values():
        if deadline is not None and deadline.is_open:
            return deadline
    return None


@login_required
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    _clerk_only(request)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    consumers = CaseParticipant.objects.filter(
        removed_at__isnull=True, capacity=CaseParticipant.Capacity.CONSUMER
    ).select_related("user")
    applications = (
        services.applications_for(request.user)
        .select_related("case", "case__institution")
        .prefetch_related(Prefetch("case__participants", queryset=consumers, to_attr="consumer_participants"))
        .order_by("-submitted_at", "-pk")
    )
    page = Paginator(applications, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(application, _next_deadline(application)) for application in page]
    context = {"court": request.user.organisation, "page": page, "rows": rows}
    return render(request, "judicial_link/court/inbox.html", context)


def _manifest_hashes(application: ConfirmationApplication) -> dict[str, str]:
    """Path → SHA-256 as the stored package's manifest lists them (what the centre signed)."""
    try:
        with application.package.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            info = archive.getinfo(package.MANIFEST)
            if info.file_size > MAX_MANIFEST_BYTES:
                return {}
            manifest = json.loads(archive.read(info).decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, list):
        return {}
    return {
        entry["path"]: entry["sha256"]
        for entry in listed
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str)
    }


def _signature_rows(pdf: dict[str, Any] | None) -> list[SignatureRow]:
    if not pdf:
        return []
    return [
        SignatureRow(
            signer=str(signature.get("signer", "")),
            organisation=str(signature.get("organisation", "")),
            signed_at=parse_datetime(signature["signed_at"]) if signature.get("signed_at") else None,
            ok=bool(signature.get("ok")),
            verdict=str(signature.get("verdict", "")),
        )
        for signature in pdf.get("signatures") or []
    ]


def _file_rows(application: ConfirmationApplication) -> list[FileRow]:
    report = application.integrity_report or {}
    problems_by_path: dict[str, list[str]] = {}
    for problem in report.get("problems") or []:
        problems_by_path.setdefault(str(problem.get("path", "")), []).append(str(problem.get("message", "")))
    hashes = _manifest_hashes(application)
    rows = []
    for checked in report.get("files") or []:
        path = str(checked.get("path", ""))
        doc_type = str(checked.get("doc_type", ""))
        pdf = checked.get("pdf")
        rows.append(
            FileRow(
                path=path,
                title=str(checked.get("title", "")),
                doc_type=str(DOC_TYPE_LABELS.get(doc_type.split(":", 1)[0], doc_type)),
                size=int(checked.get("size") or 0),
                sha256=hashes.get(path, ""),
                ok=bool(checked.get("ok")),
                problems=problems_by_path.get(path, []),
                signed_pdf=doc_type in package.SIGNED_DOC_TYPES,
                pdf_verdict=str(pdf.get("verdict", "")) if pdf else "",
                signatures=_signature_rows(pdf),
            )
        )
    return rows


def _page(
    request: AuthenticatedRequest,
    application: ConfirmationApplication,
    *,
    posted: dict[str, forms.Form] | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    posted = posted or {}
    state = application.state
    State = ConfirmationApplication.State
    shown: dict[str, forms.Form] = {}
    if state == State.SUBMITTED:
        shown["accept_form"] = posted.get("accept_form") or AcceptForm()
        shown["refuse_form"] = posted.get("refuse_form") or RefuseForm()
    elif state == State.ACCEPTED:
        shown["rule_form"] = posted.get("rule_form") or RuleForm()
        if application.ruling_extended_at is None:
            shown["extend_form"] = posted.get("extend_form") or ExtendForm()
    # A decision posted in a state that no longer offers its form: its errors go above the page.
    hidden_errors = [
        str(error)
        for name, form in posted.items()
        if name not in shown
        for errors in form.errors.values()
        for error in errors
    ]
    action_error = " ".join(filter(None, [action_error, *hidden_errors]))
    report = application.integrity_report or {}
    deadlines = [deadline for deadline in services.deadlines(application).values() if deadline is not None]
    case = application.case
    context: dict[str, Any] = {
        "application": application,
        "case": case,
        "consumers": audience.consumers(case),
        "report": report,
        "problems": report.get("problems") or [],
        "files": _file_rows(application),
        "deadlines": deadlines,
        "action_error": action_error,
        **shown,
    }
    return render(request, "judicial_link/court/application.html", context, status=status)


@login_required
def application_detail(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    application = services.application_for_court_user(request.user, application_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if application.integrity_checked_at is None:
        # Checked automatically on receipt: the first time a clerk of the court opens it.
        application = services.check_integrity(application)
    return _page(request, application)


@login_required
def recheck(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    application = services.application_for_court_user(request.user, application_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        application = services.check_integrity(application)
    except ApplicationError as error:
        messages.error(request, str(error))
    else:
        if application.integrity_ok:
            messages.success(request, _("已重新核验：材料包完整，全部签名有效。"))
        else:
            messages.error(request, _("已重新核验：材料包未通过核验，问题见下方。"))
    return redirect("judicial:court_application", application_pk=application.pk)


def _act(
    request: AuthenticatedRequest,
    application_pk: int,
    form_class: type[forms.Form],
    form_name: str,
    perform: Callable[[ConfirmationApplication, Any], str],
) -> HttpResponse:
    """Shared by the four decisions: bind the form, call the service, re-render with its error on the field."""
    application = services.application_for_court_user(request.user, application_pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = form_class(request.POST)
    action_error = ""
    if form.is_valid():
        try:
            message = perform(application, form)
        except ApplicationError as error:
            if error.field in form.fields:
                form.add_error(error.field, str(error))
            else:
                action_error = str(error)
        else:
            messages.success(request, message)
            return redirect("judicial:court_application", application_pk=application.pk)
    # The service rolled back; show the application as it is stored.
    application.refresh_from_db()
    return _page(request, application, posted={form_name: form}, action_error=action_error, status=400)


@login_required
def accept(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    def perform(application: ConfirmationApplication, form: AcceptForm) -> str:
        done = services.accept(
            application,
            clerk=request.user,
            court_case_number=form.cleaned_data["court_case_number"].strip(),
            ip=_client_ip(request),
        )
        return _("已受理，法院案号为 %(number)s。申请人和调解中心已收到通知。") % {"number": done.court_case_number}

    return _act(request, application_pk, AcceptForm, "accept_form", perform)


@login_required
def refuse(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    def perform(application: ConfirmationApplication, form: RefuseForm) -> str:
        services.refuse(application, clerk=request.user, reason=form.cleaned_data["reason"], ip=_client_ip(request))
        return _("已决定不予受理。申请人和调解中心已收到通知。")

    return _act(request, application_pk, RefuseForm, "refuse_form", perform)


@login_required
def extend(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    def perform(application: ConfirmationApplication, form: ExtendForm) -> str:
        services.extend_ruling(
            application, clerk=request.user, approval_note=form.cleaned_data["approval_note"], ip=_client_ip(request)
        )
        return _("审查期限已延长10日，批准情况已记录。")

    return _act(request, application_pk, ExtendForm, "extend_form", perform)


@login_required
def rule(request: AuthenticatedRequest, application_pk: int) -> HttpResponse:
    def perform(application: ConfirmationApplication, form: RuleForm) -> str:
        services.rule(
            application,
            clerk=request.user,
            confirmed=form.confirmed,
            reasons=form.cleaned_data["reasons"],
            ip=_client_ip(request),
        )
        if form.confirmed:
            return _("已裁定确认调解协议有效。裁定书已加盖本院电子印章，并送达当事人和调解中心。")
        return _("已裁定驳回申请。裁定书已加盖本院电子印章，并送达当事人和调解中心。")

    return _act(request, application_pk, RuleForm, "rule_form", perform)


def _download(
    request: AuthenticatedRequest, application: ConfirmationApplication, what: str, file: Any, **response: Any
) -> FileResponse:
    # Who fetched a court file, and when, is evidence like any other view of case material.
    case_services.record_sensitive_view(
        application.case, user=request.user, what=what, ip=_client_ip(request), data={"application": application.pk}
    )
    download = FileResponse(file.open("rb"), as_attachment=True, **response)
    download["X-Content-Type-Options"] = "nosniff"
    return download


@login_required
def package_download(request: AuthenticatedRequest, application_pk: int) -> HttpResponseBase:
    application = services.application_for_court_user(request.user, application_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _download(
        request,
        application,
        "confirmation_package",
        application.package,
        filename=f"{application.case.number}-confirmation.zip",
        content_type="application/zip",
    )


@login_required
def ruling_download(request: AuthenticatedRequest, application_pk: int) -> HttpResponseBase:
    application = services.application_for_court_user(request.user, application_pk)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if not application.ruling:
        raise Http404
    return _download(
        request,
        application,
        "confirmation_ruling",
        application.ruling,
        filename=f"{application.case.number}-ruling.pdf",
        content_type="application/pdf",
    )

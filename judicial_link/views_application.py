"""The parties' application page: venue facts and court, documents signed or uploaded, pre-flight, submit.

Everyone on the case may look (404 for anyone else, before any 405); only the parties act, and
``judicial_link.application`` decides what each may do, naming the field on its errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from judicial_link import application, preflight, venue
from judicial_link.forms_application import CourtForm, DocumentForm, FactsForm, SignForm, UploadForm
from judicial_link.models import ApplicationDraft, ConfirmationApplication
from judicial_link.services import ApplicationError
from mediation import audience, permissions
from mediation.models import Case, CaseState
from mediation.views.accounts import AuthenticatedRequest
from signing.evidence import origin_of

FORMS = ("facts_form", "court_form", "sign_form", "upload_form")


def _case(request: AuthenticatedRequest, case_pk: int, *, method: str) -> Case | HttpResponseNotAllowed:
    case = permissions.get_case_for_user(request.user, case_pk)
    if request.method != method:
        return HttpResponseNotAllowed([method])
    return case


def _document_rows(case: Case, draft: ApplicationDraft, key: str | None) -> list[dict[str, Any]]:
    stored = {document.code: document for document in draft.documents.all()}
    signable = {item.code: item for item in application.signables(case)}
    uploadable = set(application.uploadable_codes(case, key, draft)) if key else set()
    names = {application.consumer_key(user): user.display_name for user in audience.consumers(case)}
    names[application.INSTITUTION] = case.institution.name
    keys = application.applicant_keys(case)
    rows = []
    for required in preflight.required_documents(case, consumer_agents=draft.consumer_agents):
        if required.derived:
            continue
        document = stored.get(required.code)
        item = signable.get(required.code)
        signed_by = document.signed_by if document else []
        if item is not None:
            waiting = [k for k in (keys if item.signer_key == "*" else [item.signer_key]) if k not in signed_by]
            done = not waiting
            may_sign = key is not None and key in waiting and (required.code != application.FORM or draft.court_id)
        else:
            waiting, done, may_sign = [], document is not None, False
        rows.append(
            {
                "code": required.code,
                "label": required.label,
                "how": required.how,
                "document": document,
                "signed_names": [names.get(k, k) for k in signed_by],
                "waiting_names": [names.get(k, k) for k in waiting],
                "done": done,
                "signable": item is not None,
                "may_sign": may_sign,
                "may_upload": required.code in uploadable,
                "readable": document is not None
                or (item is not None and (required.code != application.FORM or draft.court_id)),
            }
        )
    return rows


def _page(
    request: AuthenticatedRequest,
    case: Case,
    *,
    posted: dict[str, forms.Form] | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    key = application.party_key(request.user, case)
    submitted = ConfirmationApplication.objects.filter(case=case).order_by("-submitted_at").first()
    draft, result = application.preflight_result(case)
    domiciles = draft.facts.get("consumer_domiciles", {})
    mine = domiciles.get(str(request.user.pk), {})
    posted = posted or {}
    context: dict[str, Any] = {
        "case": case,
        "key": key,
        "open": case.state == CaseState.AGREEMENT_EFFECTIVE,
        "is_consumer": bool(key and key != application.INSTITUTION),
        "draft": draft,
        "result": result,
        "submitted": submitted,
        "courts": venue.allowed_courts(case, facts=application.venue_facts(draft)),
        "rows": _document_rows(case, draft, key),
        "facts_form": posted.get("facts_form")
        or FactsForm(
            initial={
                "domicile_address": mine.get("address", ""),
                "domicile_region": mine.get("region", ""),
                "subject_matter_region": draft.facts.get("subject_matter_region", ""),
                "through_agent": request.user.pk in draft.consumer_agents,
            }
        ),
        "court_form": posted.get("court_form") or CourtForm(initial={"court": draft.court_id}),
        "sign_form": posted.get("sign_form"),
        "upload_form": posted.get("upload_form"),
        "action_error": action_error,
    }
    return render(request, "judicial_link/application/apply.html", context, status=status)


@login_required
def apply(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = _case(request, case_pk, method="GET")
    if not isinstance(case, Case):
        return case
    return _page(request, case)


def _act(
    request: AuthenticatedRequest,
    case_pk: int,
    form_class: type[forms.Form],
    form_name: str,
    perform: Callable[[Case, Any], str],
) -> HttpResponse:
    """Bind, call the service, and either redirect with its message or show its error on the field."""
    case = _case(request, case_pk, method="POST")
    if not isinstance(case, Case):
        return case
    form = form_class(request.POST, request.FILES)
    action_error = ""
    if form.is_valid():
        try:
            message = perform(case, form)
        except ApplicationError as error:
            if error.field in form.fields and not isinstance(form.fields[error.field].widget, forms.HiddenInput):
                form.add_error(error.field, str(error))
            else:
                action_error = str(error)
        else:
            messages.success(request, message)
            return redirect("judicial:apply", case_pk=case.pk)
    return _page(request, case, posted={form_name: form}, action_error=action_error, status=400)


@login_required
def save_facts(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    def perform(case: Case, form: FactsForm) -> str:
        _draft, voided = application.set_facts(case, user=request.user, **form.cleaned_data)
        return _("管辖事实已保存，此前的申请书签名已作废，请重新签署。") if voided else _("管辖事实已保存。")

    return _act(request, case_pk, FactsForm, "facts_form", perform)


@login_required
def choose_court(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    def perform(case: Case, form: CourtForm) -> str:
        draft, voided = application.choose_court(case, user=request.user, court_pk=form.cleaned_data["court"])
        name = draft.court.name if draft.court else ""
        if voided:
            return _("已改为向%(court)s申请，此前的申请书签名已作废，请双方重新签署。") % {"court": name}
        return _("已选择向%(court)s申请。") % {"court": name}

    return _act(request, case_pk, CourtForm, "court_form", perform)


@login_required
def request_code(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = _case(request, case_pk, method="POST")
    if not isinstance(case, Case):
        return case
    form = DocumentForm(request.POST)
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        if not form.is_valid():
            raise ApplicationError("document", _("请选择要签署的文件。"), field="document")
        sent = application.request_code(case, user=request.user, code=form.cleaned_data["document"])
    except ApplicationError as error:
        if wants_json:
            return JsonResponse(
                {"error": {"code": error.code, "message": str(error), "field": error.field}}, status=400
            )
        return _page(request, case, action_error=str(error), status=400)
    message = _("验证码已发送至 %(destination)s，%(minutes)d 分钟内有效。") % {
        "destination": sent.destination,
        "minutes": max(1, int((sent.expires_at - sent.created_at).total_seconds() // 60)),
    }
    if wants_json:
        return JsonResponse({"sent_to": sent.destination, "message": message})
    messages.info(request, message)
    page = reverse("judicial:apply", kwargs={"case_pk": case.pk})
    return redirect(f"{page}?sign={form.cleaned_data['document']}#documents")


@login_required
def sign(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    def perform(case: Case, form: SignForm) -> str:
        application.sign(
            case,
            user=request.user,
            code=form.cleaned_data["document"],
            password=form.cleaned_data["password"],
            otp=form.cleaned_data["otp"],
            confirmed=form.cleaned_data["confirmed"],
            origin=origin_of(request),
        )
        return _("签署成功。")

    return _act(request, case_pk, SignForm, "sign_form", perform)


@login_required
def upload(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    def perform(case: Case, form: UploadForm) -> str:
        application.upload(
            case, user=request.user, code=form.cleaned_data["code"], upload_file=form.cleaned_data["file"]
        )
        return _("材料已上传。")

    return _act(request, case_pk, UploadForm, "upload_form", perform)


@login_required
def submit(request: AuthenticatedRequest, case_pk: int) -> HttpResponse:
    case = _case(request, case_pk, method="POST")
    if not isinstance(case, Case):
        return case
    try:
        done = application.submit(case, user=request.user, ip=origin_of(request).ip)
    except ApplicationError as error:
        return _page(request, case, action_error=str(error), status=400)
    messages.success(
        request, _("已向%(court)s提交司法确认申请，法院将在三日内决定是否受理。") % {"court": done.court.name}
    )
    return redirect("judicial:apply", case_pk=case.pk)


@login_required
@xframe_options_sameorigin
def document(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    """A document of the draft as stored, or — before anyone signed — as it will be signed."""
    case = _case(request, case_pk, method="GET")
    if not isinstance(case, Case):
        return case
    code = request.GET.get("code", "")
    draft = application.draft_for(case)
    stored = draft.documents.filter(code=code).first()
    if stored is not None:
        name = f"{case.number}-{code.replace(':', '-')}.{stored.extension}"
        return FileResponse(stored.file.open("rb"), filename=name, as_attachment=False)
    if code == application.FORM and draft.court is not None:
        data = application.render_application_form(case, draft.court, domiciles=draft.facts.get("consumer_domiciles"))
    elif code.startswith("undertaking:") and code in {item.code for item in application.signables(case)}:
        item = next(item for item in application.signables(case) if item.code == code)
        data = application.render_undertaking(case, item.signer_key)
    else:
        raise Http404
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{case.number}-{code.replace(":", "-")}.pdf"'
    return response


@login_required
def ruling(request: AuthenticatedRequest, case_pk: int) -> HttpResponseBase:
    """The court's sealed ruling (民事裁定书), for everyone on the case."""
    case = _case(request, case_pk, method="GET")
    if not isinstance(case, Case):
        return case
    decided = ConfirmationApplication.objects.filter(case=case).exclude(ruling="").order_by("-ruled_at").first()
    if decided is None:
        raise Http404
    return FileResponse(decided.ruling.open("rb"), filename=f"{case.number}-ruling.pdf", as_attachment=True)

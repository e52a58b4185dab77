"""Public verification (no login): upload a signed agreement PDF, follow the QR code, or call the JSON API.

What an anonymous visitor learns about an agreement is limited to its case number, its state and
the signing progress (在线调解规则 Art 29: mediation content is confidential); the signatures'
certificate names come from the file itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from signing import verify

# Multipart framing around the file (boundaries, part headers, the CSRF token) stays far below this.
MULTIPART_OVERHEAD = 64 * 1024
STATUS_FOR_ERROR = {"too_large": 413, "not_pdf": 415, "unsupported_media_type": 415}


class VerifyUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("协议PDF文件"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("请选择本平台出具的已签署调解协议PDF文件，不超过 %(limit)d MB。") % {
            "limit": verify.max_upload_bytes() // 1048576
        }


class VerifyCodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("验证码"), max_length=40)


def _too_large_error() -> verify.VerificationError:
    limit_mb = verify.max_upload_bytes() // 1048576
    return verify.VerificationError("too_large", _("文件过大，不能超过 %(limit)d MB。") % {"limit": limit_mb})


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _read_upload(upload: UploadedFile) -> bytes:
    """The uploaded bytes, refusing anything over the limit before reading it into memory."""
    if (upload.size or 0) > verify.max_upload_bytes():
        raise _too_large_error()
    upload.seek(0)
    return upload.read()


# --- the page ----------------------------------------------------------------------------------


def verify_upload(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    code_form = VerifyCodeForm(request.GET if "code" in request.GET else None)
    if request.method != "POST":
        if code_form.is_bound and code_form.is_valid():
            code = verify.normalise_code(code_form.cleaned_data["code"])
            if code:
                return redirect("signing:verify_code", code=code)
        return render(request, "signing/verify/upload.html", {"form": VerifyUploadForm(), "code_form": code_form})

    if _declared_length(request) > verify.max_upload_bytes() + MULTIPART_OVERHEAD:
        # Refuse before Django spools the multipart body to disk: the form stays unparsed.
        error = _too_large_error()
        form = VerifyUploadForm(data={}, files={})
        form.is_valid()
        form.errors["file"] = form.error_class([error.message])
        return _upload_page_with_error(request, form, error)
    form = VerifyUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "signing/verify/upload.html", {"form": form, "code_form": VerifyCodeForm()}, status=400)
    try:
        report = verify.verify_pdf(_read_upload(form.cleaned_data["file"]))
    except verify.VerificationError as error:
        form.add_error("file", error.message)
        return _upload_page_with_error(request, form, error)
    context = {
        "report": report,
        "agreement": verify.match_agreement(report),
        "file_name": form.cleaned_data["file"].name,
    }
    return render(request, "signing/verify/report.html", context)


def _upload_page_with_error(
    request: HttpRequest, form: VerifyUploadForm, error: verify.VerificationError
) -> HttpResponse:
    return render(
        request,
        "signing/verify/upload.html",
        {"form": form, "code_form": VerifyCodeForm()},
        status=STATUS_FOR_ERROR.get(error.code, 400),
    )


def verify_code(request: HttpRequest, code: str) -> HttpResponse:
    """The QR code's target: the agreement's status and a verification of its latest revision."""
    agreement = verify.find_agreement_by_code(code)
    if agreement is None:
        return render(
            request, "signing/verify/unknown_code.html", {"code": code, "code_form": VerifyCodeForm()}, status=404
        )
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    latest = agreement.revisions.order_by("-number").first()
    status = verify.agreement_status(agreement, revision=latest.number if latest else None)
    context: dict[str, Any] = {"agreement": status, "report": None, "code_page": True}
    if latest is None:
        return render(request, "signing/verify/report.html", context)
    try:
        with latest.file.open("rb") as stored:
            data = stored.read()
    except OSError:
        context["storage_error"] = True
        return render(request, "signing/verify/report.html", context, status=500)
    try:
        context["report"] = verify.verify_pdf(data, size_limit=False)
    except verify.VerificationError as error:
        context["verification_error"] = error.message
        return render(request, "signing/verify/report.html", context, status=500)
    # The archived file must be the one whose hash was recorded when it was written.
    context["stored_hash_matches"] = context["report"].sha256 == latest.sha256
    context["recorded_sha256"] = latest.sha256
    return render(request, "signing/verify/report.html", context)


# --- the JSON API ----------------------------------------------------------------------------------


def _api_error(error: verify.VerificationError, status: int | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": error.code, "field": "file", "message": error.message}},
        status=status or STATUS_FOR_ERROR.get(error.code, 400),
        json_dumps_params={"ensure_ascii": False},
    )


def _api_body(request: HttpRequest) -> bytes:
    """The PDF from a multipart ``file`` part or a raw ``application/pdf`` body."""
    limit = verify.max_upload_bytes()
    content_type = request.content_type or ""
    if content_type != "multipart/form-data" and _declared_length(request) == 0:
        raise verify.VerificationError("required", _("请上传PDF文件（表单字段 file）。"))
    if content_type == "multipart/form-data":
        if _declared_length(request) > limit + MULTIPART_OVERHEAD:
            raise _too_large_error()
        upload = request.FILES.get("file")
        if upload is None:
            raise verify.VerificationError("required", _("请上传PDF文件（表单字段 file）。"))
        return _read_upload(upload)
    if content_type == "application/pdf":
        if _declared_length(request) > limit:
            raise _too_large_error()
        # request.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB); read the stream with our own limit.
        data = request.read(limit + 1)
        if len(data) > limit:
            raise _too_large_error()
        return data
    raise verify.VerificationError(
        "unsupported_media_type",
        _("请以 multipart/form-data（字段 file）或 application/pdf 格式提交PDF文件。"),
    )


@csrf_exempt  # a machine endpoint without cookies or state: nothing for a forged request to ride on
def verify_api(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = JsonResponse(
            {"error": {"code": "method_not_allowed", "field": None, "message": _("请使用 POST 提交PDF文件。")}},
            status=405,
            json_dumps_params={"ensure_ascii": False},
        )
        response["Allow"] = "POST"
        return response
    try:
        report = verify.verify_pdf(_api_body(request))
    except verify.VerificationError as error:
        return _api_error(error)
    agreement = verify.match_agreement(report)
    body = report.as_dict()
    body["agreement"] = agreement.as_dict() if agreement else None
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})

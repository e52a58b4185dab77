"""Public endpoints of the built-in CA: certificates, CRLs (RFC 5280 publication points) and the RFC 3161 TSA.

No login: relying parties (PDF readers, courts, other TSA clients) fetch these anonymously.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from signing import pki
from signing.tsa import MAX_REQUEST_BYTES, TimeStampAuthority

_CERTIFICATES = {"root.crt": "root", "issuing.crt": "issuing", "tsa.crt": "tsa"}
_CRLS = {"root.crl": "root", "issuing.crl": "issuing"}


@require_GET
@never_cache
def pki_file(request: HttpRequest, name: str) -> HttpResponse:
    authority = pki.authority()
    if name in _CERTIFICATES:
        body, content_type = authority.certificate_der(_CERTIFICATES[name]), "application/pkix-cert"
    elif name in _CRLS:
        # Signed on request, so it is never stale; nextUpdate tells caches how long it may be kept.
        body, content_type = authority.crl_der(_CRLS[name]), "application/pkix-crl"
    else:
        raise Http404
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@csrf_exempt
@require_POST
def tsa(request: HttpRequest) -> HttpResponse:
    content_type = request.content_type or ""
    if content_type != "application/timestamp-query":
        return HttpResponse(
            _("请以 application/timestamp-query 类型提交 RFC 3161 时间戳请求。"),
            status=415,
            content_type="text/plain; charset=utf-8",
        )
    # Checked before reading, and again after (a chunked body has no Content-Length).
    length = request.META.get("CONTENT_LENGTH") or ""
    too_large = length.isdigit() and int(length) > MAX_REQUEST_BYTES
    if too_large or len(body := request.read(MAX_REQUEST_BYTES + 1)) > MAX_REQUEST_BYTES:
        return HttpResponse(_("时间戳请求过大。"), status=413, content_type="text/plain; charset=utf-8")
    return HttpResponse(TimeStampAuthority().respond(body), content_type="application/timestamp-reply")

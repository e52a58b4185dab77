"""The court API (``/api/court/v1/``) for courts' own case systems.

A court's system holds a bearer token issued for one named clerk of that court
(``manage.py court_api_token``); it sees its own court's applications only, exactly as that clerk
would in the portal, and its decisions go through the same services (``judicial_link.services``),
so the clocks, the ledger, the ruling's seal and the notifications are the portal's.

Every error has one shape: ``{"error": {"code": …, "message": …, "field": … or null}}``. A
decision posted again with the same content is answered with the stored result and recorded
once; a different decision on the same matter is 409. Another court's application is 404, like
one that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from judicial_link import services
from judicial_link.models import ApiDecision, ConfirmationApplication, CourtApiToken
from judicial_link.services import ApplicationError
from mediation import audience
from mediation.models import Role, User

TOKEN_PREFIX = "fqc"  # noqa: S105 - the visible prefix of every token, not a secret
# Service refusals that mean "this was already decided otherwise", not "your input is wrong".
CONFLICT_CODES = {"conflict", "state", "already_extended", "no_clock", "number_taken"}


# --- tokens ----------------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(clerk: User, *, label: str) -> tuple[CourtApiToken, str]:
    """A new token for ``clerk``'s court; the secret is returned once and never stored."""
    if clerk.role != Role.COURT_CLERK or clerk.organisation is None:
        raise ValueError("tokens are issued to court clerks only")
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = CourtApiToken.objects.create(
        court=clerk.organisation, clerk=clerk, label=label, prefix=prefix, secret_sha256=_digest(secret)
    )
    return token, secret


class CourtTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer fqc_…``: a live token whose clerk still works at its court."""

    def authenticate(self, request: Request) -> tuple[User, CourtApiToken] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if len(header) != 2 or header[0].lower() != b"bearer":
            raise exceptions.AuthenticationFailed(_("请使用 Authorization: Bearer <令牌>。"))
        token = (
            CourtApiToken.objects.select_related("clerk", "court")
            .filter(secret_sha256=_digest(header[1].decode("latin-1")), revoked_at__isnull=True)
            .first()
        )
        clerk = token.clerk if token else None
        if token is None or clerk is None or not clerk.is_active or clerk.organisation_id != token.court_id:
            raise exceptions.AuthenticationFailed(_("令牌无效或已被吊销。"))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            CourtApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return clerk, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="fengqiao-court-api"'


class CourtTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes the token."""

    target_class = "judicial_link.api.CourtTokenAuthentication"
    name = "courtToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A court's token from `manage.py court_api_token create` (fqc_…).",
        }


class CourtTokenThrottle(SimpleRateThrottle):
    scope = "court_api"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        return f"throttle_court_api_{token.pk}" if isinstance(token, CourtApiToken) else None


def _error(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error in the one shape, with the field named where there is one."""
    if isinstance(exc, ApplicationError):
        code = status.HTTP_409_CONFLICT if exc.code in CONFLICT_CODES else status.HTTP_400_BAD_REQUEST
        return Response(_error(exc.code, str(exc), exc.field), status=code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        field, messages = next(iter(exc.detail.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        code = getattr(message, "code", "invalid")
        response.data = _error(str(code), str(message), None if field == "non_field_errors" else str(field))
    elif isinstance(exc, exceptions.Throttled):
        response.data = _error("rate_limited", _("请求过于频繁，请稍后再试。"), retry_after=exc.wait)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = _("缺少令牌。") if isinstance(exc, exceptions.NotAuthenticated) else str(exc.detail)
        response.data = _error("unauthenticated", message)
    elif isinstance(exc, exceptions.NotFound):
        response.data = _error("not_found", _("没有这份申请。"))
    elif isinstance(exc, exceptions.APIException):
        response.data = _error(str(exc.default_code), str(exc.detail))
    return response


# --- what the court sees -----------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _deadline(deadline: Any) -> str | None:
    return deadline.due_date.isoformat() if deadline is not None else None


def application_data(application: ConfirmationApplication) -> dict[str, Any]:
    case = application.case
    clocks = services.deadlines(application)
    ruling = None
    if application.ruling:
        ruling = {
            "outcome": "confirmed" if application.state == ConfirmationApplication.State.CONFIRMED else "rejected",
            "ruled_at": application.ruled_at.isoformat() if application.ruled_at else None,
            "reasons": application.ruling_reasons,
            "sha256": application.ruling_sha256,
            "url": _absolute(reverse("court_api:ruling", kwargs={"application_pk": application.pk})),
        }
    return {
        "id": application.pk,
        "case_number": case.number,
        "state": application.state,
        "court": {"name": application.court.name, "code": application.court.court_code},
        "institution": {"name": case.institution.name, "credit_code": case.institution.credit_code or ""},
        "consumers": [
            {"name": user.display_name, "id_number_masked": user.id_number_masked} for user in audience.consumers(case)
        ],
        "venue_grounds": application.venue_grounds,
        "submitted_at": application.submitted_at.isoformat(),
        "acknowledged_at": application.acknowledged_at.isoformat() if application.acknowledged_at else None,
        "package": {
            "size": application.package_size,
            "sha256": application.package_sha256,
            "sm3": application.package_sm3,
            "manifest_sha256": application.manifest_sha256,
            "url": _absolute(reverse("court_api:package", kwargs={"application_pk": application.pk})),
        },
        "integrity": {
            "ok": application.integrity_ok,
            "checked_at": application.integrity_checked_at.isoformat() if application.integrity_checked_at else None,
            "problems": application.integrity_report.get("problems", []) if application.integrity_report else [],
        },
        "court_case_number": application.court_case_number or None,
        "refusal_reason": application.refusal_reason or None,
        "deadlines": {"acceptance": _deadline(clocks["acceptance"]), "ruling": _deadline(clocks["ruling"])},
        "ruling_extended": application.ruling_extended_at is not None,
        "ruling": ruling,
    }


class ApplicationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The schema of ``application_data`` (for the OpenAPI document)."""

    id = serializers.IntegerField()
    case_number = serializers.CharField()
    state = serializers.ChoiceField(choices=ConfirmationApplication.State.choices)
    court = inline_serializer("Court", {"name": serializers.CharField(), "code": serializers.CharField()})
    institution = inline_serializer(
        "Institution", {"name": serializers.CharField(), "credit_code": serializers.CharField()}
    )
    consumers = inline_serializer(
        "Consumer", {"name": serializers.CharField(), "id_number_masked": serializers.CharField()}, many=True
    )
    venue_grounds = serializers.ListField(child=serializers.CharField())
    submitted_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    package = inline_serializer(
        "Package",
        {
            "size": serializers.IntegerField(),
            "sha256": serializers.CharField(),
            "sm3": serializers.CharField(),
            "manifest_sha256": serializers.CharField(),
            "url": serializers.URLField(),
        },
    )
    integrity = inline_serializer(
        "Integrity",
        {
            "ok": serializers.BooleanField(allow_null=True),
            "checked_at": serializers.DateTimeField(allow_null=True),
            "problems": serializers.ListField(child=serializers.DictField()),
        },
    )
    court_case_number = serializers.CharField(allow_null=True)
    refusal_reason = serializers.CharField(allow_null=True)
    deadlines = inline_serializer(
        "Deadlines",
        {"acceptance": serializers.DateField(allow_null=True), "ruling": serializers.DateField(allow_null=True)},
    )
    ruling_extended = serializers.BooleanField()
    ruling = inline_serializer(
        "RulingResult",
        {
            "outcome": serializers.ChoiceField(choices=["confirmed", "rejected"]),
            "ruled_at": serializers.DateTimeField(),
            "reasons": serializers.CharField(),
            "sha256": serializers.CharField(),
            "url": serializers.URLField(),
        },
        allow_null=True,
    )


ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "field": serializers.CharField(allow_null=True),
            },
        )
    },
)
ERRORS = {
    400: OpenApiResponse(ERROR, description="Invalid body; `field` names the field."),
    401: OpenApiResponse(ERROR, description="No token, or an unknown or revoked one."),
    404: OpenApiResponse(ERROR, description="No such application at this court."),
    409: OpenApiResponse(ERROR, description="Already decided otherwise."),
    429: OpenApiResponse(ERROR, description="Too many requests for this token."),
}


class CourtView(APIView):
    authentication_classes = [CourtTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [CourtTokenThrottle]

    def application(self, request: Request, application_pk: int) -> ConfirmationApplication:
        return services.application_for_court_user(request.user, application_pk)


class ApplicationList(CourtView):
    class Pagination(LimitOffsetPagination):
        default_limit = 50
        max_limit = 200

    @extend_schema(
        summary="Applications received by the token's court, newest first",
        parameters=[
            OpenApiParameter("state", str, enum=[s for s, _label in ConfirmationApplication.State.choices]),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: ApplicationSerializer(many=True), **{k: v for k, v in ERRORS.items() if k in (400, 401, 429)}},
    )
    def get(self, request: Request) -> Response:
        applications = services.applications_for(request.user).order_by("-submitted_at", "-pk")
        state = request.query_params.get("state")
        if state is not None:
            if state not in ConfirmationApplication.State.values:
                raise exceptions.ValidationError({"state": [_("未知的状态：%(state)s。") % {"state": state[:30]}]})
            applications = applications.filter(state=state)
        paginator = self.Pagination()
        page = paginator.paginate_queryset(applications, request, view=self) or []
        return paginator.get_paginated_response([application_data(a) for a in page])


class ApplicationDetail(CourtView):
    @extend_schema(summary="One application", responses={200: ApplicationSerializer, **ERRORS})
    def get(self, request: Request, application_pk: int) -> Response:
        return Response(application_data(self.application(request, application_pk)))


def _file_response(field_file: Any, name: str, sha256: str, content_type: str) -> FileResponse:
    response = FileResponse(field_file.open("rb"), filename=name, as_attachment=True, content_type=content_type)
    response["X-Content-SHA256"] = sha256
    response["Digest"] = "sha-256=" + base64.b64encode(bytes.fromhex(sha256)).decode()
    return response


class PackageDownload(CourtView):
    @extend_schema(
        summary="The package ZIP as submitted (check X-Content-SHA256 against the listed sha256)",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **ERRORS},
    )
    def get(self, request: Request, application_pk: int) -> FileResponse:
        application = self.application(request, application_pk)
        name = f"{application.case.number}-confirmation.zip"
        return _file_response(application.package, name, application.package_sha256, "application/zip")


class Acknowledge(CourtView):
    @extend_schema(
        summary="Record that the court's system received the application; runs the integrity check once",
        request=None,
        responses={200: ApplicationSerializer, **ERRORS},
    )
    def post(self, request: Request, application_pk: int) -> Response:
        application = self.application(request, application_pk)
        ConfirmationApplication.objects.filter(pk=application.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now()
        )
        application.refresh_from_db()
        if application.integrity_checked_at is None:
            application = services.check_integrity(application)
        return Response(application_data(application))


# --- decisions ---------------------------------------------------------------------------------------


class AcceptanceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    decision = serializers.ChoiceField(choices=["accept", "refuse"])
    court_case_number = serializers.CharField(max_length=60, required=False, allow_blank=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["decision"] == "accept" and not data.get("court_case_number"):
            raise serializers.ValidationError({"court_case_number": [_("受理须填写法院案号。")]}, code="required")
        if data["decision"] == "refuse" and not data.get("reason"):
            raise serializers.ValidationError({"reason": [_("不予受理须写明理由。")]}, code="required")
        return data


class ExtensionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    approval_note = serializers.CharField(max_length=1000)


class RulingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    outcome = serializers.ChoiceField(choices=["confirmed", "rejected"])
    reasons = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class Decision(CourtView):
    """Validate, then do it once: a repeat with the same body returns the stored answer."""

    action = ""
    serializer_class: type[serializers.Serializer] = serializers.Serializer  # type: ignore[type-arg]

    def perform(self, application: ConfirmationApplication, data: dict[str, Any], request: Request) -> None:
        raise NotImplementedError

    def post(self, request: Request, application_pk: int) -> Response:
        application = self.application(request, application_pk)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": [_("请求体须为 JSON 对象。")]})
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        done = ApiDecision.objects.filter(application=application, action=self.action).first()
        if done is not None:
            if done.request_sha256 == digest:
                return Response(done.response)
            raise ApplicationError("conflict", _("此事项已作出不同的决定，不能更改。"))
        self.perform(application, data, request)
        application.refresh_from_db()
        body = application_data(application)
        try:
            with transaction.atomic():
                ApiDecision.objects.create(
                    application=application, action=self.action, request_sha256=digest, response=body
                )
        except IntegrityError:  # the same decision raced in: the service already refused the second
            pass
        return Response(body)


def _ip(request: Request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class Acceptance(Decision):
    action = "acceptance"
    serializer_class = AcceptanceSerializer

    @extend_schema(
        summary="Accept with the court's case number (调确字), or refuse with a reason — within 3 days",
        request=AcceptanceSerializer,
        responses={200: ApplicationSerializer, **ERRORS},
    )
    def post(self, request: Request, application_pk: int) -> Response:
        return super().post(request, application_pk)

    def perform(self, application: ConfirmationApplication, data: dict[str, Any], request: Request) -> None:
        if data["decision"] == "accept":
            services.accept(
                application, clerk=request.user, court_case_number=data["court_case_number"].strip(), ip=_ip(request)
            )
        else:
            services.refuse(application, clerk=request.user, reason=data["reason"].strip(), ip=_ip(request))


class Extension(Decision):
    action = "extension"
    serializer_class = ExtensionSerializer

    @extend_schema(
        summary="Extend the ruling period once by 10 days, with the approval recorded",
        request=ExtensionSerializer,
        responses={200: ApplicationSerializer, **ERRORS},
    )
    def post(self, request: Request, application_pk: int) -> Response:
        return super().post(request, application_pk)

    def perform(self, application: ConfirmationApplication, data: dict[str, Any], request: Request) -> None:
        services.extend_ruling(
            application, clerk=request.user, approval_note=data["approval_note"].strip(), ip=_ip(request)
        )


class Ruling(Decision):
    action = "ruling"
    serializer_class = RulingSerializer

    @extend_schema(
        summary="Rule: confirm the agreement, or reject the application with reasons; the ruling PDF is sealed",
        request=RulingSerializer,
        responses={200: ApplicationSerializer, **ERRORS},
    )
    def post(self, request: Request, application_pk: int) -> Response:
        return super().post(request, application_pk)

    @extend_schema(summary="The sealed ruling PDF", responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, application_pk: int) -> FileResponse:
        application = self.application(request, application_pk)
        if not application.ruling:
            raise Http404
        name = f"{application.case.number}-ruling.pdf"
        return _file_response(application.ruling, name, application.ruling_sha256, "application/pdf")

    def perform(self, application: ConfirmationApplication, data: dict[str, Any], request: Request) -> None:
        services.rule(
            application,
            clerk=request.user,
            confirmed=data["outcome"] == "confirmed",
            reasons=data["reasons"].strip(),
            ip=_ip(request),
        )

"""The court API: tokens per court, listing and downloading, decisions made once, errors that name the field."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from judicial_link import api, package, services
from judicial_link.models import ConfirmationApplication
from mediation.models import Case, LedgerEntry, Organisation, User
from signing import verify
from tests.judicial_helpers import application_documents, basic_court, clerk_of

pytestmark = pytest.mark.django_db
State = ConfirmationApplication.State
NUMBER = "（2026）粤0106民特7号"


@pytest.fixture
def submitted(ready_case: Case, consumer: User, tianhe: Organisation) -> ConfirmationApplication:
    return services.submit_application(
        ready_case, actor=consumer, court=tianhe, documents=application_documents(ready_case)
    )


@pytest.fixture
def token(tianhe: Organisation) -> str:
    return api.issue_token(clerk_of(tianhe, "tianhe_clerk"), label="天河法院审判系统")[1]


@pytest.fixture
def foreign_token() -> str:
    haidian = basic_court("北京市海淀区人民法院", "北京市海淀区", "J0108")
    return api.issue_token(clerk_of(haidian, "haidian_clerk"), label="海淀")[1]


def call(method: str, name: str, secret: str | None, pk: int | None = None, body: Any = None, **extra: Any) -> Any:
    client = Client()
    kwargs = {"application_pk": pk} if pk is not None else {}
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    headers.update(extra)
    path = reverse(f"court_api:{name}", kwargs=kwargs)
    if method == "post":
        return client.post(path, body if body is not None else {}, content_type="application/json", **headers)
    return client.get(path, body or {}, **headers)


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


# --- who gets in -----------------------------------------------------------------------------------


def _api_routes() -> list[str]:
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "court_api":
            return [p.name for p in entry.url_patterns if isinstance(p, URLPattern) and p.name and p.name != "schema"]
    raise AssertionError("no court_api namespace")


def test_every_route_refuses_no_token_a_bad_token_and_another_courts_token(
    submitted: ConfirmationApplication, foreign_token: str, consumer: User
) -> None:
    routes = _api_routes()
    assert set(routes) == {"applications", "application", "package", "ruling", "acknowledge", "acceptance", "extension"}
    session = Client()
    session.force_login(consumer)  # a logged-in person on the case, but no token
    for name in routes:
        pk = None if name == "applications" else submitted.pk
        for method in ("get", "post"):
            assert call(method, name, None, pk).status_code == 401, name
            bad = call(method, name, "fqc_nope_nope", pk)
            assert bad.status_code == 401 and error_of(bad)["code"] == "unauthenticated"
            path = reverse(f"court_api:{name}", kwargs={"application_pk": pk} if pk else {})
            assert getattr(session, method)(path).status_code == 401
            if pk is not None:
                foreign = call(method, name, foreign_token, pk)
                assert foreign.status_code in (404, 405), (name, method)
                if foreign.status_code == 404:
                    assert error_of(foreign) == {"code": "not_found", "message": "没有这份申请。", "field": None}
    assert call("get", "applications", foreign_token).json()["results"] == []
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED and submitted.acknowledged_at is None


def test_a_revoked_token_stops_at_once(submitted: ConfirmationApplication, token: str) -> None:
    assert call("get", "applications", token).status_code == 200
    out = StringIO()
    call_command("court_api_token", "revoke", token.split("_")[1], stdout=out)
    assert out.getvalue().startswith("revoked ")
    assert call("get", "applications", token).status_code == 401


# --- reading ----------------------------------------------------------------------------------------


def test_list_detail_and_the_package_as_submitted(submitted: ConfirmationApplication, token: str) -> None:
    listed = call("get", "applications", token).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == submitted.pk
    assert call("get", "applications", token, body={"state": "confirmed"}).json()["count"] == 0
    bad = call("get", "applications", token, body={"state": "nonsense"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "state"

    detail = call("get", "application", token, submitted.pk).json()
    assert detail["case_number"] == submitted.case.number and detail["state"] == "submitted"
    assert detail["package"]["sha256"] == submitted.package_sha256
    assert detail["consumers"][0]["id_number_masked"] and detail["deadlines"]["acceptance"]

    download = call("get", "package", token, submitted.pk)
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == submitted.package_sha256 == download["X-Content-SHA256"]
    assert package.verify_package(content).ok


def test_acknowledging_records_receipt_and_checks_integrity_once(
    submitted: ConfirmationApplication, token: str
) -> None:
    first = call("post", "acknowledge", token, submitted.pk).json()
    again = call("post", "acknowledge", token, submitted.pk).json()
    assert first["acknowledged_at"] == again["acknowledged_at"] is not None
    assert first["integrity"]["ok"] is True


# --- decisions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "decision", "required"),
        ({"decision": "maybe"}, "decision", "invalid_choice"),
        ({"decision": "accept"}, "court_case_number", "required"),
        ({"decision": "accept", "court_case_number": "号" * 61}, "court_case_number", "max_length"),
        ({"decision": "refuse"}, "reason", "required"),
    ],
)
def test_a_bad_acceptance_names_the_field_and_changes_nothing(
    submitted: ConfirmationApplication, token: str, body: dict[str, Any], field: str, code: str
) -> None:
    response = call("post", "acceptance", token, submitted.pk, body)

    assert response.status_code == 400
    assert (error_of(response)["field"], error_of(response)["code"]) == (field, code)
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_a_body_that_is_not_an_object_is_refused(submitted: ConfirmationApplication, token: str) -> None:
    response = call("post", "ruling", token, submitted.pk, [1, 2])
    assert response.status_code == 400 and error_of(response)["code"]


def test_accept_and_rule_once_each_even_when_posted_twice(
    submitted: ConfirmationApplication, token: str, django_capture_on_commit_callbacks: Any
) -> None:
    acceptance = {"decision": "accept", "court_case_number": NUMBER}
    with django_capture_on_commit_callbacks(execute=True):
        first = call("post", "acceptance", token, submitted.pk, acceptance)
    repeat = call("post", "acceptance", token, submitted.pk, acceptance)
    assert first.status_code == repeat.status_code == 200 and first.json() == repeat.json()
    assert first.json()["court_case_number"] == NUMBER and first.json()["deadlines"]["ruling"]
    conflict = call("post", "acceptance", token, submitted.pk, {"decision": "refuse", "reason": "不属于本院管辖"})
    assert conflict.status_code == 409 and error_of(conflict)["code"] == "conflict"

    reject_without_reasons = call("post", "ruling", token, submitted.pk, {"outcome": "rejected"})
    assert reject_without_reasons.status_code == 400 and error_of(reject_without_reasons)["field"] == "reasons"
    with django_capture_on_commit_callbacks(execute=True):
        ruled = call("post", "ruling", token, submitted.pk, {"outcome": "confirmed"})
    again = call("post", "ruling", token, submitted.pk, {"outcome": "confirmed"})
    assert ruled.status_code == again.status_code == 200 and ruled.json() == again.json()
    other = call("post", "ruling", token, submitted.pk, {"outcome": "rejected", "reasons": "协议违反法律规定。"})
    assert other.status_code == 409

    case = submitted.case
    assert LedgerEntry.objects.filter(case=case, action="judicial.application.accepted").count() == 1
    assert LedgerEntry.objects.filter(case=case, action="judicial.application.ruled").count() == 1
    submitted.refresh_from_db()
    assert submitted.state == State.CONFIRMED
    ruling = call("get", "ruling", token, submitted.pk)
    data = b"".join(ruling.streaming_content)
    assert hashlib.sha256(data).hexdigest() == submitted.ruling_sha256 == ruled.json()["ruling"]["sha256"]
    report = verify.verify_pdf(data)
    assert report.ok and report.signatures[0].organisation == "广州市天河区人民法院"


def test_a_decision_made_in_the_portal_is_a_conflict_for_the_api(
    submitted: ConfirmationApplication, token: str
) -> None:
    services.refuse(submitted, clerk=User.objects.get(username="tianhe_clerk"), reason="不属于本院管辖")
    response = call("post", "acceptance", token, submitted.pk, {"decision": "accept", "court_case_number": NUMBER})
    assert response.status_code == 409 and error_of(response)["code"] == "state"


def test_too_many_requests_get_429_with_the_error_shape(
    submitted: ConfirmationApplication, token: str, settings: Any
) -> None:
    from django.core.cache import cache
    from rest_framework.settings import api_settings

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"court_api": "3/minute"}}
    api_settings.reload()
    api.CourtTokenThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        codes = [call("get", "applications", token).status_code for _ in range(4)]
        limited = call("get", "applications", token)
    finally:
        api_settings.reload()
        api.CourtTokenThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        cache.clear()
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limited"


# --- the schema ------------------------------------------------------------------------------------


def test_the_openapi_schema_is_valid_and_lists_every_route() -> None:
    from drf_spectacular.validation import validate_schema

    response = Client().get(reverse("court_api:schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    paths = set(schema["paths"])
    assert paths == {
        "/api/court/v1/applications/",
        "/api/court/v1/applications/{application_pk}/",
        "/api/court/v1/applications/{application_pk}/package",
        "/api/court/v1/applications/{application_pk}/ruling",
        "/api/court/v1/applications/{application_pk}/acknowledge",
        "/api/court/v1/applications/{application_pk}/acceptance",
        "/api/court/v1/applications/{application_pk}/extension",
    }
    assert set(schema["paths"]["/api/court/v1/applications/{application_pk}/ruling"]) == {"get", "post"}
    assert schema["components"]["securitySchemes"]["courtToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A court's token from `manage.py court_api_token create` (fqc_…).",
    }
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert operation["security"] == [{"courtToken": []}]
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert {"401", "404"} <= set(operation["responses"]) or "429" in operation["responses"]

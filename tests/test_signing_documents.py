"""Signing a document other than the agreement: password + one-time code, then a real signature."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from mediation.models import Case, LedgerEntry, User
from signing import documents, verify
from signing.evidence import Origin
from signing.services import SigningError
from tests import factories
from tests.signing_helpers import PASSWORD, last_code

ORIGIN = Origin(ip="203.0.113.9", user_agent="pytest")


def _code(user: User, capture: Any, document: str = "undertaking:1") -> str:
    with capture(execute=True):
        documents.request_code(user, document=document, action="签署承诺书")
    return last_code(user)


def _sign(case: Case, user: User, good_code: str, **overrides: Any) -> documents.DocumentSignature:
    arguments: dict[str, Any] = {
        "case": case,
        "user": user,
        "document": "undertaking:1",
        "field_name": "undertaking",
        "reason": "签署承诺书",
        "password": PASSWORD,
        "code": good_code,
        "origin": ORIGIN,
    }
    arguments.update(overrides)
    return documents.sign_document(factories.sample_pdf_bytes(), **arguments)


@pytest.mark.django_db
def test_a_person_signs_with_their_own_certificate(
    mediating_case: Case, consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    result = _sign(mediating_case, consumer, _code(consumer, django_capture_on_commit_callbacks))

    reader = PdfFileReader(BytesIO(result.pdf))
    assert [s.field_name for s in reader.embedded_signatures] == ["undertaking"]
    report = verify.verify_pdf(result.pdf)
    assert report.ok, report.verdict
    assert consumer.real_name in report.signatures[0].signer
    entry = LedgerEntry.objects.filter(action="signing.document.signed", case=mediating_case).get()
    assert entry.data["sha256"] == result.sha256
    assert entry.data["sha256_seen"] == result.sha256_seen != result.sha256
    assert entry.data["certificate_serial"] == result.certificate_serial
    assert entry.data["organisation"] is None


@pytest.mark.django_db
def test_an_institution_signs_with_its_seal(
    mediating_case: Case, bank_agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    result = _sign(
        mediating_case,
        bank_agent,
        _code(bank_agent, django_capture_on_commit_callbacks),
        organisation=mediating_case.institution,
    )

    report = verify.verify_pdf(result.pdf)
    assert report.ok, report.verdict
    assert mediating_case.institution.name in report.signatures[0].signer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "field", "code"),
    [({"password": "wrong"}, "password", "password"), ({"code": "000000"}, "code", "wrong")],
)
def test_a_wrong_password_or_code_signs_nothing(
    mediating_case: Case,
    consumer: User,
    django_capture_on_commit_callbacks: Any,
    override: dict[str, str],
    field: str,
    code: str,
) -> None:
    good = _code(consumer, django_capture_on_commit_callbacks)
    if override.get("code") == good:  # pragma: no cover - one chance in a million
        override = {"code": "000001"}

    with pytest.raises(SigningError) as raised:
        _sign(mediating_case, consumer, good, **override)

    assert (raised.value.field, raised.value.code) == (field, code)
    assert not LedgerEntry.objects.filter(action="signing.document.signed").exists()
    failed = LedgerEntry.objects.get(action="signing.document.code_failed")
    assert failed.data["reason"] == code


@pytest.mark.django_db
def test_a_code_for_another_document_does_not_sign_this_one(
    mediating_case: Case, consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    code = _code(consumer, django_capture_on_commit_callbacks, document="undertaking:2")

    with pytest.raises(SigningError) as raised:
        _sign(mediating_case, consumer, code)

    assert raised.value.code == "no_code"


@pytest.mark.django_db
def test_a_code_signs_once(mediating_case: Case, consumer: User, django_capture_on_commit_callbacks: Any) -> None:
    code = _code(consumer, django_capture_on_commit_callbacks)
    _sign(mediating_case, consumer, code)

    with pytest.raises(SigningError) as raised:
        _sign(mediating_case, consumer, code)

    assert raised.value.code == "used"

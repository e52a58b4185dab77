"""The signing pages: who sees what, the code and sign forms, declining, downloads, the report."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mediation.models import Case, CaseState, User
from signing import verify
from signing.models import Agreement, SignatureSlot
from tests.signing_helpers import PASSWORD, last_code, prepared_agreement, sign_as

Capture = Any


@pytest.fixture
def agreement(mediating_case: Case, mediator: User) -> Agreement:
    return prepared_agreement(mediating_case, mediator)


def client_for(user: User) -> Client:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 pytest")
    client.force_login(user)
    return client


def sign_url(agreement: Agreement, name: str = "signing:sign", **kwargs: Any) -> str:
    return reverse(name, kwargs={"case_pk": agreement.case_id, **kwargs})


@pytest.mark.parametrize("persona", ["consumer", "bank_agent", "mediator", "case_manager"])
def test_people_on_the_case_see_the_signing_page(
    agreement: Agreement, persona: str, request: pytest.FixtureRequest
) -> None:
    response = client_for(request.getfixturevalue(persona)).get(sign_url(agreement))
    assert response.status_code == 200
    page = response.content.decode()
    assert agreement.short_code in page
    assert "吴调解员" in page and "华南商业银行" in page


def test_only_the_signer_whose_turn_it_is_gets_the_form(agreement: Agreement, consumer: User, mediator: User) -> None:
    assert 'id="sign-form"' in client_for(consumer).get(sign_url(agreement)).content.decode()
    assert 'id="sign-form"' not in client_for(mediator).get(sign_url(agreement)).content.decode()


@pytest.mark.parametrize(
    "persona", ["outsider", "other_bank_agent", "other_mediator", "other_case_manager", "court_clerk", "regulator"]
)
@pytest.mark.parametrize(
    "name", ["signing:sign", "signing:sign_code", "signing:decline", "signing:document", "signing:report"]
)
def test_people_not_on_the_case_get_404(
    agreement: Agreement, persona: str, name: str, request: pytest.FixtureRequest
) -> None:
    client = client_for(request.getfixturevalue(persona))
    before = agreement.events.count()
    assert client.get(sign_url(agreement, name)).status_code == 404
    assert client.post(sign_url(agreement, name)).status_code == 404
    assert agreement.events.count() == before


def test_anonymous_visitors_are_sent_to_login(agreement: Agreement) -> None:
    response = Client().get(sign_url(agreement))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_code_then_sign_through_the_pages(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = client_for(consumer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(sign_url(agreement, "signing:sign_code"), follow=True)
    assert "验证码已发送至" in response.content.decode()
    form = response.context["sign_form"]
    data = {
        "password": PASSWORD,
        "code": last_code(consumer),
        "confirm": "on",
        "seen_sha256": form.initial["seen_sha256"],
        "request_token": form.initial["request_token"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(sign_url(agreement), data)
    assert response.status_code == 302
    slot = agreement.slots.get(field_name="consumer-1")
    assert slot.status == SignatureSlot.Status.SIGNED and slot.signed_by == consumer
    event = agreement.events.get(kind="signed")
    assert event.user_agent == "Mozilla/5.0 pytest" and event.ip == "127.0.0.1"
    # The same form posted again (a retried request) does not sign twice.
    again = client.post(sign_url(agreement), data)
    assert again.status_code == 302
    assert agreement.revisions.count() == 2


def test_a_wrong_code_is_shown_on_the_field_and_changes_nothing(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = client_for(consumer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(sign_url(agreement, "signing:sign_code"))
    code = last_code(consumer)
    latest = agreement.revisions.get()
    response = client.post(
        sign_url(agreement),
        {
            "password": PASSWORD,
            "code": f"{(int(code) + 1) % 10**6:06d}",
            "confirm": "on",
            "seen_sha256": latest.sha256,
            "request_token": "t1",
        },
    )
    assert response.status_code == 400
    assert "验证码不正确" in str(response.context["sign_form"].errors["code"])
    assert agreement.revisions.count() == 1


def test_the_form_needs_the_confirmation_and_a_six_digit_code(agreement: Agreement, consumer: User) -> None:
    latest = agreement.revisions.get()
    response = client_for(consumer).post(
        sign_url(agreement), {"password": PASSWORD, "code": "12ab", "seen_sha256": latest.sha256, "request_token": "t"}
    )
    assert response.status_code == 400
    errors = response.context["sign_form"].errors
    assert "code" in errors and "confirm" in errors
    assert agreement.revisions.count() == 1


def test_a_party_declines_through_the_page(
    agreement: Agreement, consumer: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = client_for(consumer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(sign_url(agreement, "signing:sign_code"))
    response = client.post(
        sign_url(agreement, "signing:decline"), {"reason": "", "password": PASSWORD, "code": last_code(consumer)}
    )
    assert response.status_code == 400 and "reason" in response.context["decline_form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            sign_url(agreement, "signing:decline"),
            {"reason": "金额不足以弥补损失", "password": PASSWORD, "code": last_code(consumer)},
        )
    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.state == Agreement.State.VOID
    assert agreement.case.state == CaseState.TERMINATED


def test_methods_are_checked_after_permission(agreement: Agreement, consumer: User, outsider: User) -> None:
    assert client_for(consumer).get(sign_url(agreement, "signing:sign_code")).status_code == 405
    assert client_for(outsider).get(sign_url(agreement, "signing:sign_code")).status_code == 404
    assert client_for(consumer).post(sign_url(agreement, "signing:document")).status_code == 405


def test_documents_and_the_sealed_signing_report(
    agreement: Agreement, consumer: User, bank_agent: User, django_capture_on_commit_callbacks: Capture, tmp_path: Any
) -> None:
    sign_as(agreement, consumer, django_capture_on_commit_callbacks)
    client = client_for(bank_agent)
    document = client.get(sign_url(agreement, "signing:document"))
    assert document.status_code == 200 and document["Content-Type"] == "application/pdf"
    assert document["X-Frame-Options"] == "SAMEORIGIN"  # shown in the signing page's frame, nowhere else
    body = b"".join(document.streaming_content)  # type: ignore[attr-defined]
    assert body.startswith(b"%PDF") and len(verify.verify_pdf(body).signatures) == 1
    first = client.get(sign_url(agreement, "signing:revision", number=0))
    assert first.status_code == 200
    with agreement.revisions.get(number=0).file.open("rb") as stored:
        assert b"".join(first.streaming_content) == stored.read()  # type: ignore[attr-defined]
    assert client.get(sign_url(agreement, "signing:revision", number=9)).status_code == 404

    report = client.get(sign_url(agreement, "signing:report"))
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    checked = verify.verify_pdf(report.content)
    assert checked.ok, checked.verdict
    assert checked.signatures[0].organisation == agreement.case.centre.name
    path = tmp_path / "report.pdf"
    path.write_bytes(report.content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    compact = "".join(text.split())
    for revision in agreement.revisions.all():
        assert revision.sha256 in compact, f"revision {revision.number} hash missing from the report"


def test_the_page_asks_for_a_code_without_reloading(
    agreement: Agreement, consumer: User, mediator: User, django_capture_on_commit_callbacks: Capture
) -> None:
    """signing.js posts the code form with Accept: application/json, so a typed password stays."""
    client = client_for(consumer)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(sign_url(agreement, "signing:sign_code"), HTTP_ACCEPT="application/json")
    assert sent.status_code == 200 and "@example.cn" in sent.json()["destination"]
    assert last_code(consumer)
    too_soon = client.post(sign_url(agreement, "signing:sign_code"), HTTP_ACCEPT="application/json")
    assert too_soon.status_code == 429 and too_soon.json()["error"]["code"] == "too_soon"
    not_yet = client_for(mediator).post(sign_url(agreement, "signing:sign_code"), HTTP_ACCEPT="application/json")
    assert not_yet.status_code == 400 and not_yet.json()["error"]["code"] == "out_of_order"


def test_the_case_page_tells_a_signer_it_is_their_turn(agreement: Agreement, consumer: User, mediator: User) -> None:
    case_page = reverse("case_detail", kwargs={"pk": agreement.case_id})
    mine = client_for(consumer).get(case_page).content.decode()
    assert "现在轮到您签署" in mine and sign_url(agreement) in mine
    theirs = client_for(mediator).get(case_page).content.decode()
    assert "现在轮到您签署" not in theirs and sign_url(agreement) in theirs

"""The termination-record pages: the mediator drafts, previews and signs; everyone on the case reads;
outsiders get 404 on every URL and nothing changes for the wrong person."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from judicial_link import package, termination
from judicial_link.models import ReferralPackage, TerminationRecord
from mediation import services
from mediation.models import Case, LedgerEntry, TerminationReason, User
from signing import verify
from tests import factories
from tests.signing_helpers import PASSWORD, last_code

pytestmark = pytest.mark.django_db

PAGES = ("termination_record", "termination_preview", "termination_document", "termination_referral")
ACTIONS = ("termination_draft", "termination_sign_code", "termination_sign", "termination_referral_build")
NOTE = "双方对手续费是否已明确告知分歧较大。"


@pytest.fixture
def terminated_case(mediating_case: Case, consumer: User, mediator: User) -> Case:
    services.add_evidence(
        mediating_case,
        user=consumer,
        upload=SimpleUploadedFile("分期合同.pdf", factories.sample_pdf_bytes("contract"), "application/pdf"),
    )
    return services.terminate_mediation(
        mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE, note=NOTE
    )


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, case: Case) -> str:
    return reverse(f"judicial:{name}", kwargs={"case_pk": case.pk})


def draft_data(case: Case, **changes: str) -> dict[str, str]:
    data = termination.proposed_text(case)
    data.update(undisputed_facts="被申请人已收取分期手续费1200元。", **changes)
    return data


def signed(case: Case, mediator: User, capture: Any) -> TerminationRecord:
    termination.save_draft(case, actor=mediator, texts=draft_data(case))
    with capture(execute=True):
        termination.request_code(case, user=mediator)
    record = termination.record_of(case)
    assert record is not None
    with capture(execute=True):
        return termination.sign_record(
            case, user=mediator, password=PASSWORD, code=last_code(mediator), seen_hash=termination.content_hash(record)
        )


def snapshot(case: Case) -> tuple[Any, ...]:
    record = termination.record_of(case)
    return (
        termination.content_hash(record) if record else None,
        record.signed_sha256 if record else None,
        ReferralPackage.objects.filter(case=case).count(),
        LedgerEntry.objects.filter(case=case).exclude(action__startswith="mediation.viewed.").count(),
    )


# --- who may do what -----------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_url_whatever_the_method(
    terminated_case: Case,
    mediator: User,
    outsider: User,
    other_case_manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    signed(terminated_case, mediator, django_capture_on_commit_callbacks)
    termination.build_referral(terminated_case, actor=mediator)
    before = snapshot(terminated_case)
    for person in (outsider, other_case_manager):
        client = client_for(person)
        for name in PAGES + ACTIONS:
            for method in ("get", "post", "put", "delete"):
                response = getattr(client, method)(url(name, terminated_case))
                assert response.status_code == 404, (person.username, name, method, response.status_code)
    assert snapshot(terminated_case) == before


def test_the_method_is_checked_after_the_case(terminated_case: Case, mediator: User) -> None:
    client = client_for(mediator)
    assert client.get(url("termination_draft", terminated_case)).status_code == 405
    assert client.post(url("termination_record", terminated_case)).status_code == 405


def test_a_party_cannot_draft_preview_or_sign(
    terminated_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    termination.save_draft(terminated_case, actor=mediator, texts=draft_data(terminated_case))
    before = snapshot(terminated_case)
    for person in (consumer, bank_agent):
        client = client_for(person)
        assert (
            client.post(
                url("termination_draft", terminated_case), draft_data(terminated_case, failure_reasons="改")
            ).status_code
            == 403
        )
        assert client.get(url("termination_preview", terminated_case)).status_code == 403
        assert client.post(url("termination_sign_code", terminated_case)).status_code == 403
        assert client.post(url("termination_sign", terminated_case), {"password": PASSWORD}).status_code == 403
        page = client.get(url("termination_record", terminated_case))
        assert page.status_code == 200
        # The draft is the mediator's until it is signed.
        assert "被申请人已收取分期手续费1200元" not in page.content.decode()
        assert 'id="draft-form"' not in page.content.decode()
    assert snapshot(terminated_case) == before


def test_before_termination_the_page_says_why_and_nothing_is_saved(mediating_case: Case, mediator: User) -> None:
    client = client_for(mediator)

    page = client.get(url("termination_record", mediating_case))
    assert page.status_code == 200
    assert "只有调解终止的案件才能制作调解终结记录" in page.content.decode()

    response = client.post(url("termination_draft", mediating_case), draft_data(mediating_case, failure_reasons="x"))
    assert response.status_code == 400
    assert "只有调解终止的案件才能制作调解终结记录" in response.content.decode()
    assert not TerminationRecord.objects.exists()


# --- the mediator's flow -------------------------------------------------------------------------------


def test_the_form_is_prefilled_from_the_complaint(terminated_case: Case, mediator: User) -> None:
    page = client_for(mediator).get(url("termination_record", terminated_case)).content.decode()

    assert 'id="draft-form"' in page
    assert terminated_case.description in page
    assert NOTE in page
    assert "sign-form" not in page  # nothing to sign before a draft is saved


def test_bad_input_names_the_field_and_saves_nothing(terminated_case: Case, mediator: User) -> None:
    response = client_for(mediator).post(
        url("termination_draft", terminated_case),
        draft_data(terminated_case, failure_reasons="", notes_for_court="字" * 5001),
    )

    assert response.status_code == 400
    form = response.context["draft_form"]
    assert set(form.errors) == {"failure_reasons", "notes_for_court"}
    assert not TerminationRecord.objects.exists()


def test_the_mediator_drafts_previews_and_signs(
    terminated_case: Case, mediator: User, consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(mediator)
    response = client.post(url("termination_draft", terminated_case), draft_data(terminated_case))
    assert response.status_code == 302
    record = TerminationRecord.objects.get(case=terminated_case)
    assert record.undisputed_facts == "被申请人已收取分期手续费1200元。"

    preview = client.get(url("termination_preview", terminated_case))
    assert preview.status_code == 200 and preview["Content-Type"] == "application/pdf"
    assert preview.content == termination.render_record(record)

    page = client.get(url("termination_record", terminated_case))
    seen_hash = page.context["sign_form"].initial["seen_hash"]
    assert seen_hash == termination.content_hash(record)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url("termination_sign_code", terminated_case), HTTP_ACCEPT="application/json")
    assert sent.status_code == 200 and "destination" in sent.json()
    code = last_code(mediator)
    wrong = "000001" if code == "000000" else "000000"

    refused = client.post(
        url("termination_sign", terminated_case),
        {"password": PASSWORD, "code": wrong, "confirm": "on", "seen_hash": seen_hash},
    )
    assert refused.status_code == 400
    assert "code" in refused.context["sign_form"].errors
    assert not TerminationRecord.objects.get(pk=record.pk).is_signed

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url("termination_sign", terminated_case),
            {"password": PASSWORD, "code": code, "confirm": "on", "seen_hash": seen_hash},
        )
    assert done.status_code == 302
    record.refresh_from_db()
    assert record.is_signed and record.signed_by == mediator

    download = client_for(consumer).get(url("termination_document", terminated_case))
    assert download.status_code == 200
    report = verify.verify_pdf(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    assert report.ok and "吴调解员" in report.signatures[0].signer
    assert LedgerEntry.objects.filter(action="mediation.viewed.termination_record", actor=consumer).exists()


def test_a_signed_record_is_not_edited_through_the_page(
    terminated_case: Case, mediator: User, django_capture_on_commit_callbacks: Any
) -> None:
    signed(terminated_case, mediator, django_capture_on_commit_callbacks)
    before = snapshot(terminated_case)
    client = client_for(mediator)

    response = client.post(
        url("termination_draft", terminated_case), draft_data(terminated_case, failure_reasons="改写")
    )

    assert response.status_code == 400
    assert "已签署，不能再修改" in response.content.decode()
    assert snapshot(terminated_case) == before
    page = client.get(url("termination_record", terminated_case)).content.decode()
    assert 'id="draft-form"' not in page and 'id="sign-form"' not in page


@pytest.mark.parametrize("reader", ["consumer", "bank_agent", "case_manager", "mediator"])
def test_everyone_on_the_case_reads_the_signed_record_and_sees_the_panel(
    terminated_case: Case,
    mediator: User,
    reader: str,
    request: pytest.FixtureRequest,
    django_capture_on_commit_callbacks: Any,
) -> None:
    signed(terminated_case, mediator, django_capture_on_commit_callbacks)
    client = client_for(request.getfixturevalue(reader))

    assert client.get(url("termination_document", terminated_case)).status_code == 200
    case_page = client.get(reverse("case_detail", kwargs={"pk": terminated_case.pk})).content.decode()
    assert url("termination_document", terminated_case) in case_page


# --- the referral package ------------------------------------------------------------------------------


def test_the_referral_is_refused_before_the_record_is_signed(terminated_case: Case, consumer: User) -> None:
    response = client_for(consumer).post(url("termination_referral_build", terminated_case))

    assert response.status_code == 400
    assert "调解终结记录尚未签署" in response.content.decode()
    assert not ReferralPackage.objects.exists()
    assert client_for(consumer).get(url("termination_referral", terminated_case)).status_code == 404


def test_a_party_builds_and_downloads_the_referral(
    terminated_case: Case, mediator: User, bank_agent: User, consumer: User, django_capture_on_commit_callbacks: Any
) -> None:
    signed(terminated_case, mediator, django_capture_on_commit_callbacks)

    assert client_for(bank_agent).post(url("termination_referral_build", terminated_case)).status_code == 302

    for person in (consumer, mediator):
        download = client_for(person).get(url("termination_referral", terminated_case))
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment")
        report = package.verify_package(b"".join(download.streaming_content))  # type: ignore[attr-defined]
        assert report.ok and report.purpose == "referral"

"""The application pages over HTTP: who may see and act, field errors, the whole flow."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from judicial_link.models import ApplicationDocument, ConfirmationApplication
from mediation.models import Case, CaseState, Organisation, User
from tests.signing_helpers import PASSWORD, last_code
from tests.test_judicial_application import pdf_upload

pytestmark = pytest.mark.django_db
NAMES = [
    "apply",
    "apply_facts",
    "apply_court",
    "apply_code",
    "apply_sign",
    "apply_upload",
    "apply_submit",
    "apply_document",
]


def url(name: str, case: Case) -> str:
    return reverse(f"judicial:{name}", kwargs={"case_pk": case.pk})


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsiders_get_404_on_every_url_and_method(
    ready_case: Case, outsider: User, other_bank_agent: User, method: str
) -> None:
    for person in (outsider, other_bank_agent):
        client = client_for(person)
        for name in NAMES:
            assert getattr(client, method)(url(name, ready_case)).status_code == 404, (person, name)


def test_the_wrong_method_is_405_for_people_on_the_case(ready_case: Case, consumer: User) -> None:
    client = client_for(consumer)
    assert client.post(url("apply", ready_case)).status_code == 405
    assert client.get(url("apply_submit", ready_case)).status_code == 405


def test_the_mediator_reads_but_gets_no_forms(ready_case: Case, mediator: User) -> None:
    body = client_for(mediator).get(url("apply", ready_case)).content.decode()
    assert "第三步：提交前检查" in body
    assert url("apply_submit", ready_case) not in body and url("apply_facts", ready_case) not in body


def test_a_missing_region_is_an_error_on_its_field_and_nothing_is_saved(ready_case: Case, consumer: User) -> None:
    response = client_for(consumer).post(url("apply_facts", ready_case), {"domicile_address": "天河路 1 号"})
    assert response.status_code == 400
    assert "请填写住所地所在的省、市、区县。" in response.content.decode()
    assert not ready_case.application_drafts.exclude(facts={}).exists()


def test_the_whole_application_over_http(
    ready_case: Case,
    consumer: User,
    bank_agent: User,
    tianhe: Organisation,
    django_capture_on_commit_callbacks: Any,
) -> None:
    consumer_client, bank_client = client_for(consumer), client_for(bank_agent)
    facts = {"domicile_address": "天河路 1 号", "domicile_region": "广东省广州市天河区"}
    assert consumer_client.post(url("apply_facts", ready_case), facts).status_code == 302
    assert consumer_client.post(url("apply_court", ready_case), {"court": "999999"}).status_code == 400
    assert consumer_client.post(url("apply_court", ready_case), {"court": tianhe.pk}).status_code == 302
    preview = consumer_client.get(url("apply_document", ready_case), {"code": "application_form"})
    assert preview.status_code == 200 and preview["Content-Type"] == "application/pdf"
    assert consumer_client.get(url("apply_document", ready_case), {"code": "nonsense"}).status_code == 404

    def sign(client: Client, user: User, document: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(url("apply_code", ready_case), {"document": document}, HTTP_ACCEPT="application/json")
        assert sent.status_code == 200 and sent.json()["sent_to"]
        wrong = client.post(
            url("apply_sign", ready_case),
            {"document": document, "confirmed": "on", "password": PASSWORD, "otp": "12345x"},
        )
        assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(
                url("apply_sign", ready_case),
                {"document": document, "confirmed": "on", "password": PASSWORD, "otp": last_code(user)},
            )
        assert done.status_code == 302, done.content.decode()[:2000]

    sign(consumer_client, consumer, "application_form")
    sign(bank_client, bank_agent, "application_form")
    sign(consumer_client, consumer, f"undertaking:consumer:{consumer.pk}")
    sign(bank_client, bank_agent, "undertaking:institution")

    not_allowed = consumer_client.post(
        url("apply_upload", ready_case), {"code": "business_licence", "file": pdf_upload()}
    )
    assert not_allowed.status_code == 400 and "这份材料应由另一方上传" in not_allowed.content.decode()
    text = SimpleUploadedFile("执照.pdf", b"plain text, not a scan", content_type="application/pdf")
    refused = bank_client.post(url("apply_upload", ready_case), {"code": "business_licence", "file": text})
    assert refused.status_code == 400 and "证照材料请上传 PDF、JPEG 或 PNG 文件。" in refused.content.decode()
    assert not ApplicationDocument.objects.filter(code="business_licence").exists()
    early = bank_client.post(url("apply_submit", ready_case))
    assert early.status_code == 400 and "缺少材料" in early.content.decode()
    for code in ("business_licence", "legal_representative_certificate", "power_of_attorney:institution"):
        assert (
            bank_client.post(url("apply_upload", ready_case), {"code": code, "file": pdf_upload()}).status_code == 302
        )

    with django_capture_on_commit_callbacks(execute=True):
        submitted = bank_client.post(url("apply_submit", ready_case))
    assert submitted.status_code == 302
    ready_case.refresh_from_db()
    assert ready_case.state == CaseState.CONFIRMATION_APPLIED
    assert ConfirmationApplication.objects.get(case=ready_case).court == tianhe
    page = consumer_client.get(url("apply", ready_case)).content.decode()
    assert "已向广州市天河区人民法院提交：已提交法院。" in page


def test_there_is_no_ruling_to_download_before_the_court_rules(ready_case: Case, consumer: User) -> None:
    assert client_for(consumer).get(url("apply_ruling", ready_case)).status_code == 404

"""The public verification page, the QR-code page and the JSON API, with real signed PDFs.

The views verify against the built-in CA by default; here they trust the test PKI of
tests.pdf_fixtures instead, which signed the files.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mediation.models import Case, User
from signing import verify
from signing.models import Agreement
from tests import pdf_fixtures as pdfs

pytestmark = pytest.mark.django_db

BEIJING = ZoneInfo("Asia/Shanghai")
VERIFY_URL = "/verify/"
API_URL = "/verify/api/"


@pytest.fixture(autouse=True)
def trust_the_test_pki(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "default_validation_context", lambda: pdfs.test_pki().validation_context())


def pdf_upload(data: bytes, name: str = "协议.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def upload(client: Client, data: bytes, name: str = "协议.pdf") -> Any:
    return client.post(reverse("signing:verify"), {"file": pdf_upload(data, name)})


def signature_states(html: str) -> list[str]:
    return re.findall(r'data-ok="(true|false)"', html)


def checks(html: str, name: str) -> list[str]:
    """The ✓/✗ shown for one check (intact, trusted, changed_after) of every signature, in order."""
    return re.findall(rf'data-check="{name}"><span class="badge(?: danger)?">([✓✗])', html)


@pytest.fixture
def issued(mediating_case: Case) -> Agreement:
    """The platform's agreement with revisions 0-2 stored: two of three signatures given."""
    return pdfs.store_agreement(mediating_case, pdfs.signed_revisions()[:3], short_code="QX7K2M9P")


# --- the upload page -------------------------------------------------------------------------------


def test_urls_are_where_the_qr_code_points() -> None:
    assert reverse("signing:verify") == VERIFY_URL
    assert reverse("signing:verify_api") == API_URL
    assert reverse("signing:verify_code", kwargs={"code": "QX7K2M9P"}) == "/verify/QX7K2M9P/"


def test_upload_page_is_public_and_asks_for_a_pdf(client: Client) -> None:
    response = client.get(VERIFY_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'name="file"' in html and 'accept="application/pdf,.pdf"' in html
    assert "csrfmiddlewaretoken" in html
    assert "不超过 20 MB" in html
    assert 'name="code"' in html


def test_signed_agreement_gets_a_green_report_per_signature(client: Client, outsider: User) -> None:
    client.force_login(outsider)  # logged-in or not, the page is the same
    response = upload(client, pdfs.fully_signed())

    assert response.status_code == 200
    html = response.content.decode()
    assert signature_states(html) == ["true", "true", "true"]
    assert "验证通过" in html and "验证未通过" not in html
    assert "文件中的签名全部有效（共 3 个），签署后文件未被篡改。" in html
    for signer in ("张三", "华南商业银行", "广东金融消费纠纷调解中心"):
        assert f"个签名：{signer}" in html
    assert checks(html, "intact") == ["✓"] * 3
    assert checks(html, "trusted") == ["✓"] * 3
    assert checks(html, "changed_after") == ["✓"] * 3
    report = verify.verify_pdf(pdfs.fully_signed())
    assert report.sha256 in html and report.sm3 in html
    assert report.signatures[0].timestamp_at is not None
    # Times are shown in Beijing time.
    assert report.signatures[0].timestamp_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") in html
    assert "本平台没有登记过与该文件完全相同的协议文件" in html


def test_flipped_byte_is_reported_broken(client: Client) -> None:
    html = upload(client, pdfs.flip_byte_in_signed_range(pdfs.fully_signed())).content.decode()

    assert signature_states(html) == ["false", "false", "false"]
    assert checks(html, "intact") == ["✗"] * 3
    assert "验证未通过" in html
    assert "文件已被篡改：第 1 个签名（张三）所覆盖的内容被改动过。" in html


@pytest.mark.parametrize(
    "tamper",
    [pdfs.rotate_page_after_signing, pdfs.replace_page_after_signing],
    ids=["rotated page", "replaced page"],
)
def test_update_after_signing_is_reported_as_changed_after(client: Client, tamper: Any) -> None:
    html = upload(client, tamper(pdfs.fully_signed())).content.decode()

    assert signature_states(html) == ["false", "false", "false"]
    assert checks(html, "intact") == ["✓"] * 3
    assert checks(html, "changed_after") == ["✗"] * 3
    assert "文件在第 3 个签名（广东金融消费纠纷调解中心）之后被修改过" in html
    assert "签署后文件内容被改动" in html


def test_foreign_certificate_is_reported_untrusted(client: Client) -> None:
    pki = pdfs.test_pki()
    data = pdfs.sign(pdfs.prepared_agreement(), "consumer-1", pki.foreign_signer, chain=(pki.foreign_root,))

    html = upload(client, data).content.decode()

    assert signature_states(html) == ["false"]
    assert checks(html, "intact") == ["✓"]
    assert checks(html, "trusted") == ["✗"]
    assert "无法确认证书来自本平台认证机构" in html


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"just some text", 415, "这不是PDF文件。请上传本平台出具的调解协议PDF文件。"),
        (b"%PDF-1.7\nbroken", 400, "无法读取该PDF文件，文件可能已损坏或不完整。"),
    ],
    ids=["not a pdf", "broken pdf"],
)
def test_bad_file_is_a_field_error(client: Client, data: bytes, status: int, message: str) -> None:
    response = upload(client, data, "合同.pdf")

    assert response.status_code == status
    html = response.content.decode()
    field = html[html.index('id="field-id_file"') :]
    assert message in field[: field.index("</div>")]
    assert "data-verdict" not in html


def test_missing_file_is_a_field_error(client: Client) -> None:
    response = client.post(VERIFY_URL, {})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="field has-error" id="field-id_file"' in html


def test_file_over_the_limit_is_refused(client: Client, settings: Any) -> None:
    settings.VERIFY_MAX_MB = 0
    small = upload(client, b"%PDF-1.7\n" + b"0" * 1000)
    # Over the limit plus the multipart allowance: refused from Content-Length before the body is parsed.
    big = upload(client, pdfs.fully_signed())

    for response in (small, big):
        assert response.status_code == 413
        assert "文件过大，不能超过 0 MB。" in response.content.decode()


def test_upload_is_csrf_protected() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(VERIFY_URL, {"file": pdf_upload(pdfs.fully_signed())})

    assert response.status_code == 403


def test_upload_of_a_platform_revision_names_the_case_and_progress(client: Client, issued: Agreement) -> None:
    html = upload(client, pdfs.signed_revisions()[1]).content.decode()

    assert issued.case.number in html
    assert "文件版本 1（最新为版本 2）" in html
    assert "已签 2 / 共 3" in html
    assert "您上传的不是该协议的最新版本" in html
    assert signature_states(html) == ["true"]


def test_upload_of_the_latest_revision_has_no_outdated_warning(client: Client, issued: Agreement) -> None:
    html = upload(client, pdfs.signed_revisions()[2]).content.decode()

    assert "文件版本 2（最新为版本 2）" in html
    assert "您上传的不是该协议的最新版本" not in html


def test_page_does_not_reveal_the_case_contents(client: Client, issued: Agreement) -> None:
    case = issued.case
    html = upload(client, pdfs.signed_revisions()[1]).content.decode()

    assert case.number in html
    assert case.description not in html
    assert case.requested_outcome not in html
    assert str(case.amount_in_dispute) not in html


# --- the QR code's page ----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["QX7K2M9P", "qx7k2m9p", "QX7K-2M9P"])
def test_code_page_verifies_the_latest_revision(client: Client, issued: Agreement, typed: str) -> None:
    response = client.get(reverse("signing:verify_code", kwargs={"code": typed}))

    assert response.status_code == 200
    html = response.content.decode()
    assert issued.case.number in html
    assert "已签 2 / 共 3" in html
    assert "文件版本 2（最新为版本 2）" in html
    assert signature_states(html) == ["true", "true"]
    assert "已有的 2 个签名均有效，签署后文件未被篡改；另有 1 个签名栏尚未签署。" in html
    assert "存档文件的指纹与生成时登记的不一致" not in html


def test_code_page_shows_an_effective_agreement(client: Client, mediating_case: Case) -> None:
    effective = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    pdfs.store_agreement(
        mediating_case, pdfs.signed_revisions(), short_code="EFF23456", state="effective", effective_at=effective
    )

    html = client.get("/verify/EFF23456/").content.decode()

    assert "已生效" in html and "2026-03-02 12:30" in html
    assert "已签 3 / 共 3" in html
    assert signature_states(html) == ["true", "true", "true"]
    assert "验证通过" in html


def test_code_form_redirects_to_the_code_page(client: Client) -> None:
    response = client.get(VERIFY_URL, {"code": " qx7k-2m9p "})

    assert response.status_code == 302
    assert response["Location"] == "/verify/QX7K2M9P/"


def test_unknown_code_is_a_404_with_a_clear_message(client: Client, issued: Agreement) -> None:
    response = client.get("/verify/NOPE2345/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "本平台没有验证码为“NOPE2345”的调解协议。" in html
    assert issued.case.number not in html


def test_code_page_reports_a_tampered_archive(client: Client, issued: Agreement) -> None:
    latest = issued.revisions.get(number=2)
    tampered = pdfs.rotate_page_after_signing(pdfs.signed_revisions()[2])
    with latest.file.open("wb") as stored:
        stored.write(tampered)

    html = client.get("/verify/QX7K2M9P/").content.decode()

    assert "存档文件的指纹与生成时登记的不一致" in html
    assert signature_states(html) == ["false", "false"]
    assert "验证未通过" in html


def test_code_page_of_a_void_agreement_says_so(client: Client, mediating_case: Case) -> None:
    pdfs.store_agreement(mediating_case, pdfs.signed_revisions()[:2], short_code="VOID2345", state="void")

    html = client.get("/verify/VOID2345/").content.decode()

    assert "已作废" in html
    assert "该协议的签署已作废，协议不发生效力。" in html


def test_code_page_before_the_pdf_exists(client: Client, mediating_case: Case) -> None:
    pdfs.store_agreement(mediating_case, [], short_code="DRAFT234", state="drafting")

    response = client.get("/verify/DRAFT234/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "该协议尚未生成签署文本。" in html
    assert "已签 0 / 共 3" in html
    assert "data-verdict" not in html


def test_code_page_refuses_post_but_404s_first(client: Client, issued: Agreement) -> None:
    assert client.post("/verify/QX7K2M9P/").status_code == 405
    assert client.post("/verify/NOPE2345/").status_code == 404


# --- the JSON API ----------------------------------------------------------------------------------


def test_api_verifies_a_multipart_upload() -> None:
    client = Client(enforce_csrf_checks=True)  # the API is for machines: no CSRF token

    response = client.post(API_URL, {"file": pdf_upload(pdfs.fully_signed())})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert [s["signer"] for s in body["signatures"]] == ["张三", "华南商业银行", "广东金融消费纠纷调解中心"]
    assert body["signatures"][0]["modification_level"] == "FORM_FILLING"
    assert body["verdict"] == "文件中的签名全部有效（共 3 个），签署后文件未被篡改。"
    assert body["agreement"] is None


def test_api_takes_a_raw_pdf_body_beyond_the_request_body_limit(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # request.body would refuse; the API reads the stream itself

    response = client.post(API_URL, data=pdfs.fully_signed(), content_type="application/pdf")

    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_api_reports_tampering(client: Client) -> None:
    data = pdfs.rotate_page_after_signing(pdfs.fully_signed())

    body = client.post(API_URL, data=data, content_type="application/pdf").json()

    assert body["ok"] is False
    assert [s["changed_after"] for s in body["signatures"]] == [True, True, True]
    assert [s["modification_level"] for s in body["signatures"]] == ["OTHER", "OTHER", "OTHER"]
    assert [s["intact"] for s in body["signatures"]] == [True, True, True]


def test_api_names_the_agreement_of_a_platform_file(client: Client, issued: Agreement) -> None:
    body = client.post(API_URL, data=pdfs.signed_revisions()[2], content_type="application/pdf").json()

    assert body["agreement"] == {
        "case_number": issued.case.number,
        "short_code": "QX7K2M9P",
        "state": "signing",
        "state_label": "签署中",
        "signed": 2,
        "total": 3,
        "latest_revision": 2,
        "effective_at": None,
        "revision": 2,
    }


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": {"file": SimpleUploadedFile("a.pdf", b"plain text")}}, 415, "not_pdf"),
        ({"data": {"other": "x"}}, 400, "required"),
        ({"data": b"%PDF-1.7\nbroken", "content_type": "application/pdf"}, 400, "unreadable"),
        ({"data": b"", "content_type": "application/pdf"}, 400, "required"),
        ({"data": "hello", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"data": {"file": "x"}, "content_type": "application/json"}, 415, "unsupported_media_type"),
    ],
    ids=["not a pdf", "no file", "broken pdf", "empty body", "text body", "json body"],
)
def test_api_errors_name_the_field(client: Client, kwargs: dict[str, Any], status: int, code: str) -> None:
    response = client.post(API_URL, **kwargs)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["field"] == "file"
    assert error["message"]


def test_api_refuses_a_file_over_the_limit(client: Client, settings: Any) -> None:
    settings.VERIFY_MAX_MB = 0

    raw = client.post(API_URL, data=pdfs.fully_signed(), content_type="application/pdf")
    multipart = client.post(API_URL, {"file": pdf_upload(b"%PDF-1.7\n" + b"0" * 100)})

    for response in (raw, multipart):
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "too_large",
            "field": "file",
            "message": "文件过大，不能超过 0 MB。",
        }


def test_api_get_is_405_json(client: Client) -> None:
    response = client.get(API_URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"

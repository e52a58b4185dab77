"""A real browser through signing: the consumer on a phone, the bank on a desktop, then anyone verifies.

Same set-up as ``test_browser_complaint``: Debian's chromium driven by pip's playwright, the browser
in one worker thread for the whole test (Playwright's sync API forbids ORM calls in its thread) and
the ORM in the test's thread. The live server runs in this process, so the codes the pages send
land in ``django.core.mail.outbox`` (or the memory SMS outbox) where the test thread reads them
between browser steps.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright

from mediation.models import Case, Organisation, User
from signing import services
from signing.models import Agreement, PdfRevision, SignatureSlot
from tests.signing_helpers import PASSWORD, last_code, prepared_agreement
from tests.test_browser_complaint import CHROMIUM, CHROMIUM_ARGS

PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1100, height=900)
# Kept after the run so a person can look at the pages.
SCREENSHOT_PHONE = Path(tempfile.gettempdir()) / "signing-phone.png"
SCREENSHOT_VERIFY = Path(tempfile.gettempdir()) / "signing-verify.png"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")

T = TypeVar("T")


def _log_in(browser: Browser, base_url: str, username: str, viewport: ViewportSize) -> Page:
    page = browser.new_context(base_url=base_url, locale="zh-CN", viewport=viewport).new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page.locator("input[name=username]")).to_have_count(0)
    return page


def _no_horizontal_scroll(page: Page) -> None:
    # A click returns once the navigation starts; measure the laid-out page with its stylesheets.
    page.wait_for_load_state("load")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on {page.url}: {width[0]} px wide in {width[1]} px"


def _slot_item(page: Page, label: str) -> Locator:
    return page.locator(".slot-list li", has=page.locator("strong", has_text=label))


def _request_code(page: Page) -> None:
    """The code is requested without leaving the page, so a password typed first stays typed."""
    password = page.locator("#sign-form input[name=password]")
    password.fill(PASSWORD)
    page.click("#code-form button:has-text('获取验证码')")
    expect(page.locator("#code-form .code-status")).to_contain_text("验证码已发送至")
    expect(password).to_have_value(PASSWORD)


def _consumer_opens_sign_page(browser: Browser, base_url: str, case_pk: int) -> Page:
    """From the case page to the sign page by the links a consumer sees, on a phone."""
    page = _log_in(browser, base_url, "consumer", PHONE)
    page.goto(f"/cases/{case_pk}/")
    panel = page.locator("section", has=page.locator("#agreement-panel-title"))
    expect(panel).to_contain_text("签署中")
    expect(panel).to_contain_text("现在轮到您签署")
    panel.locator("a", has_text="查看调解协议草稿、意见与签署情况").click()
    expect(page).to_have_url(f"{base_url}/agreements/{case_pk}/")
    _no_horizontal_scroll(page)
    page.go_back()
    panel.locator("a", has_text="核对并签署调解协议").click()
    expect(page).to_have_url(f"{base_url}/agreements/{case_pk}/sign/")
    # Phones get the link, not a frame that would download the PDF again on every visit.
    expect(page.locator("iframe.pdf-frame")).to_have_count(0)

    # The text to read first: a link to the PDF that really is the PDF.
    pdf_link = page.locator("a", has_text="查看协议 PDF")
    expect(pdf_link).to_have_attribute("href", f"/agreements/{case_pk}/document/")
    response = page.request.get(f"/agreements/{case_pk}/document/")
    assert response.ok
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    expect(page.locator("#sign-title")).to_contain_text("签署：张三")
    expect(_slot_item(page, "张三")).to_contain_text("待签署")
    _no_horizontal_scroll(page)
    _request_code(page)
    return page


def _submit_signature(page: Page, code: str) -> None:
    form = page.locator("#sign-form")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=confirm]").check()
    form.locator("button:has-text('确认签署')").click()


def _wrong_code_is_refused(page: Page, wrong: str) -> None:
    _submit_signature(page, wrong)
    code_field = page.locator("#sign-form .field", has=page.locator("input[name=code]"))
    expect(code_field).to_have_class("field has-error")
    expect(code_field.locator(".error")).to_contain_text("验证码不正确")
    expect(page.locator("#sign-form .form-errors")).to_have_count(0)
    # Nothing signed: still the consumer's turn, the ticked confirmation kept, the password not echoed.
    expect(_slot_item(page, "张三")).to_contain_text("待签署")
    expect(page.locator("#sign-form input[name=confirm]")).to_be_checked()
    expect(page.locator("#sign-form input[name=password]")).to_have_value("")
    _no_horizontal_scroll(page)


def _consumer_signs(page: Page, code: str) -> None:
    _submit_signature(page, code)
    expect(page.locator(".messages")).to_contain_text("您已完成签署（张三）。")
    expect(_slot_item(page, "张三")).to_contain_text("已签署")
    expect(_slot_item(page, "华南商业银行")).to_contain_text("待签署")
    expect(page.locator("#sign-form")).to_have_count(0)
    expect(page.locator("section.card", has_text="目前没有需要您签署的内容")).to_be_visible()
    expect(page.locator(".revision-list li")).to_have_count(2)
    _no_horizontal_scroll(page)
    page.screenshot(path=SCREENSHOT_PHONE, full_page=True)


def _bank_opens_sign_page(browser: Browser, base_url: str, case_pk: int) -> Page:
    page = _log_in(browser, base_url, "bank_agent", DESKTOP)
    page.goto(f"/agreements/{case_pk}/sign/")
    expect(page.locator("#sign-title")).to_contain_text("签署：华南商业银行")
    expect(page.locator("a", has_text="查看协议 PDF")).to_be_visible()
    # A desktop shows the agreement itself in the page, beside the signing form.
    expect(page.locator("iframe.pdf-frame")).to_have_count(1)
    expect(_slot_item(page, "张三")).to_contain_text("已签署")
    _request_code(page)
    return page


def _bank_signs(page: Page, code: str) -> None:
    _submit_signature(page, code)
    expect(page.locator(".messages")).to_contain_text("您已完成签署（华南商业银行）。")
    expect(_slot_item(page, "华南商业银行")).to_contain_text("已签署")
    expect(_slot_item(page, "华南商业银行")).to_contain_text("经办人 赵经理")
    expect(page.locator(".revision-list li")).to_have_count(3)


def _anyone_verifies(browser: Browser, base_url: str, pdf: Path, short_code: str) -> None:
    page = browser.new_context(base_url=base_url, locale="zh-CN", viewport=PHONE).new_page()
    page.goto("/verify/")
    _no_horizontal_scroll(page)
    page.set_input_files("input[name=file]", str(pdf))
    page.click("button[type=submit]:has-text('开始验证')")

    expect(page.locator("#verdict-title")).to_contain_text("验证通过")
    expect(page.locator("[data-verdict]")).to_have_class("message success")
    signatures = page.locator("[data-signature]")
    expect(signatures).to_have_count(2)
    expect(page.locator("[data-signature][data-ok=true]")).to_have_count(2)
    expect(signatures.nth(0)).to_contain_text("张三")
    expect(signatures.nth(1)).to_contain_text("华南商业银行")
    agreement_card = page.locator("section", has=page.locator("#agreement-title"))
    expect(agreement_card).to_contain_text("已签 2 / 共 4")
    expect(agreement_card).to_contain_text(short_code)
    # The latest file is what was uploaded: no "not the latest version" warning.
    expect(page.locator(".message.warning")).to_have_count(0)
    _no_horizontal_scroll(page)
    page.screenshot(path=SCREENSHOT_VERIFY, full_page=True)

    # The code printed under the QR code, typed as a person would (lower case is accepted).
    page.click("a:has-text('验证其他文件')")
    page.fill("input[name=code]", short_code.lower())
    page.click("button[type=submit]:has-text('查询')")
    expect(page).to_have_url(f"{base_url}/verify/{short_code}/")
    agreement_card = page.locator("section", has=page.locator("#agreement-title"))
    expect(agreement_card).to_contain_text("已签 2 / 共 4")
    expect(agreement_card).to_contain_text("签署中")
    expect(page.locator("#verdict-title")).to_contain_text("验证通过")
    expect(page.locator("[data-signature][data-ok=true]")).to_have_count(2)
    _no_horizontal_scroll(page)


def _statuses(agreement: Agreement) -> dict[str, str]:
    return dict(agreement.slots.values_list("field_name", "status"))


@pytest.mark.django_db(transaction=True)
def test_consumer_and_bank_sign_in_the_browser_then_anyone_verifies(
    live_server: Any,
    mediating_case: Case,
    mediator: User,
    consumer: User,
    bank_agent: User,
    bank: Organisation,
    tmp_path: Path,
) -> None:
    agreement = prepared_agreement(mediating_case, mediator)
    pending = SignatureSlot.Status.PENDING
    signed = SignatureSlot.Status.SIGNED
    assert set(_statuses(agreement).values()) == {pending}
    assert PdfRevision.objects.filter(agreement=agreement).count() == 1

    with ThreadPoolExecutor(max_workers=1) as worker:

        def in_browser_thread(function: Callable[..., T], *args: Any) -> T:
            return worker.submit(function, *args).result()

        playwright = in_browser_thread(lambda: sync_playwright().start())
        try:
            browser = in_browser_thread(
                lambda: playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            )
            url = live_server.url
            case_pk = mediating_case.pk

            consumer_page = in_browser_thread(_consumer_opens_sign_page, browser, url, case_pk)
            code = last_code(consumer)
            wrong = f"{(int(code) + 1) % 10**6:06d}"
            in_browser_thread(_wrong_code_is_refused, consumer_page, wrong)
            assert set(_statuses(agreement).values()) == {pending}
            assert PdfRevision.objects.filter(agreement=agreement).count() == 1

            in_browser_thread(_consumer_signs, consumer_page, code)
            statuses = _statuses(agreement)
            assert statuses["consumer-1"] == signed
            assert statuses["institution"] == pending
            assert agreement.slots.get(field_name="consumer-1").signed_by == consumer
            assert PdfRevision.objects.filter(agreement=agreement).count() == 2

            bank_page = in_browser_thread(_bank_opens_sign_page, browser, url, case_pk)
            in_browser_thread(_bank_signs, bank_page, last_code(bank_agent))
            statuses = _statuses(agreement)
            assert statuses == {
                "consumer-1": signed,
                "institution": signed,
                "mediator-1": pending,
                "centre-seal": pending,
            }
            assert agreement.slots.get(field_name="institution").signed_by == bank_agent
            assert PdfRevision.objects.filter(agreement=agreement).count() == 3
            agreement.refresh_from_db()
            assert agreement.state == Agreement.State.SIGNING

            latest = services.latest_revision(agreement)
            assert latest is not None and latest.number == 2
            pdf = tmp_path / "agreement-signed.pdf"
            with latest.file.open("rb") as handle:
                pdf.write_bytes(handle.read())
            in_browser_thread(_anyone_verifies, browser, url, pdf, agreement.short_code)
        finally:
            in_browser_thread(playwright.stop)

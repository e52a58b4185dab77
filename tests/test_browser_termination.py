"""A real browser after a failed mediation: the mediator records and signs, the consumer takes the package.

Same set-up as ``test_browser_signing``: Debian's chromium driven by pip's playwright in one worker
thread, the ORM in the test's thread; the code the page sends lands in the memory SMS outbox.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect

from judicial_link import package
from judicial_link.models import TerminationRecord
from mediation import services
from mediation.models import Case, TerminationReason, User
from signing import verify
from tests.browser_helpers import chromium, log_in
from tests.signing_helpers import PASSWORD, last_code
from tests.test_browser_complaint import CHROMIUM

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")

T = TypeVar("T")
UNDISPUTED = "被申请人已于2026年3月收取分期手续费1200元。"


def _mediator_drafts_and_asks_for_a_code(browser: Browser, base_url: str, case_pk: int) -> Page:
    page = log_in(browser, base_url, "mediator")
    page.goto(f"/cases/{case_pk}/")
    page.click("a:has-text('制作和签署调解终结记录')")
    # Prefilled from the complaint and the termination; the browser asks for what is required.
    expect(page.locator("textarea[name=basic_facts]")).to_contain_text("信用卡分期手续费未如实告知")
    expect(page.locator("textarea[name=failure_reasons]")).to_have_attribute("required", "")
    page.fill("textarea[name=undisputed_facts]", UNDISPUTED)
    page.fill("textarea[name=failure_reasons]", "双方对手续费是否已告知分歧较大。")
    page.click("#draft-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("调解终结记录已保存")
    page.fill("#sign-form input[name=password]", PASSWORD)
    page.click("#code-form button:has-text('获取验证码')")
    expect(page.locator("#code-form .code-status")).to_contain_text("验证码已发送至")
    return page


def _mediator_signs(page: Page, code: str) -> None:
    # The password typed before asking for the code is still there.
    expect(page.locator("#sign-form input[name=password]")).to_have_value(PASSWORD)
    page.fill("#sign-form input[name=code]", code)
    page.check("#sign-form input[name=confirm]")
    page.click("#sign-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("调解终结记录已签署")
    expect(page.locator("#draft-form")).to_have_count(0)


def _consumer_takes_the_package(browser: Browser, base_url: str, case_pk: int, download_to: Path) -> None:
    page = log_in(browser, base_url, "consumer")
    page.goto(f"/cases/{case_pk}/")
    page.click("a:has-text('记录详情与诉讼材料包')")
    page.click("button:has-text('生成诉讼材料包')")
    expect(page.locator(".messages")).to_contain_text("诉讼材料包已生成")
    with page.expect_download() as download:
        page.click("a:has-text('下载诉讼材料包')")
    download.value.save_as(str(download_to))


@pytest.mark.django_db(transaction=True)
def test_the_mediator_signs_the_record_and_the_consumer_takes_the_package(
    live_server: Any, mediating_case: Case, mediator: User, consumer: User, tmp_path: Path
) -> None:
    case = services.terminate_mediation(mediating_case, actor=mediator, reason=TerminationReason.GAP_TOO_LARGE)
    zip_path = tmp_path / "referral.zip"

    with chromium() as (run, browser):
        page = run(_mediator_drafts_and_asks_for_a_code, browser, live_server.url, case.pk)
        run(_mediator_signs, page, last_code(mediator))
        run(_consumer_takes_the_package, browser, live_server.url, case.pk, zip_path)

    record = TerminationRecord.objects.get(case=case)
    assert record.undisputed_facts == UNDISPUTED and record.signed_by == mediator
    with record.signed_pdf.open("rb") as handle:
        assert verify.verify_pdf(handle.read()).ok
    report = package.verify_package(zip_path.read_bytes())
    assert report.ok and report.purpose == "referral"

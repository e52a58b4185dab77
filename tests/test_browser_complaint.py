"""A real browser through the whole first half of a complaint: filing, transfer, answer, timeline.

Chromium is Debian's package driven by pip's playwright (``playwright install`` cannot download
browsers here); the background-networking flags keep it from probing the closed network.

Playwright's sync API runs an event loop in its thread, where Django refuses ORM calls. So the
browser lives in one worker thread for the whole test and the ORM stays in the test's thread.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mediation import services
from mediation.models import Case, CaseState, Organisation, User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "correct horse battery staple"
# Kept after the run so a person can look at the finished case page.
SCREENSHOT = Path(tempfile.gettempdir()) / "complaint.png"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")


T = TypeVar("T")


def _log_in(browser: Browser, base_url: str, username: str) -> Page:
    page = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1000, "height": 900}).new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    return page


def _file_complaint(browser: Browser, base_url: str) -> tuple[Page, str]:
    page = _log_in(browser, base_url, "consumer")
    expect(page).to_have_url(f"{base_url}/cases/")
    page.click("text=我要投诉")

    # Step 1: with JavaScript only the first step shows, and issue types follow the product.
    expect(page.locator("#step-1")).to_be_visible()
    expect(page.locator("#step-2")).to_be_hidden()
    expect(page.locator("button[type=submit]", has_text="提交投诉")).to_be_hidden()
    page.select_option("select[name=institution]", label="华南商业银行")
    page.select_option("select[name=product_category]", "credit_card")
    hidden = page.eval_on_selector('option[value="insurance_claim.claim_refused"]', "option => option.hidden")
    assert hidden is True
    page.select_option("select[name=issue_type]", "credit_card.unauthorised_transaction")
    page.click("#step-1 [data-step-next]")

    # Step 2: "next" refuses to move on while a required field is empty.
    expect(page.locator("#step-2")).to_be_visible()
    page.click("#step-2 [data-step-next]")
    expect(page.locator("#step-2")).to_be_visible()
    expect(page.locator("#step-3")).to_be_hidden()
    page.fill("input[name=amount_in_dispute]", "3560")
    page.fill("textarea[name=description]", "2025年3月信用卡在境外被盗刷三笔，我本人当时在广州。")
    page.click("#step-2 [data-step-next]")

    expect(page.locator("#step-3")).to_be_visible()
    page.fill("textarea[name=requested_outcome]", "退还被盗刷的3560元。")
    page.click("#step-3 [data-step-next]")

    expect(page.locator("#step-4")).to_be_visible()
    expect(page.locator("input[name=service_address]")).to_have_value("consumer@example.cn")
    page.check("input[name=confirm_service_address]")
    page.check("input[name=consent_online_mediation]")
    page.click("button[type=submit]:has-text('提交投诉')")

    expect(page.locator(".messages")).to_contain_text("投诉已提交")
    number = page.locator(".case-number-value").inner_text()
    page.click("nav >> text=我的投诉")
    expect(page.locator(".case-list")).to_contain_text(number)
    return page, number


def _answer_not_resolved(browser: Browser, base_url: str, number: str) -> None:
    page = _log_in(browser, base_url, "bank_agent")
    expect(page).to_have_url(f"{base_url}/institution/inbox/")
    page.click(f"text={number}")
    page.check("input[name=outcome][value=not_resolved]")
    page.fill("textarea[name=text]", "经核实，交易通过密码验证，维持原处理意见。")
    page.click("button[type=submit]:has-text('提交答复')")
    expect(page.locator(".messages")).to_contain_text("答复已提交")


def _read_answer(page: Page, case_pk: int) -> None:
    page.goto(f"/cases/{case_pk}/")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("机构答复：未解决")
    expect(timeline).to_contain_text("经核实，交易通过密码验证，维持原处理意见。")
    expect(page.locator(".actions")).to_contain_text("申请调解")
    page.screenshot(path=SCREENSHOT, full_page=True)


@pytest.mark.django_db(transaction=True)
def test_consumer_files_institution_answers_consumer_reads_the_answer(
    live_server: Any, consumer: User, bank_agent: User, case_manager: User, bank: Organisation, centre: Organisation
) -> None:
    with ThreadPoolExecutor(max_workers=1) as worker:

        def in_browser_thread(function: Callable[..., T], *args: Any) -> T:
            return worker.submit(function, *args).result()

        playwright = in_browser_thread(lambda: sync_playwright().start())
        try:
            browser = in_browser_thread(
                lambda: playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            )
            consumer_page, number = in_browser_thread(_file_complaint, browser, live_server.url)

            case = Case.objects.get(number=number)
            assert case.state == CaseState.SUBMITTED
            assert case.participants.get().user == consumer
            # The centre's pages are someone else's; the services stand in for them here.
            services.accept_case(case, actor=case_manager)
            services.transfer_to_institution(case, actor=case_manager)

            in_browser_thread(_answer_not_resolved, browser, live_server.url, number)
            case.refresh_from_db()
            assert case.state == CaseState.ANSWERED

            in_browser_thread(_read_answer, consumer_page, case.pk)
        finally:
            in_browser_thread(playwright.stop)

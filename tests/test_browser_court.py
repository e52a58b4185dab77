"""A real browser on the court side: from a signed agreement's application to acceptance and ruling.

The parties' application is made through the service (its pages are not built yet); the court clerk
then works only in the browser: inbox, the package verified on opening, acceptance with a case
number, the ruling, and the sealed ruling downloaded and verified.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, expect

from judicial_link import services
from judicial_link.models import ConfirmationApplication
from mediation.models import Case, CaseState, Organisation, User
from signing import verify
from tests.browser_helpers import chromium, log_in
from tests.judicial_helpers import application_documents, basic_court, clerk_of, effective_case
from tests.test_browser_complaint import CHROMIUM

SCREENSHOT = Path(tempfile.gettempdir()) / "court-application.png"
NUMBER = "（2026）粤0106民特88号"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")

T = TypeVar("T")


def _clerk_accepts_and_confirms(browser: Browser, base_url: str, case_number: str, download_to: Path) -> None:
    page = log_in(browser, base_url, "tianhe_clerk")
    # A clerk lands on the court's inbox.
    expect(page).to_have_url(f"{base_url}/court/")
    row = page.locator("a", has_text=case_number)
    expect(row).to_have_count(1)
    row.click()
    # Opening the application verifies the package: green, every file listed.
    expect(page.locator("body")).to_contain_text("材料包完整")
    expect(page.locator("body")).to_contain_text("agreement/agreement-signed.pdf")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.fill("input[name=court_case_number]", NUMBER)
    page.click("button:has-text('受理并登记案号')")
    expect(page.locator(".messages")).to_contain_text(NUMBER)

    # Rejecting without reasons is refused on the field; nothing is decided.
    page.check("input[name=decision][value=reject]")
    page.click("#ruling-title ~ form button:has-text('作出裁定')")
    expect(page.locator("body")).to_contain_text("驳回申请须写明理由")

    page.check("input[name=decision][value=confirm]")
    page.click("#ruling-title ~ form button:has-text('作出裁定')")
    expect(page.locator(".messages")).to_contain_text("已裁定确认调解协议有效")
    with page.expect_download() as download:
        page.click("a:has-text('下载裁定书（PDF）')")
    download.value.save_as(str(download_to))


@pytest.mark.django_db(transaction=True)
def test_the_court_accepts_and_confirms_in_the_browser(
    live_server: Any,
    mediating_case: Case,
    consumer: User,
    bank_agent: User,
    mediator: User,
    case_manager: User,
    bank: Organisation,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    people = {"consumer": consumer, "bank_agent": bank_agent, "mediator": mediator, "case_manager": case_manager}
    case = effective_case(mediating_case, people, django_capture_on_commit_callbacks)
    court = basic_court("广州市天河区人民法院", bank.region, "J0106")
    clerk_of(court, "tianhe_clerk")
    application = services.submit_application(case, actor=consumer, court=court, documents=application_documents(case))
    ruling = tmp_path / "ruling.pdf"

    with chromium() as (run, browser):
        run(_clerk_accepts_and_confirms, browser, live_server.url, case.number, ruling)

    application.refresh_from_db()
    assert application.state == ConfirmationApplication.State.CONFIRMED
    assert application.court_case_number == NUMBER and application.integrity_ok is True
    case.refresh_from_db()
    assert case.state == CaseState.CONFIRMED
    report = verify.verify_pdf(ruling.read_bytes())
    assert report.ok and report.signatures[0].organisation == "广州市天河区人民法院"

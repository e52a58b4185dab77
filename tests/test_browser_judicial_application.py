"""A real browser from a signed agreement to a confirmed one: the parties apply, the court accepts and rules.

The consumer (on a 375 px phone) enters their domicile, chooses the court and signs the application
form and their undertaking with one-time codes; the bank's agent signs with the bank's seal and
uploads the bank's papers, then submits; the court clerk accepts with a case number and confirms;
the consumer sees the case confirmed and downloads the sealed ruling, which verifies.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from judicial_link.models import ConfirmationApplication
from mediation.models import Case, CaseState, Organisation, User
from signing import verify
from tests import factories
from tests.browser_helpers import chromium, log_in
from tests.judicial_helpers import basic_court, clerk_of, effective_case
from tests.signing_helpers import PASSWORD, last_code
from tests.test_browser_complaint import CHROMIUM
from tests.test_browser_court import NUMBER, _clerk_accepts_and_confirms

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")

T = TypeVar("T")
PHONE = ViewportSize(width=375, height=800)
DESKTOP = ViewportSize(width=1100, height=900)


def _row(page: Page, code: str) -> Any:
    return page.locator(f'tr[data-code="{code}"]')


def _ask_code(page: Page, code: str) -> None:
    _row(page, code).locator("button:has-text('获取验证码')").click()
    expect(page.locator(".messages")).to_contain_text("验证码已发送至")


def _sign(page: Page, code: str, otp: str) -> None:
    row = _row(page, code)
    row.locator("input[name=confirmed]").check()
    row.locator("input[name=password]").fill(PASSWORD)
    row.locator("input[name=otp]").fill(otp)
    row.locator("button:has-text('签署')").click()
    expect(page.locator(".messages")).to_contain_text("签署成功")


def _consumer_prepares(browser: Browser, base_url: str, case_pk: int, court_name: str) -> Page:
    page = log_in(browser, base_url, "consumer", PHONE)
    page.goto(f"/cases/{case_pk}/")
    page.click("a:has-text('准备并提交司法确认申请')")
    expect(page.locator("h1")).to_contain_text("司法确认申请")
    # A missing region is refused on its field.
    page.fill("input[name=domicile_address]", "天河路 1 号")
    page.click("button:has-text('保存管辖事实')")
    expect(page.locator("body")).to_contain_text("请填写住所地所在的省、市、区县。")
    page.fill("input[name=domicile_address]", "天河路 1 号")
    page.fill("input[name=domicile_region]", "广东省广州市天河区")
    page.click("button:has-text('保存管辖事实')")
    expect(page.locator(".messages")).to_contain_text("管辖事实已保存")
    page.locator("label.choice", has_text=court_name).locator("input[type=radio]").check()
    page.click("button:has-text('选定受理法院')")
    expect(page.locator(".messages")).to_contain_text(court_name)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    _ask_code(page, "application_form")
    return page


def _bank_opens(browser: Browser, base_url: str, case_pk: int) -> Page:
    page = log_in(browser, base_url, "bank_agent", DESKTOP)
    page.goto(f"/confirmation/{case_pk}/apply/")
    expect(page.locator("h1")).to_contain_text("司法确认申请")
    return page


def _bank_uploads_and_submits(page: Page, scan: Path) -> None:
    for code in ("business_licence", "legal_representative_certificate", "power_of_attorney:institution"):
        row = _row(page, code)
        row.locator("input[type=file]").set_input_files(str(scan))
        row.locator("button:has-text('上传')").click()
        expect(page.locator(".messages")).to_contain_text("材料已上传")
    expect(page.locator("body")).to_contain_text("已满足申请司法确认的全部条件。")
    page.click("button:has-text('提交司法确认申请')")
    expect(page.locator(".messages")).to_contain_text("已向广州市天河区人民法院提交司法确认申请")


def _consumer_sees_confirmed(page: Page, case_pk: int, download_to: Path) -> None:
    page.goto(f"/confirmation/{case_pk}/apply/")
    expect(page.locator("body")).to_contain_text("裁定确认调解协议有效")
    expect(page.locator("body")).to_contain_text(NUMBER)
    with page.expect_download() as download:
        page.click("a:has-text('下载法院裁定书（PDF）')")
    download.value.save_as(str(download_to))


@pytest.mark.django_db(transaction=True)
def test_parties_apply_in_the_browser_and_the_court_confirms(
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
    scan = tmp_path / "营业执照.pdf"
    scan.write_bytes(factories.sample_pdf_bytes("营业执照"))
    ruling = tmp_path / "ruling.pdf"
    consumers_copy = tmp_path / "consumers-ruling.pdf"
    undertaking = f"undertaking:consumer:{consumer.pk}"

    with chromium() as (run, browser):
        url = live_server.url
        consumer_page = run(_consumer_prepares, browser, url, case.pk, court.name)
        run(_sign, consumer_page, "application_form", last_code(consumer))
        bank_page = run(_bank_opens, browser, url, case.pk)
        run(_ask_code, bank_page, "application_form")
        run(_sign, bank_page, "application_form", last_code(bank_agent))
        run(_ask_code, bank_page, "undertaking:institution")
        run(_sign, bank_page, "undertaking:institution", last_code(bank_agent))
        run(_ask_code, consumer_page, undertaking)
        run(_sign, consumer_page, undertaking, last_code(consumer))
        run(_bank_uploads_and_submits, bank_page, scan)
        run(_clerk_accepts_and_confirms, browser, url, case.number, ruling)
        run(_consumer_sees_confirmed, consumer_page, case.pk, consumers_copy)

    application = ConfirmationApplication.objects.get(case=case)
    assert application.state == ConfirmationApplication.State.CONFIRMED and application.integrity_ok is True
    case.refresh_from_db()
    assert case.state == CaseState.CONFIRMED
    assert consumers_copy.read_bytes() == ruling.read_bytes()
    report = verify.verify_pdf(consumers_copy.read_bytes())
    assert report.ok and report.signatures[0].organisation == "广州市天河区人民法院"

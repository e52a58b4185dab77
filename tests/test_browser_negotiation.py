"""Offers, blind bidding and files in the rooms page, with two or three browsers on a real Daphne server.

The consumer is on a 375 px phone in large-text mode; the others on a desktop. Everything goes
through the page: forms, buttons, the socket, the upload; the database is checked afterwards.
"""

from __future__ import annotations

import datetime
import shutil
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, ViewportSize, expect

from mediation.models import Case, User
from sessions import services
from sessions.models import Attachment, BlindBid, BlindBidRound, Message, Offer
from tests.browser_helpers import chromium
from tests.daphne_helpers import daphne, session_cookie
from tests.factories import sample_pdf_bytes
from tests.test_browser_complaint import CHROMIUM

pytestmark = [
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]

PHONE = 375
FILE_NAME = "<img src=x onerror=alert(1)>还款计划.pdf"
PDF = sample_pdf_bytes("repayment plan") + b"%" * 2048


def _open(browser: Browser, base_url: str, cookie: str, width: int, *, large_text: bool = False) -> Page:
    context = browser.new_context(base_url=base_url, locale="zh-CN", viewport=ViewportSize(width=width, height=900))
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    if large_text:
        context.add_cookies([{"name": "large_text", "value": "1", "url": base_url}])
    return context.new_page()


def _enter(page: Page, case_pk: int, joint: int) -> None:
    page.goto(f"/cases/{case_pk}/rooms/")
    expect(page.locator(f"#panel-{joint} [data-presence]")).to_contain_text("在线：")


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def _offers_and_files(
    browser: Browser, base_url: str, case_pk: int, cookies: dict[str, str], joint: int, days: list[str]
) -> None:
    consumer = _open(browser, base_url, cookies["consumer"], PHONE, large_text=True)
    bank = _open(browser, base_url, cookies["bank_agent"], 1100)
    for page in (consumer, bank):
        _enter(page, case_pk, joint)
    assert consumer.locator("html.large-text").count() == 1
    expect(consumer.locator("[data-offers]")).to_have_text("还没有方案。")

    # The consumer proposes 6000 in two instalments, with a waiver, from the phone.
    consumer.click("[data-offer-box] summary")
    consumer.fill("#offer-amount", "6000")
    for day, amount in zip(days, ["2500", "3500"], strict=True):
        consumer.click("[data-add-instalment]")
        row = consumer.locator("[data-instalment-rows] li").last
        row.locator("input[name=due_date]").fill(day)
        row.locator("input[name=instalment_amount]").fill(amount)
    consumer.fill("#offer-waivers", "免除逾期利息\n<b>免除违约金</b>")
    _fits(consumer)
    # A wrong total is refused next to the form and nothing is stored.
    consumer.locator("[data-instalment-rows] li").last.locator("input[name=instalment_amount]").fill("3000")
    consumer.click("[data-offer-form] button[type=submit]")
    expect(consumer.locator("[data-negotiation-error]")).to_have_text("各期金额之和须等于总金额。")
    consumer.locator("[data-instalment-rows] li").last.locator("input[name=instalment_amount]").fill("3500")
    consumer.click("[data-offer-form] button[type=submit]")

    offer = bank.locator('[data-offer="1"]')
    expect(offer.locator("[data-offer-state]")).to_have_text("待回应")
    expect(offer).to_contain_text("金额：6000.00 元")
    expect(offer).to_contain_text(f"第 2 期：{days[1]} 支付 3500.00 元")
    expect(offer).to_contain_text("减免：<b>免除违约金</b>")
    assert bank.locator("[data-offers] b").count() == 0
    expect(consumer.locator('[data-offer="1"] [data-action]')).to_have_text(["撤回"])
    expect(consumer.locator("[data-negotiation-error]")).to_be_hidden()

    # The institution accepts; both pages show the new state.
    offer.locator('[data-action="accept"]').click()
    for page in (bank, consumer):
        expect(page.locator('[data-offer="1"] [data-offer-state]')).to_have_text("已接受")
        expect(page.locator('[data-offer="1"] [data-action]')).to_have_count(0)
    _fits(consumer)

    # A file from the bank arrives at the consumer as a link with its (escaped) name and size.
    bank.set_input_files(f"#file-{joint}", {"name": FILE_NAME, "mimeType": "application/pdf", "buffer": PDF})
    link = consumer.locator(f"#panel-{joint} [data-messages] a.attachment")
    expect(link).to_have_text(FILE_NAME)
    expect(consumer.locator(f"#panel-{joint} [data-messages] .size")).to_contain_text("KB")
    assert consumer.locator(f"#panel-{joint} [data-messages] img").count() == 0
    with consumer.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == PDF
    # A refused file says why, next to the picker.
    bank.set_input_files(f"#file-{joint}", {"name": "a.pdf", "mimeType": "application/pdf", "buffer": b"<html></html>"})
    expect(bank.locator(f"#panel-{joint} [data-upload-error]")).to_contain_text("不支持该文件类型")
    _fits(consumer)


def test_an_offer_proposed_on_a_phone_is_accepted_and_a_file_is_shared(
    mediating_case: Case, consumer: User, bank_agent: User
) -> None:
    joint = services.joint_room(mediating_case).pk
    cookies = {"consumer": session_cookie(consumer), "bank_agent": session_cookie(bank_agent)}
    today = timezone.localdate()
    days = [(today + datetime.timedelta(days=n)).isoformat() for n in (30, 60)]

    with daphne() as [server], chromium() as (run, browser):
        run(_offers_and_files, browser, server.http, mediating_case.pk, cookies, joint, days)

    offer = Offer.objects.get(case=mediating_case)
    assert (offer.number, offer.side, offer.state) == (1, "consumer", "accepted")
    assert [row["amount"] for row in offer.terms["instalments"]] == ["2500.00", "3500.00"]
    assert sum(Decimal(row["amount"]) for row in offer.terms["instalments"]) == Decimal(offer.terms["amount"])
    assert Offer.objects.count() == 1  # the refused total stored nothing
    stored = Attachment.objects.get()
    assert stored.room_id == joint and stored.uploaded_by == bank_agent
    assert Message.objects.filter(room_id=joint, kind="file").count() == 1


def _blind_bidding(browser: Browser, base_url: str, case_pk: int, cookies: dict[str, str], joint: int) -> None:
    consumer = _open(browser, base_url, cookies["consumer"], PHONE, large_text=True)
    bank = _open(browser, base_url, cookies["bank_agent"], 1100)
    mediator = _open(browser, base_url, cookies["mediator"], 1100)
    for page in (consumer, bank, mediator):
        _enter(page, case_pk, joint)
    expect(consumer.locator("[data-bid-form]")).to_be_hidden()

    mediator.fill("#agreed-gap", "300")
    mediator.click("[data-open-bidding] button[type=submit]")
    for page in (consumer, bank, mediator):
        expect(page.locator("[data-round-state]")).to_have_attribute("data-round-state", "open")
    expect(mediator.locator("[data-open-bidding]")).to_be_hidden()
    expect(mediator.locator("[data-cancel-round]")).to_be_visible()
    _fits(consumer)

    # The consumer seals 5200; the field is emptied and the figure appears nowhere.
    consumer.fill("#bid-figure", "5200")
    consumer.click("[data-bid-form] button[type=submit]")
    expect(consumer.locator("[data-bid-sent]")).to_contain_text("已密封提交")
    expect(consumer.locator("#bid-figure")).to_have_value("")
    expect(consumer.locator("[data-round]")).to_contain_text("已提交报价：投诉人")
    bank.fill("#bid-figure", "5000")
    bank.click("[data-bid-form] button[type=submit]")

    for page in (consumer, bank, mediator):
        expect(page.locator("[data-round-state]")).to_have_text("已达成：按双方报价的中间值 5100.00 元和解。")
        text = page.locator("body").inner_text() + page.content()
        assert "5200" not in text and "5,200" not in text, "the consumer's figure reached a page"
        assert "5000.00" not in text and "5,000" not in text, "the institution's figure reached a page"
    expect(consumer.locator("[data-bid-form]")).to_be_hidden()
    expect(mediator.locator("[data-open-bidding]")).to_be_visible()
    _fits(consumer)


def test_blind_bidding_in_the_page_shows_the_outcome_and_never_a_figure(
    mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    joint = services.joint_room(mediating_case).pk
    cookies = {
        "consumer": session_cookie(consumer),
        "bank_agent": session_cookie(bank_agent),
        "mediator": session_cookie(mediator),
    }

    with daphne() as [server], chromium() as (run, browser):
        run(_blind_bidding, browser, server.http, mediating_case.pk, cookies, joint)

    bid_round = BlindBidRound.objects.get(case=mediating_case)
    assert (bid_round.state, bid_round.settled_amount) == ("settled", Decimal("5100.00"))
    assert not BlindBid.objects.filter(figure__isnull=False).exists()

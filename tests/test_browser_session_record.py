"""A real browser: the mediator ticks a joint-room statement and finalises the record; the consumer
confirms it with their password, and the sealed PDF appears.

Same set-up as ``test_browser_termination``: Debian's chromium driven by pip's playwright in one
worker thread, the ORM in the test's thread.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from mediation.models import Case, User
from sessions import record as records
from sessions.models import MediationRecord
from signing import verify
from tests.browser_helpers import chromium, log_in
from tests.record_helpers import CAUCUS_CONSUMER, JOINT_CONSUMER, held_sitting
from tests.signing_helpers import PASSWORD
from tests.test_browser_complaint import CHROMIUM

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")

FACTS = "被投诉机构已收取分期手续费1200元。"


def _mediator_finalises(browser: Browser, base_url: str, session_pk: int, message_pk: int) -> None:
    page = log_in(browser, base_url, "mediator")
    page.goto(f"/sessions/{session_pk}/record/")
    # Only joint-room statements are offered; the caucus is not on the page at all.
    expect(page.locator("#field-statements")).to_contain_text(JOINT_CONSUMER)
    expect(page.locator("body")).not_to_contain_text(CAUCUS_CONSUMER)
    page.fill("textarea[name=undisputed_facts]", FACTS)
    page.check(f"input[name=statements][value='{message_pk}']")
    page.select_option("select[name=outcome]", "adjourned")
    page.click("#record-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("调解笔录草稿已保存")
    page.click("#finalise-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("调解笔录已定稿")
    expect(page.locator("#record-statements")).to_contain_text(JOINT_CONSUMER)
    expect(page.locator("#record-form")).to_have_count(0)


def _consumer_confirms(browser: Browser, base_url: str, session_pk: int) -> Page:
    page = log_in(browser, base_url, "consumer")
    page.goto(f"/sessions/{session_pk}/record/")
    expect(page.locator("#record-facts")).to_contain_text(FACTS)
    expect(page.locator("#record-statements")).to_contain_text(JOINT_CONSUMER)
    page.fill("#confirm-form input[name=password]", "wrong password")
    page.click("#confirm-form button[type=submit]")
    expect(page.locator("#confirm-form")).to_contain_text("登录密码不正确")
    page.fill("#confirm-form input[name=password]", PASSWORD)
    page.click("#confirm-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("您已确认调解笔录")
    expect(page.locator("#record-state")).to_have_text("各方已确认")
    expect(page.locator("#record-pdf")).to_be_visible()
    return page


@pytest.mark.django_db(transaction=True)
def test_the_mediator_finalises_and_the_consumer_confirms(
    live_server: Any, mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    sitting = held_sitting(mediating_case, consumer=consumer, bank_agent=bank_agent, mediator=mediator)

    with chromium() as (run, browser):
        run(_mediator_finalises, browser, live_server.url, sitting.session.pk, sitting.joint_consumer.pk)
        record = MediationRecord.objects.get()
        records.confirm(record, user=bank_agent, password=PASSWORD)  # the institution, outside the browser
        run(_consumer_confirms, browser, live_server.url, sitting.session.pk)

    record.refresh_from_db()
    assert record.state == MediationRecord.State.CONFIRMED and record.undisputed_facts == FACTS
    assert [s.message_id for s in record.statements.all()] == [sitting.joint_consumer.pk]
    assert verify.verify_pdf(records.read_sealed(record)).ok

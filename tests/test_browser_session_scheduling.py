"""A real browser: the consumer declares a day they cannot attend; the mediator schedules around it.

The mediator first picks that very day: the form refuses it naming the consumer, and schedules it
only once the mediator ticks the explicit override.
"""

from __future__ import annotations

import datetime
import shutil
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from mediation.models import Case, Notification, User
from sessions.models import MediationSession, UnavailableDate
from tests.browser_helpers import chromium, log_in
from tests.test_browser_complaint import CHROMIUM

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")


def _consumer_declares(browser: Browser, base_url: str, case_pk: int, day: str) -> None:
    page = log_in(browser, base_url, "consumer")
    page.goto(f"/cases/{case_pk}/")
    page.click("a:has-text('调解会议安排')")
    expect(page.locator("h1")).to_have_text("调解会议安排")
    # A party has no schedule form.
    expect(page.locator("#schedule-form")).to_have_count(0)
    page.fill("#unavailable-form input[name=date]", day)
    page.fill("#unavailable-form input[name=note]", "当天住院复查")
    page.click("#unavailable-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text(f"已登记 {day} 不便参加")
    expect(page.locator("#my-dates")).to_contain_text(day)
    expect(page.locator("#my-dates")).to_contain_text("当天住院复查")
    page.context.close()


def _mediator_schedules(browser: Browser, base_url: str, case_pk: int, day: str) -> None:
    page = log_in(browser, base_url, "mediator")
    page.goto(f"/cases/{case_pk}/sessions/")
    expect(page.locator("#everyone-dates")).to_contain_text(f"{day} · 张三（投诉人） · 当天住院复查")
    page.fill("#id_scheduled_start", f"{day}T10:00")
    page.fill("#id_scheduled_end", f"{day}T12:00")
    page.check("input[name=mode][value=separate]")
    page.click("#schedule-form button[type=submit]")
    error = page.locator("#schedule-form .has-error .error")
    expect(error).to_contain_text("张三")
    expect(error).to_contain_text("已登记当天不便参加")
    expect(page.locator("table.sittings")).to_have_count(0)

    page.check("#id_override_unavailability")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("已安排第 1 次调解")
    row = page.locator("#sitting-1")
    expect(row).to_contain_text(f"{day} 10:00")
    expect(row).to_contain_text("背对背调解")
    expect(row).to_contain_text("已安排")
    with page.expect_download() as download:
        row.locator("a:has-text('日历文件')").click()
    assert download.value.suggested_filename.endswith("-1.ics")
    page.context.close()


@pytest.mark.django_db(transaction=True)
def test_the_mediator_schedules_around_a_consumers_unavailable_day_in_the_browser(
    live_server: Any, mediating_case: Case, consumer: User, bank_agent: User, mediator: User
) -> None:
    day = (timezone.localdate() + datetime.timedelta(days=5)).isoformat()

    with chromium() as (run, browser):
        run(_consumer_declares, browser, live_server.url, mediating_case.pk, day)
        run(_mediator_schedules, browser, live_server.url, mediating_case.pk, day)

    assert UnavailableDate.objects.get().user == consumer
    sitting = MediationSession.objects.get()
    assert (sitting.number, sitting.mode) == (1, "separate")
    assert sitting.overridden_unavailability[0]["user"] == consumer.pk
    assert Notification.objects.filter(recipient=bank_agent, kind="sessions.session.scheduled").count() == 1

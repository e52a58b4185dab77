"""A sitting in two browsers on a real Daphne server: check in, open, write, mute, refused.

The codes are sent by the Daphne child process through the console SMS backend; the child writes
to the file descriptor pytest captures (``capfd``), and the test reads the code from there, as a
person reads their phone.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from mediation.models import Case, User
from sessions import services
from sessions.models import Attendance, MediationSession
from tests.browser_helpers import chromium
from tests.daphne_helpers import daphne, session_cookie
from tests.test_browser_complaint import CHROMIUM
from tests.test_browser_rooms import _open, _say
from tests.test_session_opening import sitting

pytestmark = [
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def _request_code(page: Page, session_pk: int) -> None:
    page.goto(f"/sessions/{session_pk}/check-in/")
    expect(page.locator("#sham-warning")).to_contain_text("第三百零七条之一")
    page.click("#code-form button")
    expect(page.locator("body")).to_contain_text("验证码已发送至")


def _finish_check_in(page: Page, code: str) -> None:
    page.fill("#check-in-form input[name=code]", code)
    page.check("#check-in-form input[name=acknowledged]")
    page.click("#check-in-form button[type=submit]")
    expect(page.locator("body")).to_contain_text("签到完成")


def _open_sitting(page: Page) -> None:
    page.check("#recording-form input[value=no]")
    page.click("#recording-form button[type=submit]")
    expect(page.locator("#recording-consent")).to_contain_text("不同意")
    page.click("#open-session")
    expect(page.locator("#session-state")).to_have_text("进行中")


def _consumer_writes(page: Page, case_pk: int, joint: int) -> None:
    page.goto(f"/cases/{case_pk}/rooms/")
    expect(page.locator(f"#panel-{joint} [data-presence]")).to_contain_text("在线：")
    _say(page, joint, "我已签到，现在陈述诉求。")
    expect(page.locator(f"#panel-{joint} [data-messages] li:not(.pending) .body").last).to_have_text(
        "我已签到，现在陈述诉求。"
    )


def _mediator_mutes(page: Page, session_pk: int, consumer_pk: int) -> None:
    page.goto(f"/sessions/{session_pk}/")
    page.click(f"#attendance tr[data-user='{consumer_pk}'] button[value=mute]")
    expect(page.locator(f"#attendance tr[data-user='{consumer_pk}']")).to_contain_text("已禁言")


def _consumer_is_refused(page: Page, joint: int) -> None:
    expect(page.locator("#sitting-notice")).to_contain_text("您已被调解员禁言")
    _say(page, joint, "我还要说。")
    expect(page.locator(f"#panel-{joint} [data-error]")).to_contain_text("您已被调解员禁言，暂时不能发言。")
    expect(page.locator(f"#panel-{joint} li.pending")).to_have_count(0)


def _code_from(capfd: Any, user: User) -> str:
    printed = capfd.readouterr().out
    codes = re.findall(rf"\[SMS to {re.escape(str(user.phone))}\] .*?验证码 (\d{{6}})", printed)
    assert codes, "the server printed no code for " + user.username
    return str(codes[-1])


def test_check_in_open_write_and_mute_in_two_browsers(
    mediating_case: Case, consumer: User, mediator: User, capfd: Any
) -> None:
    for person in (consumer, mediator):
        person.phone_verified_at = timezone.now()
        person.save(update_fields=["phone_verified_at"])
    session = sitting(mediating_case, mediator)
    joint = services.joint_room(mediating_case).pk
    cookies = {"consumer": session_cookie(consumer), "mediator": session_cookie(mediator)}

    with daphne() as [server], chromium() as (run, browser):

        def pages(browser: Browser) -> tuple[Page, Page]:
            return _open(browser, server.http, cookies["mediator"], 1100), _open(
                browser, server.http, cookies["consumer"], 375
            )

        chair, party = run(pages, browser)
        for page, person in ((chair, mediator), (party, consumer)):
            run(_request_code, page, session.pk)
            run(_finish_check_in, page, _code_from(capfd, person))
        run(chair.goto, f"/sessions/{session.pk}/")
        run(_open_sitting, chair)
        run(_consumer_writes, party, mediating_case.pk, joint)
        run(_mediator_mutes, chair, session.pk, consumer.pk)
        run(_consumer_is_refused, party, joint)

    session.refresh_from_db()
    assert session.state == MediationSession.State.OPEN and session.recording_consent is False
    attendance = Attendance.objects.get(session=session, user=consumer)
    assert attendance.identity_method == "sms" and attendance.muted_at is not None and attendance.joined_at is not None
    bodies = list(services.joint_room(mediating_case).messages.values_list("body", flat=True))
    assert "我已签到，现在陈述诉求。" in bodies and "我还要说。" not in bodies

"""Two browsers in a mediation room on a real Daphne server: chat, a dropped connection, nothing lost.

The consumer is on a 375 px phone, the mediator on a desktop. The consumer's connection is
dropped; meanwhile the mediator sends and the consumer writes a message offline. After the
reconnection each side shows every message exactly once, in order.
"""

from __future__ import annotations

import shutil
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from mediation.models import Case, User
from sessions import services
from sessions.models import Message
from tests.browser_helpers import chromium
from tests.daphne_helpers import daphne, session_cookie
from tests.test_browser_complaint import CHROMIUM

pytestmark = [
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]

T = TypeVar("T")


def _open(browser: Browser, base_url: str, cookie: str, width: int) -> Page:
    context = browser.new_context(base_url=base_url, locale="zh-CN", viewport=ViewportSize(width=width, height=800))
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    return context.new_page()


def _joint_texts(page: Page, joint_id: int) -> list[str]:
    return page.locator(f"#panel-{joint_id} [data-messages] li .body").all_inner_texts()


def _say(page: Page, room_id: int, text: str) -> None:
    page.fill(f"#body-{room_id}", text)
    page.press(f"#body-{room_id}", "Enter")


def _chat(browser: Browser, base_url: str, case_pk: int, cookies: dict[str, str], rooms: dict[str, int]) -> None:
    joint, caucus = rooms["joint"], rooms["consumer_caucus"]
    consumer = _open(browser, base_url, cookies["consumer"], 375)
    mediator = _open(browser, base_url, cookies["mediator"], 1100)
    for page in (consumer, mediator):
        page.goto(f"/cases/{case_pk}/rooms/")
        expect(page.locator(f"#panel-{joint} [data-presence]")).to_contain_text("在线：")
    # Nothing wider than the phone's screen.
    assert consumer.evaluate("document.documentElement.scrollWidth") <= 375

    _say(consumer, joint, "您好，我是张三。")
    expect(mediator.locator(f"#panel-{joint} [data-messages] li")).to_have_count(1)
    _say(mediator, joint, "<b>请陈述</b>您的诉求。")
    expect(consumer.locator(f"#panel-{joint} [data-messages] li")).to_have_count(2)
    # Text stays text: no element from what a user typed.
    assert consumer.locator(f"#panel-{joint} [data-messages] b").count() == 0
    assert _joint_texts(consumer, joint)[1] == "<b>请陈述</b>您的诉求。"

    # The consumer's connection drops; the page says so.
    consumer.evaluate("window.fengqiaoRooms.drop()")
    expect(consumer.locator("#offline-banner")).to_be_visible()
    _say(consumer, joint, "断线时写的话。")
    expect(consumer.locator(f"#panel-{joint} li.pending")).to_have_count(1)
    _say(mediator, joint, "第一条：银行同意减免违约金。")
    _say(mediator, joint, "第二条：请确认分期方案。")
    mediator.click(f"#tab-{caucus}")
    _say(mediator, caucus, "单独问一下：您的底线是多少？")
    mediator.click(f"#tab-{joint}")
    expect(mediator.locator(f"#panel-{joint} [data-messages] li:not(.pending)")).to_have_count(4)

    consumer.evaluate("window.fengqiaoRooms.resume()")
    expect(consumer.locator("#offline-banner")).to_be_hidden()
    expect(consumer.locator(f"#panel-{joint} [data-messages] li:not(.pending)")).to_have_count(5)
    expect(mediator.locator(f"#panel-{joint} [data-messages] li")).to_have_count(5)
    want = ["您好，我是张三。", "<b>请陈述</b>您的诉求。", "第一条：银行同意减免违约金。", "第二条：请确认分期方案。"]
    assert _joint_texts(mediator, joint)[:4] == want
    assert sorted(_joint_texts(consumer, joint)) == sorted([*want, "断线时写的话。"])
    assert sorted(_joint_texts(mediator, joint)) == sorted([*want, "断线时写的话。"])
    # In number order on both screens.
    for page in (consumer, mediator):
        numbers = page.locator(f"#panel-{joint} [data-messages] li").evaluate_all(
            "items => items.map(item => Number(item.dataset.seq))"
        )
        assert numbers == [1, 2, 3, 4, 5]

    # The caucus message waits as an unread count on the consumer's other tab.
    expect(consumer.locator(f"#tab-{caucus} [data-unread]")).to_have_text("1")
    consumer.click(f"#tab-{caucus}")
    expect(consumer.locator(f"#panel-{caucus} [data-messages] li .body")).to_have_text(["单独问一下：您的底线是多少？"])
    expect(consumer.locator(f"#tab-{caucus} [data-unread]")).to_be_hidden()
    # What the consumer says in the caucus reaches the joint room only when they release it.
    _say(consumer, caucus, "可以分十二期。")
    said = consumer.locator(f"#panel-{caucus} [data-messages] li", has_text="可以分十二期。")
    expect(said.locator("button.release")).to_have_text("公开到联合调解室")
    mediator.wait_for_timeout(300)
    expect(mediator.locator(f"#panel-{joint} [data-messages] li")).to_have_count(5)
    said.locator("button.release").click()
    expect(said.locator(".release")).to_have_text("已公开到联合调解室")
    expect(mediator.locator(f"#panel-{joint} [data-messages] li")).to_have_count(6)
    assert _joint_texts(mediator, joint)[-1] == "可以分十二期。"

    # A reload shows the whole history again, each message once, and nothing is unread.
    consumer.reload()
    expect(consumer.locator(f"#panel-{joint} [data-messages] li")).to_have_count(6)
    expect(consumer.locator(f"#tab-{caucus} [data-unread]")).to_be_hidden()


def test_two_browsers_chat_and_a_dropped_connection_loses_nothing(
    mediating_case: Case, consumer: User, mediator: User
) -> None:
    rooms = {room.side: room.pk for room in services.rooms_for_case(mediating_case)}
    ids = {"joint": rooms[""], "consumer_caucus": rooms[f"consumer:{consumer.pk}"]}
    cookies = {"consumer": session_cookie(consumer), "mediator": session_cookie(mediator)}

    with daphne() as [server], chromium() as (run, browser):
        run(_chat, browser, server.http, mediating_case.pk, cookies, ids)

    joint = list(Message.objects.filter(room_id=ids["joint"]).order_by("seq").values_list("seq", "body"))
    assert [seq for seq, _body in joint] == [1, 2, 3, 4, 5, 6]
    assert len({body for _seq, body in joint}) == 6  # the offline message was stored once

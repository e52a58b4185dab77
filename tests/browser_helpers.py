"""Playwright with Debian's chromium, driven from a worker thread.

Playwright's sync API runs an event loop in its thread, where Django refuses database calls; so
the browser lives in one worker thread and the test (which reads the database) calls into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.signing_helpers import PASSWORD
from tests.test_browser_complaint import CHROMIUM, CHROMIUM_ARGS

T = TypeVar("T")
Run = Callable[..., Any]


@contextmanager
def chromium() -> Iterator[tuple[Run, Browser]]:
    """``(run, browser)``: ``run(function, *args)`` calls ``function`` in the browser's thread."""
    with ThreadPoolExecutor(max_workers=1) as worker:

        def run(function: Callable[..., T], *args: Any) -> T:
            return worker.submit(function, *args).result()

        playwright = run(lambda: sync_playwright().start())
        try:
            yield run, run(lambda: playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS))
        finally:
            run(playwright.stop)


def log_in(browser: Browser, base_url: str, username: str, viewport: ViewportSize | None = None) -> Page:
    """A new browser context logged in as ``username`` through the login form."""
    context = browser.new_context(
        base_url=base_url,
        locale="zh-CN",
        viewport=viewport or ViewportSize(width=1100, height=900),
        accept_downloads=True,
    )
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page.locator("input[name=username]")).to_have_count(0)
    return page

"""The idle warning in Debian's Chromium at a laptop's width (1366×768) and a phone's (390×844),
with the idle limit set short: the warning appears some seconds before the end, fits the screen,
and its button (繼續使用) keeps the person signed in past the first limit; left alone, it says the
session has ended and leads to a sign-in page that explains why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.served import serving
from tests.web.browser_support import photograph, zh
from tests.web.conftest import Portal, ready

IDLE = 12  # seconds; the warning comes at half of it
WARNING = zh("You have not used the portal for a while. To protect the data, you will be signed out soon.")
FITS = """(box) => {
  const width = document.documentElement.clientWidth;
  const r = box.getBoundingClientRect(), b = box.querySelector("button").getBoundingClientRect();
  return document.documentElement.scrollWidth <= width && r.left >= 0 && r.right <= width + 1
    && b.left >= 0 && b.right <= width + 1 && b.height >= 24 && r.bottom <= window.innerHeight + 1;
}"""


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}], ids=str)
def test_the_idle_warning_keeps_a_person_signed_in_in_chromium(
    portal: Portal, chromium: Browser, tmp_path: Path, viewport: Any
) -> None:
    portal.platform.settings = dataclasses.replace(
        portal.platform.settings, idle_timeout=dt.timedelta(seconds=IDLE)
    )
    with serving(portal.platform) as url:
        browser = portal.browser(url)
        ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
        context = chromium.new_context(locale="zh-TW", viewport=viewport)
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": url} for c in browser.cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{url}/portal/notifications")
        loaded = time.monotonic()
        warning = page.locator("#idle-warning")
        assert warning.get_attribute("role") == "alert" and warning.is_hidden()
        warning.get_by_text(WARNING).wait_for(timeout=IDLE * 1000)
        assert time.monotonic() - loaded >= IDLE / 2 - 1.5  # not at once: shortly before the end
        assert warning.evaluate(FITS), viewport
        photograph(page, f"idle-warning-{viewport['width']}", tmp_path)

        warning.get_by_role("button", name="繼續使用").click()
        warning.wait_for(state="hidden")
        time.sleep(max(0.0, loaded + IDLE + 2 - time.monotonic()))  # past the limit the page began with
        page.goto(f"{url}/portal/notifications")
        assert page.url == f"{url}/portal/notifications"  # still signed in
        assert warning.is_hidden()

        # left alone, the session ends and the page says so; the link leads to an explained sign-in
        ended = warning.get_by_text("為保護資料已自動登出，請重新登入。")
        ended.wait_for(timeout=(IDLE + 3) * 1000)
        assert warning.get_by_role("button", name="繼續使用").is_hidden()
        warning.get_by_role("link", name="重新登入").click()
        page.wait_for_url(re.compile(r".*/portal/sign-in\?ended=idle&next=.*"))
        assert "您已閒置逾 0.2 分鐘，為保護資料已自動登出，請重新登入。" in page.content()
        assert page.locator('input[name="next"]').get_attribute("value") == "/portal/notifications"
        context.close()

"""Every page of the main navigation, for each role, in Debian's Chromium at a phone's width
(390×844) and a laptop's (1366×768): the document is never wider than the screen (wide tables
scroll inside their own box) and no menu label breaks into one character per line. The date fields
take ROC days through typing and through the picker. With ``AEDX_SCREENSHOTS=docs/screenshots``
the phone picture (``phone.png``) is refreshed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from aedx.settings import TAIPEI
from aedx.trust import audit
from tests.served import serving
from tests.web.browser_support import photograph, zh
from tests.web.conftest import Portal, ready

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
ROLES = [
    ("aea", "hq_admin"),
    ("aea", "hq_auditor"),
    ("aea", "statistician"),
    ("sly", "branch_supervisor"),
    ("sly", "branch_officer"),
    ("A383000000", "agency_admin"),
    ("A383000000", "agency_officer"),
]
# What breaks a page on a small screen, measured on the element boxes Chromium laid out.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const wider = [...document.querySelectorAll("body *")]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1; })
    .filter(e => !e.closest(".scroll-x, .wide, .scroll, table, pre"))
    .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
  const broken = [...document.querySelectorAll(".main-nav a")].filter(a => {
    const r = a.getBoundingClientRect(), text = a.textContent.trim();
    const line = parseFloat(getComputedStyle(a).lineHeight);
    return text.length > 1 && r.height > line * 1.5;
  }).map(a => a.textContent.trim());
  return {document: document.documentElement.scrollWidth, width, wider: wider.slice(0, 5), broken};
}"""


def _signed_in(
    portal: Portal, chromium: Browser, url: str, org: str, role: str, viewport: Any
) -> BrowserContext:
    """A person of the role, signed in over HTTP; the browser carries their session."""
    browser = portal.browser(url)
    ready(portal, browser, org, f"chen.{role.replace('_', '')}{viewport['width']}", role)
    context = chromium.new_context(locale="zh-TW", viewport=viewport)
    context.add_cookies([{"name": c.name, "value": c.value or "", "url": url} for c in browser.cookies.jar])
    return context


def _submissions(portal: Portal) -> None:
    for n in range(1, 4):
        portal.submission("A383000000", n)
    portal.submission("A397000000", 4, state="rejected")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_menu_page_fits_the_screen_for_every_role(
    portal: Portal, chromium: Browser, tmp_path: Path, viewport: Any
) -> None:
    _submissions(portal)
    with serving(portal.platform) as url:
        for org, role in ROLES:
            context = _signed_in(portal, chromium, url, org, role, viewport)
            page = context.new_page()
            page.goto(f"{url}/portal/notifications")  # a page every role has
            links = page.locator(".main-nav a").evaluate_all("links => links.map(a => a.pathname)")
            assert len(links) >= 4, role
            for link in links:
                page.goto(f"{url}{link}")
                measured = page.evaluate(MEASURE)
                assert measured["document"] <= measured["width"], (role, link, measured)
                assert measured["wider"] == [] and measured["broken"] == [], (role, link, measured)
                if viewport is PHONE and role == "hq_admin" and link == "/portal/admin/audit":
                    photograph(page, "phone", tmp_path)
            context.close()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_roc_days_are_typed_and_picked_in_the_audit_search_and_the_monitor(
    portal: Portal, chromium: Browser, viewport: Any
) -> None:
    with portal.platform.db.transaction() as s:
        audit.record(s, actor="user:9", action="x.dated", object_id="o-today", outcome="ok")
    today = dt.datetime.now(TAIPEI).date()
    roc_today = f"{today.year - 1911}/{today.month:02d}/{today.day:02d}"
    with serving(portal.platform) as url:
        context = _signed_in(portal, chromium, url, "aea", "hq_admin", viewport)
        page = context.new_page()
        page.goto(f"{url}/portal/admin/audit?action=x.dated")
        since = page.locator("#since")
        assert since.get_attribute("type") == "text"
        since.fill(f"{today.year - 1911}{today.month:02d}{today.day:02d}")  # 1151205
        since.blur()
        assert since.input_value() == roc_today  # shown back as 115/12/05
        page.locator("#until + button.roc-open").click()  # the picker opens on this month
        page.locator(".roc-picker:visible").get_by_role("button", name=roc_today).click()
        assert page.locator("#until").input_value() == roc_today
        page.locator("form.filters button[type=submit]").click()
        page.wait_for_url("**since=*")
        assert "o-today" in page.content() and page.locator("#since").input_value() == roc_today

        page.goto(f"{url}/portal/monitor")
        page.locator("#from").fill("115/11/19")
        page.locator("#to").fill("民國 115/11/20")
        page.get_by_role("button", name=zh("Show the period")).click()
        page.wait_for_url("**from=*")
        assert page.locator("#from").input_value() == "115/11/19"
        assert page.locator("#to").input_value() == "115/11/20"
        assert page.locator("[role=alert]:visible").count() == 0
        context.close()

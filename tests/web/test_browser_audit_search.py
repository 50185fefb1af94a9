"""The audit search in Debian's Chromium, at a desktop's 1366 px and a phone's 390 px, in
Traditional Chinese: an HQ administrator finds a person's events by the username the 執行者 column
shows, by the person's name and by their organisation, and an API client's events by its client
id; each search shows only that actor's events, the outcome in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from aedx.accounts import organisations as orgs
from aedx.storage.db import Database
from aedx.storage.tables import ApiClient, User
from aedx.trust import audit
from tests.served import serving
from tests.web.browser_support import zh
from tests.web.conftest import Portal, ready, signed_in

WIDTHS = {"desktop": 1366, "phone": 390}
PERSON, CLIENT = "陳雅婷 (chen.yating)", "健保署主機 (c-nhi-0001)"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The embedded platform on SQLite: the search itself runs on both databases in test_admin."""
    url = f"sqlite:///{tmp_path / 'aedx.db'}"
    Database(url).migrate()
    return url


def _events(portal: Portal) -> None:
    """A refusal of chen.yating's (an agency officer of 財政部臺北國稅局, 陳雅婷) and one of an API
    client of the health insurance administration."""
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")
    with portal.platform.db.transaction() as s:
        s.execute(update(User).where(User.username == "chen.yating").values(full_name="陳雅婷"))
        nhi = orgs.get(s, "A397000000")
        s.add(ApiClient(client_id="c-nhi-0001", organisation_id=nhi.id, label="健保署主機", public_key="",
                        key_type="EC-P256", key_fingerprint="0" * 64))  # fmt: skip
        s.flush()
        audit.record(s, actor="client:c-nhi-0001", actor_organisation_id=nhi.id, action="submission.create",
                     outcome="denied", organisation_id=nhi.id, detail={"reason": "not_granted"})  # fmt: skip
    assert officer.get("/portal/admin/").status_code == 403  # audited as admin.view, refused


def _search(page: Page, field: str, words: str) -> list[str]:
    """The refused events' actors after a search by ``field``, as the table shows them."""
    form = page.get_by_role("search")
    form.get_by_label(zh("Actor"), exact=True).fill(words if field == "actor" else "")
    form.get_by_label(zh("Organisation code"), exact=True).fill(words if field == "organisation" else "")
    form.get_by_label(zh("Outcome"), exact=True).select_option("denied")
    form.get_by_role("button", name=zh("Search")).click()
    page.wait_for_url("**/portal/admin/audit?*")
    rows = page.locator("table.list tbody tr")
    expect(rows.first).to_be_visible()
    if rows.first.locator("td.empty").count():
        return []
    for outcome in rows.locator(".outcome").all_inner_texts():
        assert outcome == "拒絕"  # in words, not "denied"
    return rows.locator("td:nth-child(3)").all_inner_texts()


@pytest.mark.parametrize("screen", WIDTHS)
def test_an_administrator_finds_events_by_username_name_client_and_organisation(
    portal: Portal, chromium: Browser, screen: str
) -> None:
    _events(portal)
    with serving(portal.platform) as url:
        browser = portal.browser(url)
        ready(portal, browser, orgs.HQ_CODE, "lin.meihua", "hq_admin")
        context = chromium.new_context(locale="zh-TW", viewport={"width": WIDTHS[screen], "height": 900})
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": url} for c in browser.cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{url}/portal/admin/audit")
        shown = page.locator("table.list tbody tr").filter(has_text="chen.yating").first
        assert PERSON in shown.inner_text()  # the 執行者 column names the person and the username

        for words in ("chen.yating", "CHEN.YA", "陳雅婷", "財政部臺北國稅局"):
            actors = _search(page, "actor", words)
            assert actors and set(actors) == {PERSON}, (words, actors)
        for words in ("c-nhi-0001", "健保署主機"):
            actors = _search(page, "actor", words)
            assert actors and set(actors) == {CLIENT}, (words, actors)
        actors = _search(page, "organisation", "A383000000")
        assert actors and set(actors) == {PERSON}, actors
        assert _search(page, "actor", "nobody.at.all") == []
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[screen]
        context.close()

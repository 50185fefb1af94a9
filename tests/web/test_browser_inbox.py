"""Acknowledging a package in Debian's Chromium, at a desktop's 1366 px and a phone's 390 px: a
branch officer finds a referral package in the inbox, tries to acknowledge it before downloading it
and is told it must be downloaded first (no button that would fail), downloads it, then
acknowledges it through the confirmation that names it and sees it marked acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from aedx.kinds import get_kind
from aedx.web.i18n import translations
from tests.builders import VALID
from tests.served import serving
from tests.web.conftest import NEW_PASSWORD
from tests.web.exchange_support import AGENCY, BRANCH, World, file_of, make_world, upload
from tests.web.test_accessibility import check
from tests.web.test_browser_cases import WIDTHS, _fits

zh = translations("zh_TW").gettext
CASE_NO = str(VALID["case_referral"]["agency_case_no"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "data")
    yield made
    made.platform.close()


@pytest.mark.parametrize("screen", WIDTHS)
def test_a_branch_acknowledges_a_package_only_once_downloaded(
    world: World, chromium: Browser, screen: str
) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    assert (
        upload(officer, "case_referral", file_of("case_referral"), filename="移送0105.csv").status_code == 201
    )
    world.run()
    world.person(BRANCH, "lin.zhiming", "branch_officer")
    with serving(world.platform) as url:
        context = chromium.new_context(
            locale="zh-TW", viewport={"width": WIDTHS[screen], "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(f"{url}/portal/sign-in?next=/portal/inbox")
        page.get_by_label(zh("Username")).fill("lin.zhiming")
        page.get_by_label(zh("Password"), exact=True).fill(NEW_PASSWORD)
        page.get_by_role("button", name=zh("Sign in")).click()
        page.get_by_role("heading", name=zh("Inbox")).wait_for()

        # the package waits, not downloaded yet; acknowledging it first is refused in words
        row = page.get_by_role("row").filter(has_text=get_kind("case_referral").label_zh)
        assert row.count() == 1 and zh("Not downloaded yet") in row.inner_text()
        _fits(page)
        row.get_by_role("link", name=zh("Acknowledge")).click()
        page.get_by_role("heading", name=zh("Acknowledge this package?")).wait_for()
        told = zh(
            "The package has not been downloaded completely yet: download it first, then acknowledge it."
        )
        assert page.get_by_role("alert").filter(has_text=told).is_visible()
        assert (
            page.get_by_role("button", name=zh("Yes, acknowledge %(kind)s from %(sender)s")[:4]).count() == 0
        )
        assert "移送0105.csv" in page.locator("dl.facts").inner_text()
        assert check(page.content()) == []
        _fits(page)

        # downloaded from there, then acknowledged through the confirmation that names it
        with page.expect_download() as package:
            page.get_by_role("link", name=zh("Download"), exact=True).click()
        assert CASE_NO.encode() in Path(package.value.path()).read_bytes()
        page.get_by_role("link", name=zh("Back to the package")).click()
        page.get_by_role("link", name=zh("Acknowledge"), exact=True).click()
        page.get_by_role("heading", name=zh("Acknowledge this package?")).wait_for()
        assert page.get_by_role("alert").filter(has_text=told).count() == 0
        page.get_by_role("button", name=zh("Yes, acknowledge %(kind)s from %(sender)s")[:4]).click()
        page.get_by_role("status").filter(has_text=zh("The package is acknowledged.")).wait_for()
        assert "/portal/inbox/" in page.url and "done=true" in page.url
        assert zh("Acknowledged") in page.locator("dl.facts").inner_text()
        _fits(page)
        page.goto(f"{url}/portal/inbox?acknowledged=true")
        assert zh("Acknowledged") in page.get_by_role("row").filter(has_text="移送案件").inner_text()
        context.close()

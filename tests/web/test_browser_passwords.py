"""Guessable passwords in Debian's Chromium, at a desktop's 1366 px and a phone's 390 px, in
Traditional Chinese: an agency's administrator choosing their first password, and later changing it,
tries a common one and ones holding their own name or their organisation's, reads on the form why
each is refused, and a passphrase of unrelated words is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from aedx.storage.db import Database
from aedx.storage.tables import User
from tests.served import serving
from tests.web.browser_support import zh
from tests.web.conftest import NEW_PASSWORD, Portal

WIDTHS = {"desktop": 1366, "phone": 390}
COMMON = "此密碼（或其主要部分）屬常見或曾外洩之密碼"
OWN = "含有您的姓名、帳號、電子郵件或機關名稱"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The embedded platform on SQLite: the policy itself is tested on both databases."""
    url = f"sqlite:///{tmp_path / 'aedx.db'}"
    Database(url).migrate()
    return url


def _try(page: Page, current: str, new: str) -> None:
    page.get_by_label(zh("Current password")).fill(current)
    page.get_by_label(zh("New password"), exact=True).fill(new)
    page.get_by_label(zh("New password again")).fill(new)
    page.get_by_role("button", name=zh("Change password")).click()


def _refused(page: Page, width: int, why: str) -> None:
    """The form again, saying why in Traditional Chinese, the new password marked as the culprit."""
    alert = page.get_by_role("alert").filter(has_text="密碼太容易被猜中")
    expect(alert).to_be_visible()
    assert why in alert.inner_text() and "請改用較長且不相關之多個字詞組成的密語" in alert.inner_text()
    assert page.get_by_label(zh("New password"), exact=True).get_attribute("aria-invalid") == "true"
    box = alert.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width  # readable on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("screen", WIDTHS)
def test_guessable_passwords_are_refused_in_words_and_a_passphrase_is_taken(
    portal: Portal, chromium: Browser, screen: str
) -> None:
    width = WIDTHS[screen]
    initial = portal.person("A383000000", "chen.yating", "agency_admin")  # of 財政部臺北國稅局
    with portal.platform.db.transaction() as s:
        s.execute(update(User).where(User.username == "chen.yating").values(full_name="陳雅婷"))
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/portal/sign-in")
        page.get_by_label(zh("Username")).fill("chen.yating")
        page.get_by_label(zh("Password"), exact=True).fill(initial)
        page.get_by_role("button", name=zh("Sign in")).click()
        page.wait_for_url(f"{url}/portal/password")

        # the first password of their own
        for guessable, why in (
            ("password1234", COMMON),
            ("陳雅婷的生日是2026年", OWN),
            ("臺北國稅局的密碼2026", OWN),
            ("財政部臺北國稅局2026", OWN),
        ):
            _try(page, initial, guessable)
            _refused(page, width, why)
        _try(page, initial, NEW_PASSWORD)
        page.wait_for_url(f"{url}/portal/")

        # changing it later, from the menu's page
        page.goto(f"{url}/portal/password")
        _try(page, NEW_PASSWORD, "Chen Yating 2026!!")
        _refused(page, width, OWN)
        _try(page, NEW_PASSWORD, "password1234")
        _refused(page, width, COMMON)
        _try(page, NEW_PASSWORD, "violet lanterns drift over quiet harbours")
        page.wait_for_url(f"{url}/portal/")
        context.close()

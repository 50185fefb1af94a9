"""What the Chromium tests share: a person's first sign-in as they type it, and full-page pictures
(copied to ``AEDX_SCREENSHOTS`` when it is set, to refresh the README's screenshots)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
from pathlib import Path

from playwright.sync_api import Page

from aedx.accounts import totp
from aedx.web.i18n import translations
from tests.web.conftest import NEW_PASSWORD

zh = translations("zh_TW").gettext


def first_sign_in(page: Page, url: str, username: str, initial: str) -> None:
    """Password, the authenticator when the role needs one, then the person's own password."""
    page.goto(f"{url}/portal/sign-in")
    page.get_by_label(zh("Username")).fill(username)
    page.get_by_label(zh("Password"), exact=True).fill(initial)
    page.get_by_role("button", name=zh("Sign in")).click()
    secret = page.locator("code.secret")
    page.wait_for_load_state()
    if secret.count():
        text = secret.inner_text().replace(" ", "")
        key = base64.b32decode(text + "=" * (-len(text) % 8))
        page.get_by_label(zh("Verification code")).fill(totp.code_at(key, dt.datetime.now(dt.UTC)))
        page.get_by_role("button", name=zh("Confirm")).click()
    page.get_by_label(zh("Current password")).fill(initial)
    page.get_by_label(zh("New password"), exact=True).fill(NEW_PASSWORD)
    page.get_by_label(zh("New password again")).fill(NEW_PASSWORD)
    page.get_by_role("button", name=zh("Change password")).click()


def photograph(page: Page, name: str, folder: Path) -> None:
    """A full-page picture; copied to ``AEDX_SCREENSHOTS`` when it is set."""
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    wanted = os.environ.get("AEDX_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)

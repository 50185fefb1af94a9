"""Signing a person in over HTTP whatever their role: the authenticator enrolled when the role
needs a second factor, then the initial password changed."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
from playwright.sync_api import Page

from aedx.accounts import totp
from aedx.storage.tables import utcnow
from tests.web.conftest import NEW_PASSWORD, Portal, csrf_of, sign_in

SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def signed_in(portal: Portal, org: str, username: str, role: str) -> httpx.Client:
    browser = portal.browser()
    initial = portal.person(org, username, role)
    answer = sign_in(browser, username, initial)
    found = SECRET.search(answer.text)
    if found is not None:  # enrolment: the first code confirms the authenticator
        code = totp.code_at(totp.from_base32(found.group(1)), utcnow())
        answer = browser.post("/portal/sign-in/code", data={"code": code, "csrf_token": csrf_of(answer)})
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/password", answer.text
    page = browser.get("/portal/password")
    changed = browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert changed.status_code == 303, changed.text
    return browser


def photograph(page: Page, name: str, folder: Path) -> None:
    """A full-page picture; copied to ``AEDX_SCREENSHOTS`` when it is set."""
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    wanted = os.environ.get("AEDX_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)

"""The portal in Debian's Chromium, driven by Playwright against a real server on loopback: an HQ
administrator's first sign-in — password, authenticator enrolment with a TOTP code, their own
password — in Traditional Chinese, the default. Each main page is photographed; with
``AEDX_SCREENSHOTS=docs/screenshots`` the pictures the README shows are refreshed."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from playwright.sync_api import Browser

from aedx.accounts import totp
from aedx.kinds import get_kind
from aedx.web.i18n import translations
from tests.served import serving
from tests.web.browser_support import photograph
from tests.web.conftest import NEW_PASSWORD, Portal

zh = translations("zh_TW").gettext


def test_an_hq_administrator_signs_in_with_totp_in_chromium(
    portal: Portal, chromium: Browser, tmp_path: Path
) -> None:
    initial = portal.person("aea", "lin.meihua", "hq_admin")
    portal.submission("A383000000", 1)
    portal.submission("A397000000", 2, state="rejected")
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{url}/portal/sign-in")
        assert page.locator("html").get_attribute("lang") == "zh-Hant-TW"
        photograph(page, "sign-in", tmp_path)
        page.get_by_label(zh("Username")).fill("lin.meihua")
        page.get_by_label(zh("Password"), exact=True).fill(initial)
        page.get_by_role("button", name=zh("Sign in")).click()

        # HQ roles need a second factor: the key is shown once, confirmed by a first code
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        assert page.locator("a.otpauth").get_attribute("href", timeout=5000).startswith("otpauth://totp/")
        photograph(page, "enrol-authenticator", tmp_path)
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        page.get_by_label(zh("Verification code")).fill(totp.code_at(key, dt.datetime.now(dt.UTC)))
        page.get_by_role("button", name=zh("Confirm")).click()

        # the password an administrator set is replaced before anything else
        page.get_by_label(zh("Current password")).fill(initial)
        page.get_by_label(zh("New password"), exact=True).fill(NEW_PASSWORD)
        page.get_by_label(zh("New password again")).fill(NEW_PASSWORD)
        page.get_by_role("button", name=zh("Change password")).click()

        page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
        assert page.url == f"{url}/portal/"
        assert "A383000000" in page.content() and "A397000000" in page.content()  # HQ oversees both
        assert page.locator("time[title]").count() >= 2  # ROC dates, AD on hover
        assert page.locator("table").get_by_text(get_kind("case_referral").label_zh).count() == 2  # by names
        assert page.locator("abbr[title=A383000000]").inner_text() == "財政部臺北國稅局"  # organisations too
        photograph(page, "dashboard", tmp_path)
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["aedx_session"]["httpOnly"] and cookies["aedx_session"]["sameSite"] == "Strict"
        context.close()

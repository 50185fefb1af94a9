"""The auditor verifies the audit log from the portal: a button on the audit page, the page shows
its progress as it goes and then the verdict (intact, or where it was tampered with), and the
verification is itself in the audit log. Nobody else may start one."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select, text

from aedx.accounts import organisations as orgs
from aedx.storage.tables import AuditEvent
from aedx.trust import ledger
from aedx.trust.pki import Authority, Usage
from tests.served import serving
from tests.web.browser_support import zh
from tests.web.conftest import Portal, csrf_of, ready, signed_in

VERIFY = "/portal/admin/audit/verify"


def sealed(portal: Portal) -> None:
    """The platform's signing key made, and the audit log so far sealed with it."""
    Authority.create(portal.platform.settings.data_dir / "pki").identity(Usage.SIGNING)
    assert ledger.seal(portal.platform) is not None


def verifications(portal: Portal) -> list[tuple[str, str]]:
    with portal.platform.db.transaction() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.outcome)
            .where(AuditEvent.action == "audit.verify")
            .order_by(AuditEvent.id)
        ).all()
    return [(actor, outcome) for actor, outcome in rows]


def test_the_auditor_verifies_and_sees_intact_then_tampered(portal: Portal) -> None:
    auditor = signed_in(portal, orgs.HQ_CODE, "li.shenji", "hq_auditor")
    page = auditor.get("/portal/admin/audit")
    assert page.status_code == 200 and f'action="{VERIFY}"' in page.text and "驗證稽核紀錄" in page.text
    sealed(portal)

    intact = auditor.post(VERIFY, data={"csrf_token": csrf_of(page)})
    assert intact.status_code == 200 and "稽核紀錄完整" in intact.text, intact.text
    assert 'class="main-nav"' in intact.text  # a page of the portal, with its menu
    assert verifications(portal) == [("user:" + str(user_id(portal, "li.shenji")), "ok")]

    with portal.platform.db.transaction() as session:
        session.execute(text("UPDATE audit_events SET action = 'user.nothing' WHERE seq = 2"))
    tampered = auditor.post(VERIFY, data={"csrf_token": csrf_of(page)})
    assert tampered.status_code == 200 and "稽核紀錄遭竄改" in tampered.text
    assert "紀錄遭修改" in tampered.text and "序號 2" in tampered.text
    assert [outcome for _, outcome in verifications(portal)] == ["ok", "failed"]

    english = auditor.post(VERIFY, data={"csrf_token": csrf_of(page)}, headers={"Accept-Language": "en"})
    assert "The audit log has been tampered with" in english.text and "edited" in english.text


def test_only_the_auditor_may_verify_and_only_with_the_form(portal: Portal) -> None:
    admin = signed_in(portal, orgs.HQ_CODE, "wang.admin", "hq_admin")
    page = admin.get("/portal/admin/audit")
    assert page.status_code == 200 and VERIFY not in page.text  # the command is named instead
    assert admin.post(VERIFY, data={"csrf_token": csrf_of(page)}).status_code == 403
    auditor = signed_in(portal, orgs.HQ_CODE, "li.shenji", "hq_auditor")
    assert auditor.post(VERIFY, data={"csrf_token": "forged"}).status_code == 403
    assert auditor.get(VERIFY).status_code == 405
    assert [outcome for _, outcome in verifications(portal)] == ["denied"]  # the refusal, audited


def user_id(portal: Portal, username: str) -> int:
    with portal.platform.db.transaction() as session:
        found = session.execute(
            text("SELECT id FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()
    return int(found)


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}])
def test_the_auditor_presses_the_button_in_chromium(portal: Portal, chromium: Browser, viewport: Any) -> None:
    sealed(portal)
    with serving(portal.platform) as url:
        browser = portal.browser(url)
        ready(portal, browser, orgs.HQ_CODE, f"li.shenji{viewport['width']}", "hq_auditor")
        context = chromium.new_context(locale="zh-TW", viewport=viewport)
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": url} for c in browser.cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{url}/portal/admin/audit")
        page.get_by_role("button", name=zh("Verify the audit log")).click()
        expect(page.locator("#verdict")).to_contain_text("稽核紀錄完整")
        expect(page.locator(".verify-progress progress").last).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        context.close()

"""Helpers of the notification and monitor page tests: an HQ person signed in with TOTP, and
events emitted through the core as the exchange emits them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.accounts import totp
from aedx.notify import events
from aedx.storage.tables import Organisation, User, utcnow
from tests.web.conftest import NEW_PASSWORD, Portal, csrf_of, sign_in


def hq_ready(portal: Portal, browser: TestClient, username: str, role: str) -> None:
    """An HQ person (TOTP required) enrolled, signed in, with their own password."""
    initial = portal.person("aea", username, role)
    enrol = sign_in(browser, username, initial)
    found = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
    assert found is not None, enrol.text
    code = totp.code_at(totp.from_base32(found.group(1)), utcnow())
    signed = browser.post("/portal/sign-in/code", data={"code": code, "csrf_token": csrf_of(enrol)})
    assert signed.status_code == 303
    page = browser.get("/portal/password")
    changed = browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert changed.status_code == 303


def org_id(portal: Portal, code: str) -> int:
    with portal.platform.db.transaction() as s:
        return int(s.scalar(select(Organisation.id).where(Organisation.code == code)) or 0)


def user_id(portal: Portal, username: str) -> int:
    with portal.platform.db.transaction() as s:
        return int(s.scalar(select(User.id).where(User.username == username)) or 0)


def rejected(portal: Portal, org: str, submission_id: str, errors: int = 3) -> None:
    """The event a rejected submission emits."""
    params = {"submission_id": submission_id, "kind": "case_referral", "records": 10, "error_rows": errors,
              "warning_rows": 0}  # fmt: skip
    organisation = org_id(portal, org)
    with portal.platform.db.transaction() as s:
        events.emit(s, events.Notice(events.Event.REJECTED, organisation,
                                     events.submission_link(submission_id), params))  # fmt: skip

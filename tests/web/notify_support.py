"""Helpers of the notification and monitor page tests: an HQ person signed in with TOTP, and
events emitted through the core as the exchange emits them."""

from __future__ import annotations

from sqlalchemy import select

from aedx.notify import events
from aedx.storage.tables import Organisation, User
from tests.web.conftest import Portal


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

"""People on a real database (SQLite and PostgreSQL): HQ and a branch from the reference tables,
two agencies, the console operator acting as HQ, and helpers to sign people in at a given time."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import select

from aedx.accounts import organisations as orgs
from aedx.accounts import sessions, totp, users
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.storage.db import Database
from aedx.storage.tables import AuditEvent, User
from aedx.trust.caller import Caller

KEY = bytes(range(32))
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
NEW_PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password


@dataclass
class People:
    db: Database
    console: Caller  # the operator at the console, acting as HQ

    def create(self, org: str, username: str, role: str, actor: Caller | None = None) -> str:
        """A new account; returns its initial password."""
        with self.db.transaction() as s:
            made = users.create(
                s, actor or self.console, org, username, "王小明", f"{username}@example.gov.tw",
                role, now=T0,
            )  # fmt: skip
            return made.initial_password

    def sign_in(
        self, username: str, password: str, code: str | None = None, now: dt.datetime = T0
    ) -> sessions.SignedIn:
        with self.db.transaction() as s:
            return sessions.authenticate(s, username, password, code, "192.0.2.7", secret_key=KEY, now=now)

    def resume(self, token: str, now: dt.datetime = T0) -> Caller:
        with self.db.transaction() as s:
            return sessions.resume(s, token, now=now)

    def ready(self, org: str, username: str, role: str, now: dt.datetime = T0) -> tuple[Caller, str]:
        """A person who has signed in and chosen their own password: their caller and token."""
        initial = self.create(org, username, role)
        signed = self.sign_in(username, initial, now=now)
        with self.db.transaction() as s:
            sessions.change_password(s, signed.token, initial, NEW_PASSWORD, now=now)
        return self.resume(signed.token, now), signed.token

    def enrol(self, username: str, password: str, now: dt.datetime = T0) -> bytes:
        with self.db.transaction() as s:
            enrolment = sessions.begin_enrolment(s, username, password, "192.0.2.7", secret_key=KEY, now=now)
        return totp.from_base32(enrolment.secret)

    def user(self, username: str) -> User:
        with self.db.transaction() as s:
            found = s.scalar(select(User).where(User.username == username))
            assert found is not None
            return found

    def events(self, action: str) -> list[dict[str, Any]]:
        with self.db.transaction() as s:
            rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
            return [
                {"actor": e.actor, "outcome": e.outcome, "object_id": e.object_id,
                 "detail": json.loads(e.detail) if e.detail else {}}
                for e in rows
            ]  # fmt: skip


@pytest.fixture
def people(database_url: str) -> Iterator[People]:
    db = Database(database_url)
    with db.transaction() as s:
        orgs.seed_reference(s, "test")
        orgs.upsert(
            s,
            [orgs.OrgRow("A383000000", "財政部臺北國稅局", category="tax"),
             orgs.OrgRow("A397000000", "衛生福利部中央健康保險署", category="nhi")],
            "test",
        )  # fmt: skip
        hq = orgs.get(s, orgs.HQ_CODE)
        console = Caller(hq.id, hq.code, hq.role, "cli:operator")
    yield People(db, replace(console, permissions=frozenset(ROLE_PERMISSIONS[Role.HQ_ADMIN])))
    db.dispose()

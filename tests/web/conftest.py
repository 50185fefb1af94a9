"""A platform on a real database (SQLite and PostgreSQL) with its portal, HQ and the branches from
the reference tables, two agencies, and people made by the console operator; a browser-like
client that keeps its cookies and reads the forms' CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.accounts import organisations as orgs
from aedx.accounts import totp, users
from aedx.api.app import create_app
from aedx.exchange.platform import Platform
from aedx.settings import Settings
from aedx.storage.tables import Organisation, Submission, utcnow

KEY = bytes(range(32))
NEW_PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')  # the authenticator's key, shown once


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@dataclass
class Portal:
    platform: Platform

    def browser(self, base_url: str = "http://testserver") -> TestClient:
        return TestClient(create_app(self.platform), base_url=base_url, follow_redirects=False)

    def person(self, org: str, username: str, role: str) -> str:
        """A new account made by the console operator; returns its initial password."""
        with self.platform.db.transaction() as s:
            made = users.create(
                s, orgs.operator(s, "test"), org, username, "王小明", f"{username}@example.gov.tw", role
            )
            return made.initial_password

    def submission(self, org: str, n: int, *, state: str = "accepted", at: dt.datetime | None = None) -> str:
        """A submission row as intake leaves it, for listing."""
        with self.platform.db.transaction() as s:
            sender = s.scalars(select(Organisation).where(Organisation.code == org)).one()
            sid = f"s{org[:4].lower()}{n:06d}"
            when = at or dt.datetime(2024, 11, 25, 1, 30, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
            s.add(
                Submission(
                    id=sid, sender_id=sender.id, kind="case_referral", format="csv", encoding="utf-8",
                    filename=f"{org}-{n}.csv", sha256=f"{org}{n:054d}", size=100, blob_key=f"x/{sid}",
                    state=state, records=10, error_rows=0, warning_rows=0, received_at=when, updated_at=when,
                )
            )  # fmt: skip
            return sid


def sign_in(browser: TestClient, username: str, password: str) -> httpx.Response:
    """The password step of the sign-in form, as a browser sends it."""
    form = browser.get("/portal/sign-in")
    return browser.post(
        "/portal/sign-in", data={"username": username, "password": password, "csrf_token": csrf_of(form)}
    )


def ready(portal: Portal, browser: TestClient, org: str, username: str, role: str) -> None:
    """A person signed in (enrolling an authenticator first when the role needs a second factor)
    who has chosen their own password."""
    initial = portal.person(org, username, role)
    answer = sign_in(browser, username, initial)
    found = SECRET.search(answer.text)
    if found is not None:
        code = totp.code_at(totp.from_base32(found.group(1)), utcnow())
        answer = browser.post("/portal/sign-in/code", data={"code": code, "csrf_token": csrf_of(answer)})
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/password", answer.text
    page = browser.get("/portal/password")
    changed = browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/portal/", changed.text


def signed_in(portal: Portal, org: str, username: str, role: str) -> TestClient:
    """A browser of a new person who has signed in and chosen their own password."""
    browser = portal.browser()
    ready(portal, browser, org, username, role)
    return browser


@pytest.fixture
def portal(database_url: str, tmp_path: Path) -> Iterator[Portal]:
    settings = Settings(tmp_path, database_url, 1 << 30, b"i" * 32, secret_key=KEY)
    platform = Platform(settings)
    with platform.db.transaction() as s:
        orgs.seed_reference(s, "test")
        orgs.upsert(
            s,
            [orgs.OrgRow("A383000000", "財政部臺北國稅局", "agency", "tax"),
             orgs.OrgRow("A397000000", "衛生福利部中央健康保險署", "agency", "nhi")],
            "test",
        )  # fmt: skip
    yield Portal(platform)
    platform.close()

"""A platform for the exchange pages: the platform's own keys, the organisations and their default
grants, people signed in through the portal, and files as the agencies' and branches' systems
write them. The worker is run by the test between steps. Only the first agency has an encryption
certificate; the second, and every branch, use the portal alone."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from fastapi.testclient import TestClient

from aedx.accounts import certificates, grants
from aedx.accounts import organisations as orgs
from aedx.exchange.platform import Platform
from aedx.exchange.worker import Worker
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.settings import Settings
from aedx.trust.pki import Identity, Usage
from tests.builders import TODAY, records
from tests.exchange.hub import AGENCIES, _authority_template, csr, key_of
from tests.web.conftest import KEY, Portal, csrf_of, ready

AGENCY = "A383000000"  # has an encryption certificate
PORTAL_AGENCY = "A397000000"  # has none
BRANCH = "sly"
OTHER_BRANCH = "tpy"
TOKEN = re.compile(r'data-csrf="([^"]*)"')


@dataclass
class World:
    platform: Platform
    portal: Portal
    worker: Worker
    identities: dict[str, Identity] = field(default_factory=dict)

    def person(self, org: str, username: str, role: str) -> TestClient:
        """A browser of a person of ``org`` who has signed in and chosen their password."""
        browser = self.portal.browser()
        ready(self.portal, browser, org, username, role)
        return browser

    def hq_person(self, username: str, role: str = "hq_auditor") -> TestClient:
        """A browser of an HQ person, who enrols an authenticator on first sign-in."""
        browser = self.portal.browser()
        ready(self.portal, browser, orgs.HQ_CODE, username, role)
        return browser

    def run(self) -> int:
        return self.worker.drain()


def make_world(database_url: str, folder: Path, *, max_upload_bytes: int = 1 << 30) -> World:
    settings = Settings(folder, database_url, max_upload_bytes, b"k" * 32, today=TODAY, secret_key=KEY)
    shutil.copytree(_authority_template(), folder / "pki")
    platform = Platform(settings)
    platform.db.migrate()
    world = World(platform, Portal(platform), Worker(platform, "worker:test"))
    with platform.db.transaction() as session:
        orgs.seed_reference(session, "test")
        orgs.upsert(session, AGENCIES, "test")
        grants.apply_defaults(session, orgs.operator(session, "test"))
        issued = certificates.issue(
            session, platform.authority, AGENCY, Usage.ENCRYPTION, "test", csr(AGENCY, Usage.ENCRYPTION)
        )
        cert = x509.load_pem_x509_certificate(issued.certificate.pem.encode())
        world.identities[AGENCY] = Identity(
            key_of(AGENCY, Usage.ENCRYPTION), cert, platform.authority.issuing
        )
    return world


def file_of(kind: str, *overrides: dict[str, str | None]) -> bytes:
    return encode_records(records(kind, *overrides), get_kind(kind), "csv", "utf-8")


def token_of(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    return found.group(1) if found else csrf_of(page)


def upload(
    browser: TestClient, kind: str, body: bytes, *, check: bool = False, token: str | None = None,
    **params: Any,
) -> httpx.Response:  # fmt: skip
    """What the upload page's script sends: the raw file, the CSRF token in a header."""
    if token is None:
        token = token_of(browser.get("/portal/upload"))
    query = {"kind": kind, "format": "csv", "encoding": "utf-8", "filename": f"{kind}.csv"} | params
    if check:
        query["check"] = "true"
    return browser.post(
        "/portal/upload", params=query, content=body,
        headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"},
    )  # fmt: skip

"""The demonstration's organisations and their servers.

Every active organisation gets the reference grants, an API client with an RSA key made for it and
signing and encryption certificates issued by the platform's CA; the keys stay in the data folder.
The transferring agencies and the 13 branches each get a server folder (``offices/CODE/``) as their
administrators would set one up: the reference agency or branch system on its folders and an
``aedx-client`` configuration with the organisation's keys. ``aedx.sim.network`` then runs their
working days through the platform, and a scaled-down national day flows on its own: the agencies'
daily volumes follow the national mix of new cases (fines, fees, tax, health insurance).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import clients, grants, users
from aedx.accounts import organisations as orgs
from aedx.exchange.platform import Platform
from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.sim import contacts, keys
from aedx.sim.network import Keys, Office
from aedx.sim.records import CATEGORIES
from aedx.storage.tables import ApiClient, Organisation, User
from aedx.trust.pki import Usage

PEOPLE_FILE = "demo-people.json"
PORTAL_PEOPLE = [  # organisation, username, full name, role: one of each kind of organisation
    (orgs.HQ_CODE, "lin.meihua", "林美華", "hq_admin"),
    ("A383000000", "chen.yating", "陳雅婷", "agency_admin"),
    ("sly", "wang.zhiming", "王志明", "branch_supervisor"),
]
REFRESH_BEFORE = dt.timedelta(seconds=60)  # a new token this long before the old one expires


class Credentials:
    """An organisation's API client as its server holds it: the client id and the private key. It
    fetches an access token from the token endpoint, and a new one shortly before it expires."""

    def __init__(self, client_id: str, key: clients.PrivateKey) -> None:
        self.client_id = client_id
        self.key = key
        self._token: str | None = None
        self._until = dt.datetime.min.replace(tzinfo=dt.UTC)

    def token(self, http: httpx.Client) -> str:
        now = dt.datetime.now(dt.UTC)
        if self._token is None or now >= self._until - REFRESH_BEFORE:
            audience = str(http.base_url).rstrip("/") + clients.TOKEN_PATH
            form = {
                "grant_type": clients.GRANT_TYPE,
                "client_assertion_type": clients.ASSERTION_TYPE,
                "client_assertion": clients.make_assertion(self.client_id, self.key, audience),
            }
            response = http.post(clients.TOKEN_PATH, data=form)
            if response.status_code != 200:
                raise RuntimeError(
                    f"token for {self.client_id}: {response.status_code} {response.text[:300]}"
                )
            body = response.json()
            self._token = str(body["access_token"])
            self._until = now + dt.timedelta(seconds=int(body["expires_in"]))
        return self._token

    def headers(self, http: httpx.Client) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(http)}"}


# -- the demonstration's organisations ------------------------------------------------------------

CLIENTS_FILE = "demo-clients.json"
KEYS_FOLDER = "demo-keys"
OFFICES_FOLDER = "offices"


@dataclass(frozen=True)
class Member:
    """A demonstration organisation as its server knows it."""

    code: str
    role: str
    category: str | None
    credentials: Credentials
    keys: Keys
    format: str
    encoding: str


def enrol(platform: Platform, actor: str) -> list[Member]:
    """Every active organisation gets the reference grants and an API client with an RSA key made
    for it. The keys stay in the data folder (``demo-keys/CODE.key``, readable by the owner only)
    and the client ids in ``demo-clients.json``; a later run reuses the clients still active. Each
    also gets signing and encryption certificates, issued through a CSR (``demo-keys/CODE-*.pem``)."""
    folder = platform.settings.data_dir
    key_folder = folder / KEYS_FOLDER
    key_folder.mkdir(parents=True, exist_ok=True)
    key_folder.chmod(0o700)
    known_file = folder / CLIENTS_FILE
    known: dict[str, dict[str, str]] = json.loads(known_file.read_text()) if known_file.exists() else {}
    members = []
    with platform.db.transaction() as session:
        operator = orgs.operator(session, actor)
        grants.apply_defaults(session, operator)
        contacts.seed(session, operator)
        for o in session.scalars(select(Organisation).where(Organisation.active).order_by(Organisation.id)):
            credentials = _reused(session, known.get(o.code), key_folder / f"{o.code}.key")
            if credentials is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                path = key_folder / f"{o.code}.key"
                path.unlink(missing_ok=True)
                path.touch(mode=0o600)
                path.write_bytes(clients.private_key_pem(key))
                public = clients.public_key_pem(key)
                client = clients.register(session, operator, o.code, public_key_pem=public, label="demo")
                credentials = Credentials(client.client_id, key)
                known[o.code] = {"client_id": client.client_id, "key": str(path)}
            for usage in (Usage.SIGNING, Usage.ENCRYPTION):
                keys.identity(session, platform.authority, o, usage, key_folder)
            (signing_key, signing_cert), (encryption_key, encryption_cert) = (
                keys.files(key_folder, o.code, usage) for usage in (Usage.SIGNING, Usage.ENCRYPTION)
            )
            installed = Keys(
                credentials.client_id,
                key_folder / f"{o.code}.key",
                signing_key,
                signing_cert,
                encryption_key,
                encryption_cert,
            )
            members.append(
                Member(
                    o.code,
                    o.role,
                    o.category,
                    credentials,
                    installed,
                    o.preferred_format,
                    o.preferred_encoding,
                )
            )
    known_file.write_text(json.dumps(known, indent=1))
    known_file.chmod(0o600)
    return members


def offices(members: list[Member], root: Path, cases: int, *, seed: int = 1) -> list[Office]:
    """The agencies' and branches' servers under ``root``. ``cases``: the referrals of a demonstration
    day across the country, shared among the categories as the national new cases are (fines, fees,
    tax, health insurance) and within a category evenly among its agencies."""
    agencies = [m for m in members if m.role == "agency"]
    share = {c.code.lower(): c.share for c in CATEGORIES}
    total = sum(share.values())
    per_category = Counter(m.category for m in agencies)
    made = []
    for m in members:
        if m.role not in ("agency", "branch"):
            continue
        volume = 1
        if m.role == "agency":
            volume = max(1, round(cases * share.get(m.category or "", 0) / total / per_category[m.category]))
        fmt, encoding = Format.parse(m.format), canonical_encoding(m.encoding)
        made.append(Office(m.code, m.role, root / m.code, fmt, encoding, volume, seed))
    return made


def portal_people(platform: Platform, actor: str) -> dict[str, str]:
    """The demonstration's people of the portal and their initial passwords (kept, readable by the
    owner only, in ``demo-people.json``); a later run keeps the accounts already made."""
    path = platform.settings.data_dir / PEOPLE_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    with platform.db.transaction() as session:
        operator = orgs.operator(session, actor)
        for org, username, name, role in PORTAL_PEOPLE:
            if session.scalar(select(User.id).where(User.username == username)) is None:
                email = f"{username}@example.gov.tw"
                made = users.create(session, operator, org, username, name, email, role)
                known[username] = made.initial_password
    path.touch(mode=0o600)
    path.write_text(json.dumps(known, indent=1))
    return known


def _reused(session: Session, entry: dict[str, str] | None, path: Path) -> Credentials | None:
    if entry is None or not path.exists():
        return None
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == entry["client_id"]))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if client is None or not client.active or not isinstance(key, rsa.RSAPrivateKey):
        return None
    if clients.public_key_pem(key).decode() != client.public_key:
        return None
    return Credentials(client.client_id, key)

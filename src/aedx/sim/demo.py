"""A realistic day's traffic through the API, as the agencies and branches would send it.

Agencies refer cases (some files with mistakes, which are rejected with their reports) and send
payments for cases referred earlier; each branch pulls its inbox, acknowledges what it stored,
assigns the new cases branch case numbers and sends status back; agencies then pull their
feedback packages. Everything goes over HTTP as the organisations' own API clients: each signs a
client assertion with its private key, gets an access token from ``/oauth/token`` and a new one
before the old expires. Every file is signed with the sender's key and enveloped to its recipient,
as the agencies' servers do it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx import refdata
from aedx.accounts import clients, grants, users
from aedx.accounts import organisations as orgs
from aedx.exchange.platform import Platform
from aedx.formats import Format, read_batches
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.sim import contacts, keys, people
from aedx.sim.generate import Request, generate
from aedx.sim.records import MAKERS, Setting
from aedx.storage.tables import ApiClient, Organisation, User
from aedx.trust import cms
from aedx.trust.pki import Identity, Usage

PEOPLE_FILE = "demo-people.json"
PORTAL_PEOPLE = [  # organisation, username, full name, role: one of each kind of organisation
    (orgs.HQ_CODE, "lin.meihua", "林美華", "hq_admin"),
    ("A383000000", "chen.yating", "陳雅婷", "agency_admin"),
    ("sly", "wang.zhiming", "王志明", "branch_supervisor"),
]
FINISHED = {"rejected", "delivered", "acknowledged"}
CLOSE_REASONS = ["PAID_IN_FULL", "CERTIFICATE", "WITHDRAWN", "EXPIRED"]
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


@dataclass
class Org:
    code: str
    role: str
    credentials: Credentials
    signer: Identity  # its signing key and certificate
    decrypter: Identity  # its encryption key and certificate
    format: str = "csv"
    encoding: str = "utf-8"
    referred: list[str] = field(default_factory=list)  # agencies: their open case numbers
    next_case: int = 1


@dataclass(frozen=True)
class Pending:
    url: str
    org: Org
    cases: tuple[str, ...] = ()  # the case numbers a referral file carries


@dataclass
class Tally:
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    records: int = 0
    downloaded: int = 0
    feedback: int = 0


class Traffic:
    def __init__(
        self,
        base_url: str,
        orgs: list[Org],
        *,
        seed: int = 1,
        scale: int = 400,
        today: dt.date | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=600)
        self.platform_encryption = self._published("platform-encryption")  # uploads are enveloped to it
        self.platform_signing = self._published("platform-signing")  # packages are signed with it
        self.agencies = [o for o in orgs if o.role == "agency"]
        self.branches = {o.code: o for o in orgs if o.role == "branch"}
        self.rng = np.random.default_rng(seed)
        self.scale = scale
        self.today = today or dt.date.today()
        self.say = say
        self.tally = Tally()
        self.assigned: dict[str, list[tuple[str, str, str]]] = {b: [] for b in self.branches}
        self.run = dt.datetime.now().strftime("%y%m%d%H%M%S")  # case numbers differ from run to run

    def day(self) -> Tally:
        self.say("移送機關上傳移送案件 agencies refer cases")
        self._wait([self._referral(a) for a in self.agencies])
        self.say("分署收案並回饋分案 branches take deliveries and report assignment")
        self._wait([s for b in self.branches.values() if (s := self._branch_round(b))])
        self.say("移送機關上傳繳款資料 agencies send payments")
        self._wait([s for a in self.agencies if (s := self._payments(a))])
        self.say("分署收取繳款並回饋狀態 branches take payments and report collections and closings")
        self._wait([s for b in self.branches.values() if (s := self._branch_round(b))])
        self.say("移送機關下載回饋 agencies download feedback")
        for a in self.agencies:
            self._pull(a)
        return self.tally

    # -- agencies ----------------------------------------------------------------------------

    def _referral(self, a: Org) -> Pending:
        kind = get_kind("case_referral")
        n = int(max(20, self.rng.lognormal(np.log(self.scale), 0.8)))
        if self.rng.random() < 0.15:  # now and then a file with mistakes, rejected with its report
            request = Request(
                kind,
                n,
                a.format,
                a.encoding,
                error_rate=0.02,
                seed=int(self.rng.integers(1 << 30)),
                today=self.today,
                sender=a.code,
            )
            return self._submit(
                a, kind.name, b"".join(p.data for p in generate(request)), a.format, a.encoding
            )
        setting = Setting(self.today, a.code, big5_only=a.encoding == "cp950")
        frame = MAKERS[kind.name](kind, self.rng, a.next_case, n, setting)
        frame = frame.with_columns(  # case numbers unique to this agency, across days
            (
                pl.lit(self.run)
                + pl.col("agency_case_no").str.slice(0, 3)
                + pl.col("agency_case_no").str.slice(-9)
            ).alias("agency_case_no")
        )
        a.next_case += n
        data = encode_records(frame, kind, a.format, a.encoding)
        return self._submit(a, kind.name, data, a.format, a.encoding, tuple(frame["agency_case_no"]))

    def _payments(self, a: Org) -> Pending | None:
        if not a.referred:
            return None
        kind = get_kind("payment")
        n = max(1, len(a.referred) // 10)
        picked = self.rng.choice(len(a.referred), n, replace=False)
        frame = MAKERS[kind.name](kind, self.rng, 1, n, Setting(self.today, a.code, big5_only=True))
        cases = [a.referred[i] for i in picked]
        frame = frame.with_columns(pl.Series("agency_case_no", cases, dtype=pl.String))
        return self._submit(a, kind.name, encode_records(frame, kind, "csv", "utf-8"), "csv", "utf-8")

    def _pull(self, org: Org) -> list[pl.DataFrame]:
        """Download every waiting package, keep it, then acknowledge it."""
        frames: list[pl.DataFrame] = []
        auth = org.credentials.headers(self.http)
        inbox = self._ok(self.http.get("/api/v1/inbox", headers=auth, params={"limit": 1000})).json()
        for d in inbox:
            sealed = self._ok(self.http.get(f"/api/v1/deliveries/{d['id']}/content", headers=auth)).content
            package = cms.unwrap(sealed, org.decrypter)
            if package.signer != self.platform_signing:
                raise RuntimeError(f"delivery {d['id']} is not signed by the platform")
            stream = read_batches(package.content, get_kind(d["kind"]), Format(d["format"]), d["encoding"])
            frames.extend(b.frame.with_columns(pl.lit(d["kind"]).alias("#kind")) for b in stream)
            self._ok(self.http.post(f"/api/v1/deliveries/{d['id']}/ack", headers=auth))
            self.tally.downloaded += 1
            if d["kind"] == "status_feedback":
                self.tally.feedback += 1
        return frames

    # -- branches ----------------------------------------------------------------------------

    def _branch_round(self, b: Org) -> Pending | None:
        frames = self._pull(b)
        branch = next(x for x in refdata.branches() if x.code == b.code)
        rows: list[dict[str, str | None]] = []
        event_date = people.roc(np.array([people.epoch_days(self.today)]))[0]
        for frame in frames:
            kind = frame["#kind"][0]
            for agency, case in frame.select("agency_code", "agency_case_no").iter_rows():
                if kind == "case_referral":
                    no = self._branch_case_no(branch.abbreviation)
                    self.assigned[b.code].append((agency, case, no))
                    rows.append(self._status(b, no, agency, case, "ASSIGNED", event_date))
        for agency, case, no in list(self.assigned[b.code]):
            roll = self.rng.random()
            if roll < 0.08:
                amount = str(int(self.rng.integers(500, 20000)))
                rows.append(self._status(b, no, agency, case, "COLLECTED", event_date, amount))
            elif roll < 0.12:
                reason = str(self.rng.choice(CLOSE_REASONS))
                rows.append(self._status(b, no, agency, case, "CLOSED", event_date, close_reason=reason))
                self.assigned[b.code].remove((agency, case, no))
                self._forget(agency, case)
        if not rows:
            return None
        kind = get_kind("status_feedback")
        frame = pl.DataFrame(rows, schema={n: pl.String for n in kind.names})
        frame = frame.unique(subset=list(kind.unique_key), keep="first", maintain_order=True)
        return self._submit(b, kind.name, encode_records(frame, kind, "csv", "utf-8"), "csv", "utf-8")

    def _branch_case_no(self, abbreviation: str) -> str:
        section = str(self.rng.choice(list("甲乙丙丁戊己庚辛壬癸")))
        serial = int(self.rng.integers(1, 10**8))
        return f"{abbreviation}執{section}{self.today.year - 1911}年稅執專字第{serial:08d}號"

    @staticmethod
    def _status(
        b: Org,
        no: str,
        agency: str,
        case: str,
        event: str,
        day: str,
        amount: str | None = None,
        close_reason: str | None = None,
    ) -> dict[str, str | None]:
        return {
            "branch_code": b.code,
            "branch_case_no": no,
            "agency_code": agency,
            "agency_case_no": case,
            "event": event,
            "event_date": day,
            "amount": amount,
            "close_reason": close_reason,
            "officer": None,
        }

    def _forget(self, agency: str, case: str) -> None:
        for a in self.agencies:
            if a.code == agency and case in a.referred:
                a.referred.remove(case)

    # -- the API -----------------------------------------------------------------------------

    def _submit(
        self, org: Org, kind: str, data: bytes, fmt: str, encoding: str, cases: tuple[str, ...] = ()
    ) -> Pending:
        response = self._ok(
            self.http.post(
                "/api/v1/submissions",
                params={
                    "kind": kind,
                    "format": fmt,
                    "encoding": encoding,
                    "filename": f"{org.code}-{kind}.{fmt}",
                },
                headers=org.credentials.headers(self.http) | {"Content-Type": "application/pkcs7-mime"},
                content=b"".join(cms.seal(data, org.signer, self.platform_encryption)),
            )
        )
        self.tally.submitted += 1
        return Pending(str(response.json()["status_url"]), org, cases)

    def _wait(self, submitted: list[Pending], timeout: float = 600) -> None:
        """Poll each submission until the platform has finished with it."""
        deadline = time.monotonic() + timeout
        for item in submitted:
            while (state := self._state(item))["state"] not in FINISHED:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{item.url} still {state['state']}")
                time.sleep(0.1)
            if state["state"] == "rejected":
                self.tally.rejected += 1
                continue
            self.tally.accepted += 1
            self.tally.records += state["records"] or 0
            item.org.referred.extend(item.cases)  # the agency keeps what it referred, to pay later

    def _published(self, name: str) -> x509.Certificate:
        pem = self._ok(self.http.get(f"/api/v1/trust/certificates/{name}")).content
        return x509.load_pem_x509_certificate(pem)

    def _state(self, item: Pending) -> dict[str, Any]:
        found: dict[str, Any] = self._ok(
            self.http.get(item.url, headers=item.org.credentials.headers(self.http))
        ).json()
        return found

    @staticmethod
    def _ok(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text[:300]}")
        return response


# -- the demonstration's organisations ------------------------------------------------------------

CLIENTS_FILE = "demo-clients.json"
KEYS_FOLDER = "demo-keys"


def enrol(platform: Platform, actor: str) -> list[Org]:
    """Every active organisation gets the reference grants and an API client with an RSA key made
    for it. The keys stay in the data folder (``demo-keys/CODE.key``, readable by the owner only)
    and the client ids in ``demo-clients.json``; a later run reuses the clients still active."""
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
            signer, decrypter = (
                keys.identity(session, platform.authority, o, usage, key_folder)
                for usage in (Usage.SIGNING, Usage.ENCRYPTION)
            )
            member = Org(
                o.code, o.role, credentials, signer, decrypter, o.preferred_format, o.preferred_encoding
            )
            members.append(member)
    known_file.write_text(json.dumps(known, indent=1))
    known_file.chmod(0o600)
    return members


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

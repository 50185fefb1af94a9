"""A platform on a test database, with organisations, their grants, an API client each (with a key
made for it) and signing and encryption certificates; access tokens come from the real token
endpoint. Uploads are signed and enveloped as an agency's server does it, downloads opened
likewise. The worker is run by the test, so each step is deterministic."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aedx import refdata
from aedx.accounts import certificates, clients, grants
from aedx.accounts import organisations as orgs
from aedx.api.app import create_app
from aedx.exchange.platform import Platform
from aedx.exchange.worker import Worker
from aedx.formats import Format, read_batches
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.settings import Settings
from aedx.storage.tables import Case
from aedx.trust import cms
from aedx.trust.pki import Authority, Identity, Usage
from tests.builders import TODAY

TOKEN_URL = "http://testserver" + clients.TOKEN_PATH  # the token endpoint as the test client reaches it
AGENCIES = [
    orgs.OrgRow("A383000000", "財政部臺北國稅局", "agency", "tax"),
    orgs.OrgRow("A397000000", "衛生福利部中央健康保險署", "agency", "nhi"),
]


_KEYS: dict[tuple[str, Usage], rsa.RSAPrivateKey] = {}


def key_of(code: str, usage: Usage) -> rsa.RSAPrivateKey:
    """Organisations' keys, made once per test session (key generation is slow)."""
    if (code, usage) not in _KEYS:
        _KEYS[code, usage] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[code, usage]


@functools.cache
def _authority_template() -> Path:
    """The platform's CA and its own keys, made once and copied into each hub."""
    folder = Path(tempfile.mkdtemp(prefix="aedx-ca-")) / "pki"
    authority = Authority.create(folder)
    for usage in Usage:
        authority.identity(usage)
    return folder


def csr(code: str, usage: Usage) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{code} {usage.value}")]))
        .sign(key_of(code, usage), hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


class Hub:
    def __init__(self, database_url: str, folder: Path, *, max_upload_bytes: int = 1 << 30) -> None:
        settings = Settings(folder, database_url, max_upload_bytes, b"k" * 32, today=TODAY)
        shutil.copytree(_authority_template(), folder / "pki")
        self.platform = Platform(settings)
        self.platform.db.migrate()
        self.identities: dict[tuple[str, Usage], Identity] = {}
        with self.platform.db.transaction() as session:
            orgs.seed_reference(session, "test")
            orgs.upsert(session, AGENCIES, "test")
            grants.apply_defaults(session, orgs.operator(session, "test"))
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.client_ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # fetched from /oauth/token when first needed
        for code in [orgs.HQ_CODE, *(b.code for b in refdata.branches()), *(a.code for a in AGENCIES)]:
            self.enrol(code)
        self.client = TestClient(create_app(self.platform))
        self.worker = Worker(self.platform, "worker:test")

    def enrol(self, code: str) -> str:
        """A new API client for the organisation, with an EC P-256 key made here, and signing and
        encryption certificates (on first enrolment); returns the client_id."""
        key = ec.generate_private_key(ec.SECP256R1())
        authority = self.platform.authority
        with self.platform.db.transaction() as session:
            operator = orgs.operator(session, "test")
            client = clients.register(session, operator, code, public_key_pem=clients.public_key_pem(key))
            for usage in Usage:
                if (code, usage) not in self.identities:
                    issued = certificates.issue(session, authority, code, usage, "test", csr(code, usage))
                    cert = x509.load_pem_x509_certificate(issued.certificate.pem.encode())
                    self.identities[code, usage] = Identity(key_of(code, usage), cert, authority.issuing)
        self.keys[code], self.client_ids[code] = key, client.client_id
        self.tokens.pop(code, None)
        return client.client_id

    def assertion(self, org: str, **claims: Any) -> str:
        return clients.make_assertion(self.client_ids[org], self.keys[org], TOKEN_URL, **claims)

    def request_token(self, org: str, **form: str) -> Any:
        """POST /oauth/token with a fresh client assertion of the organisation's client."""
        fields = {
            "grant_type": clients.GRANT_TYPE,
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": self.assertion(org),
        } | form
        return self.client.post(clients.TOKEN_PATH, data=fields)

    def token(self, org: str) -> str:
        if org not in self.tokens:
            response = self.request_token(org)
            assert response.status_code == 200, response.text
            self.tokens[org] = response.json()["access_token"]
        return self.tokens[org]

    def seal(self, org: str, body: bytes) -> bytes:
        """Signed by the organisation, enveloped to the platform."""
        signer = self.identities[org, Usage.SIGNING]
        return b"".join(cms.seal(body, signer, self.platform.decrypter.certificate))

    def open(self, org: str, package: bytes) -> bytes:
        """A package opened by its recipient, after checking the platform signed it."""
        signed = cms.unwrap(package, self.identities[org, Usage.ENCRYPTION])
        assert signed.signer == self.platform.signer.certificate
        return bytes(signed.content)

    def close(self) -> None:
        self.client.close()
        self.platform.close()

    def auth(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(org)}"}

    def get(self, org: str, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth(org), **kw)

    def post(self, org: str, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.auth(org), **kw)

    def upload(
        self,
        org: str,
        kind: str,
        body: bytes,
        *,
        fmt: str = "csv",
        encoding: str = "utf-8",
        key: str | None = None,
        sealed: bool = True,
        filename: str | None = None,
    ) -> Any:
        headers = self.auth(org) | ({"Idempotency-Key": key} if key else {})
        params = {"kind": kind, "format": fmt, "encoding": encoding} | (
            {"filename": filename} if filename else {}
        )
        content = self.seal(org, body) if sealed else body
        return self.client.post("/api/v1/submissions", params=params, headers=headers, content=content)

    def send(self, org: str, kind: str, frame: pl.DataFrame, **kw: Any) -> dict[str, Any]:
        """Upload the records, let the worker run, and return the submission as the sender sees it."""
        response = self.upload(org, kind, encode_records(frame, get_kind(kind), "csv", "utf-8"), **kw)
        assert response.status_code == 202, response.text
        self.worker.drain()
        status = self.get(org, f"/api/v1/submissions/{response.json()['id']}")
        assert status.status_code == 200, status.text
        result: dict[str, Any] = status.json()
        return result

    def codes(self, org: str, submission_id: str) -> list[str]:
        report = self.get(org, f"/api/v1/submissions/{submission_id}/report", params={"limit": 10000}).json()
        return [f["code"] for f in report["findings"]]

    def inbox(self, org: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(org, "/api/v1/inbox", params=params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    def download(self, org: str, delivery: dict[str, Any]) -> pl.DataFrame:
        response = self.get(org, f"/api/v1/deliveries/{delivery['id']}/content")
        assert response.status_code == 200, response.text
        path = self.platform.settings.data_dir / f"download-{delivery['id']}"
        path.write_bytes(self.open(org, response.content))
        stream = read_batches(
            path, get_kind(delivery["kind"]), Format(delivery["format"]), delivery["encoding"]
        )
        return pl.concat([b.frame.drop("__row") for b in stream])

    def cases(self) -> pl.DataFrame:
        with self.platform.db.transaction() as session:
            rows = session.scalars(select(Case).order_by(Case.id)).all()
            return pl.DataFrame(
                [{c.name: getattr(r, c.name) for c in Case.__table__.columns} for r in rows],
                infer_schema_length=None,
            )

    def count(self, table: Any) -> int:
        with self.platform.db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)

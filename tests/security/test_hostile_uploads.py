"""Hostile uploads through ``POST /api/v1/submissions``, on both databases: each is answered with a
clear error, and nothing is kept but its audit event (no submission, no job, no file under the blob
store's ``received/`` or ``incoming/``, exactly one denied ``submission.create`` with its reason)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from aedx.accounts import certificates
from aedx.accounts import organisations as orgs
from aedx.storage.tables import AuditEvent, Job, Submission
from aedx.trust import cms
from aedx.trust.pki import Identity, Usage, name
from tests.exchange.hub import Hub, key_of

SENDER, OTHER = "A383000000", "A397000000"
LIMIT = 64 << 10
BODY = "機關代號,案號\nA383000000,113-0001\n".encode()
PATH = "/api/v1/submissions"
PARAMS = {"kind": "case_referral", "format": "csv", "encoding": "utf-8"}


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    made = Hub(database_url, tmp_path / "platform", max_upload_bytes=LIMIT)
    yield made
    made.close()


@dataclass(frozen=True)
class Snapshot:
    submissions: int
    jobs: int
    files: frozenset[str]
    last_event: int


def files(hub: Hub) -> frozenset[str]:
    """Every file under the platform's data folder (blob store included), relative to it."""
    root = hub.platform.settings.data_dir
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def snapshot(hub: Hub) -> Snapshot:
    with hub.platform.db.transaction() as session:
        last = session.scalar(select(func.max(AuditEvent.id))) or 0
    return Snapshot(hub.count(Submission), hub.count(Job), files(hub), last)


def events_since(hub: Hub, before: Snapshot) -> list[AuditEvent]:
    with hub.platform.db.transaction() as session:
        found = session.scalars(
            select(AuditEvent).where(AuditEvent.id > before.last_event).order_by(AuditEvent.id)
        ).all()
        session.expunge_all()
        return list(found)


def post(
    hub: Hub, content: Any, org: str = SENDER, headers: dict[str, str] | None = None, **params: str
) -> Any:
    return hub.client.post(
        PATH, params=PARAMS | params, headers=hub.auth(org) | (headers or {}), content=content
    )


def assert_refused(hub: Hub, before: Snapshot, response: Any, status: int, code: str, reason: str) -> None:
    """A clear error; nothing kept but exactly one denied audit event giving the reason."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message_zh"] and error["message_en"]
    after = snapshot(hub)
    assert (after.submissions, after.jobs) == (before.submissions, before.jobs)
    blobs = {f for f in after.files - before.files if f.startswith("blobs/")}
    assert blobs == set(), blobs
    assert not [f for f in after.files if f.startswith("blobs/incoming/")]
    events = events_since(hub, before)
    denied = [e for e in events if e.outcome == "denied"]
    assert [(e.action, e.kind) for e in denied] == [("submission.create", "case_referral")], events
    assert reason in json.loads(denied[0].detail or "{}")["reason"]
    assert {e.action for e in events} <= {"submission.create"}


def sealed_with(signer: Identity, body: bytes, recipient: x509.Certificate, **kw: Any) -> bytes:
    return b"".join(cms.envelope(cms.sign(body, signer, **kw), recipient))


def platform_recipient(hub: Hub) -> x509.Certificate:
    return hub.platform.decrypter.certificate


# --- size ------------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_while_it_streams(hub: Hub) -> None:
    """No Content-Length (chunked): the limit is enforced while the body is written."""
    hub.token(SENDER)
    before = snapshot(hub)

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 4096 + 2):
            yield os.urandom(4096)

    response = post(hub, chunks())
    assert_refused(hub, before, response, 413, "upload.too_large", "too_large")


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(hub: Hub) -> None:
    hub.token(SENDER)
    before = snapshot(hub)
    response = post(hub, hub.seal(SENDER, BODY * (LIMIT // len(BODY) + 1)))
    assert_refused(hub, before, response, 413, "upload.too_large", "too_large")


# --- what is not a sealed file of the sender -------------------------------------------------


def _garbage(hub: Hub) -> bytes:
    return os.urandom(5000)


def _truncated(hub: Hub) -> bytes:
    whole = hub.seal(SENDER, BODY)
    return whole[: len(whole) * 2 // 3]


def _plain_csv(hub: Hub) -> bytes:
    return BODY


def _signed_not_enveloped(hub: Hub) -> bytes:
    return b"".join(bytes(p) for p in cms.sign(BODY, hub.identities[SENDER, Usage.SIGNING]))


def _enveloped_to_another(hub: Hub) -> bytes:
    return sealed_with(
        hub.identities[SENDER, Usage.SIGNING], BODY, hub.identities[OTHER, Usage.ENCRYPTION].certificate
    )


def _signed_by_another_organisation(hub: Hub) -> bytes:
    return sealed_with(hub.identities[OTHER, Usage.SIGNING], BODY, platform_recipient(hub))


def _signed_with_the_encryption_certificate(hub: Hub) -> bytes:
    return sealed_with(hub.identities[SENDER, Usage.ENCRYPTION], BODY, platform_recipient(hub))


def _signed_long_ago(hub: Hub) -> bytes:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    return sealed_with(hub.identities[SENDER, Usage.SIGNING], BODY, platform_recipient(hub), at=at)


def _signed_in_the_future(hub: Hub) -> bytes:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return sealed_with(hub.identities[SENDER, Usage.SIGNING], BODY, platform_recipient(hub), at=at)


def _compressed(hub: Hub) -> bytes:
    """CompressedData (RFC 3274) around the sender's SignedData, as ``openssl cms -compress``."""
    return _compress(_signed_not_enveloped(hub))


def _compressed_inside_the_envelope(hub: Hub) -> bytes:
    return b"".join(cms.envelope([_compress(_signed_not_enveloped(hub))], platform_recipient(hub)))


def _compress(content: bytes) -> bytes:
    done = subprocess.run(
        ["openssl", "cms", "-compress", "-binary", "-outform", "DER"],
        input=content,
        capture_output=True,
        check=False,
    )
    if done.returncode == 0 and done.stdout:
        return done.stdout
    import zlib  # an openssl built without zlib: the same structure, made here

    info = asn1_cms.ContentInfo(
        {
            "content_type": "compressed_data",
            "content": asn1_cms.CompressedData(
                {
                    "version": "v0",
                    "compression_algorithm": {"algorithm": "zlib"},
                    "encap_content_info": {"content_type": "data", "content": zlib.compress(content)},
                }
            ),
        }
    )
    return bytes(info.dump())


HOSTILE: dict[str, tuple[Callable[[Hub], bytes], str]] = {
    "garbage": (_garbage, ""),
    "empty": (lambda hub: b"", ""),
    "truncated": (_truncated, ""),
    "plain csv": (_plain_csv, ""),
    "signed, not enveloped": (_signed_not_enveloped, "content type"),
    "enveloped to another recipient": (_enveloped_to_another, "not enveloped to the platform"),
    "signed by another organisation": (_signed_by_another_organisation, "another organisation's"),
    "signed with an encryption certificate": (_signed_with_the_encryption_certificate, "not for signing"),
    "signed more than 7 days ago": (_signed_long_ago, "too long ago"),
    "signed in the future": (_signed_in_the_future, "future"),
    "compressed": (_compressed, "compressed data is not accepted"),
    "compressed inside the envelope": (_compressed_inside_the_envelope, "compressed data is not accepted"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_content_is_refused_and_nothing_kept(hub: Hub, case: str) -> None:
    make, reason = HOSTILE[case]
    content = make(hub)
    hub.token(SENDER)
    before = snapshot(hub)
    response = post(hub, content)
    assert_refused(hub, before, response, 400, "cms.refused", reason)
    # the uniform answer tells the sender nothing about why, except that compression is not
    # accepted: that says nothing of keys or signers, and tells the sender what to change
    expected = "compressed CMS" if case.startswith("compressed") else "the file's signature or encryption"
    assert response.json()["error"]["message_en"].startswith(expected)


# --- the signer's certificate ------------------------------------------------------------------


def _issuing_key(hub: Hub) -> rsa.RSAPrivateKey:
    from aedx.trust.pki import _read_key

    return _read_key(hub.platform.authority.folder / "issuing.key")


def _certificate(
    subject_key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name(f"{SENDER} signing", SENDER))
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )


def _register(hub: Hub, cert: x509.Certificate, *, external: bool) -> None:
    with hub.platform.db.transaction() as session:
        org = orgs.get(session, SENDER)
        certificates._record(session, org, Usage.SIGNING, cert, "test", external=external)


def test_an_expired_certificate_is_refused(hub: Hub) -> None:
    now = dt.datetime.now(dt.UTC)
    key = key_of(SENDER, Usage.SIGNING)
    authority = hub.platform.authority
    cert = _certificate(
        key,
        authority.issuing.subject,
        _issuing_key(hub),
        now - dt.timedelta(days=400),
        now - dt.timedelta(days=1),
    )
    _register(hub, cert, external=False)
    content = sealed_with(Identity(key, cert, authority.issuing), BODY, platform_recipient(hub))
    hub.token(SENDER)
    before = snapshot(hub)
    assert_refused(hub, before, post(hub, content), 400, "cms.refused", "not valid now")


def test_a_revoked_certificate_is_refused(hub: Hub) -> None:
    serial = f"{hub.identities[SENDER, Usage.SIGNING].certificate.serial_number:x}"
    with hub.platform.db.transaction() as session:
        certificates.revoke(session, serial, "key_compromise", "test")
    content = hub.seal(SENDER, BODY)
    hub.token(SENDER)
    before = snapshot(hub)
    assert_refused(hub, before, post(hub, content), 400, "cms.refused", "revoked")


def _foreign_identity() -> Identity:
    """A certificate for the sender's key from a CA the platform does not trust."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = name("Foreign CA", "nobody")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = key_of(SENDER, Usage.SIGNING)
    cert = _certificate(key, ca_name, ca_key, now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    return Identity(key, cert, ca)


def test_a_foreign_certificate_is_refused(hub: Hub) -> None:
    """Signed under a CA nobody trusts: not registered, so refused."""
    content = sealed_with(_foreign_identity(), BODY, platform_recipient(hub))
    hub.token(SENDER)
    before = snapshot(hub)
    assert_refused(hub, before, post(hub, content), 400, "cms.refused", "not registered")


def test_a_registered_certificate_of_an_untrusted_ca_is_refused(hub: Hub) -> None:
    """Even when such a certificate has made it into the register (an anchor removed since), its
    chain is checked on every upload."""
    identity = _foreign_identity()
    _register(hub, identity.certificate, external=True)
    content = sealed_with(identity, BODY, platform_recipient(hub))
    hub.token(SENDER)
    before = snapshot(hub)
    assert_refused(hub, before, post(hub, content), 400, "cms.refused", "chain")


# --- replays -----------------------------------------------------------------------------------


def test_a_replayed_upload_makes_no_second_submission(hub: Hub) -> None:
    content = hub.seal(SENDER, BODY)
    first = post(hub, content)
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    before = snapshot(hub)
    again = post(hub, content)
    resealed = post(hub, hub.seal(SENDER, BODY))  # the same content in a new envelope
    for response in (again, resealed):
        assert response.status_code == 202, response.text
        assert response.json()["id"] == first.json()["id"] and response.json()["duplicate"] is True
    after = snapshot(hub)
    assert (after.submissions, after.jobs, after.files) == (before.submissions, before.jobs, before.files)
    events = events_since(hub, before)
    assert [(e.action, e.outcome, e.object_id) for e in events] == [
        ("submission.received", "duplicate", first.json()["id"])
    ] * 2


def test_an_idempotency_key_reused_for_other_content_is_refused(hub: Hub) -> None:
    first = post(hub, hub.seal(SENDER, BODY), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    before = snapshot(hub)
    other = post(hub, hub.seal(SENDER, BODY + b"x"), headers={"Idempotency-Key": "k-1"})
    assert_refused(hub, before, other, 409, "conflict", "key_reused")


# --- names and parameters ------------------------------------------------------------------------


FILENAMES = {
    "parent": "../../etc/passwd",
    "absolute": "/etc/passwd",
    "windows": "..\\..\\windows\\system32\\config\\sam",
    "nul": "report.csv\x00.exe",
    "control": "a\r\nb\tc",
    "unicode dots": "\u2025/\u2025/etc/passwd",
}


@pytest.mark.parametrize("filename", FILENAMES.values(), ids=list(FILENAMES))
def test_the_filename_is_metadata_only(hub: Hub, filename: str) -> None:
    before = snapshot(hub)
    response = post(hub, hub.seal(SENDER, BODY), filename=filename)
    assert response.status_code in (202, 400, 422), response.text
    new = files(hub) - before.files
    if response.status_code == 202:
        sub = response.json()
        assert new == {f"blobs/received/{SENDER}/{sub_envelope(hub, sub['id'])}.p7m"}
        shown = hub.get(SENDER, f"{PATH}/{sub['id']}").json()
        assert shown.get("filename") in (filename, None)
    else:
        assert new == set()
    data_dir = hub.platform.settings.data_dir
    assert not (data_dir.parent / "etc").exists() and not (data_dir / "etc").exists()


def sub_envelope(hub: Hub, submission_id: str) -> str:
    with hub.platform.db.transaction() as session:
        return str(session.get_one(Submission, submission_id).envelope_sha256)


def test_a_very_long_filename_is_refused(hub: Hub) -> None:
    before = snapshot(hub)
    response = post(hub, hub.seal(SENDER, BODY), filename="a/" * 5000)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "request.schema"
    assert files(hub) == before.files and hub.count(Submission) == before.submissions


TRICKS = ["../../etc/passwd", "/etc/passwd", "..", "csv/../../x", "utf-8\x00", "a" * 5000, "%2e%2e%2f"]


@pytest.mark.parametrize("field", ["kind", "format", "encoding"])
@pytest.mark.parametrize(
    "value", TRICKS, ids=["parent", "absolute", "dots", "nested", "nul", "long", "encoded"]
)
def test_path_tricks_in_parameters_are_refused(hub: Hub, field: str, value: str) -> None:
    before = snapshot(hub)
    response = post(hub, hub.seal(SENDER, BODY), **{field: value})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) == {"code", "message_zh", "message_en"}
    after = snapshot(hub)
    assert (after.submissions, after.jobs) == (before.submissions, before.jobs)
    assert {f for f in after.files - before.files if f.startswith("blobs/")} == set()

"""Packages for organisations with and without an encryption certificate: enveloped to the
recipient and the platform (openssl opens one with the organisation's key), or to the platform
alone, which the API envelopes again to the organisation's certificate once it has one, and
refuses clearly until then. A person's upload is sealed as it streams."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from aedx.accounts import certificates
from aedx.storage.tables import Certificate, Delivery, Organisation
from aedx.trust import cms
from aedx.trust.pki import Identity, Usage
from tests.builders import records
from tests.exchange.hub import Hub, csr, key_of

AGENCY = "A383000000"
BRANCH = "sly"
CONTENT = "分署案號,移送機關\n".encode() * 1000


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    made = Hub(database_url, tmp_path / "platform")
    yield made
    made.close()


def _revoke(hub: Hub, code: str) -> None:
    with hub.platform.db.transaction() as s:
        serials = s.scalars(
            select(Certificate.serial)
            .join(Organisation, Organisation.id == Certificate.organisation_id)
            .where(Organisation.code == code, Certificate.usage == Usage.ENCRYPTION.value)
        ).all()
        for serial in serials:
            certificates.revoke(s, serial, "superseded", "test")


def test_a_package_to_two_recipients_opens_with_either_key_and_with_openssl(hub: Hub, tmp_path: Path) -> None:
    org = hub.identities[AGENCY, Usage.ENCRYPTION]
    ours = hub.platform.decrypter
    sealed = b"".join(cms.seal(CONTENT, hub.platform.signer, [org.certificate, ours.certificate]))
    for key in (org, ours):
        assert bytes(cms.unwrap(sealed, key).content) == CONTENT
    (tmp_path / "package.p7m").write_bytes(sealed)
    (tmp_path / "org.pem").write_bytes(org.certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "org.key").write_bytes(
        org.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    done = subprocess.run(
        ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "package.p7m",
         "-recip", "org.pem", "-inkey", "org.key", "-out", "signed.p7s"],
        cwd=tmp_path, capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert bytes(cms.verify((tmp_path / "signed.p7s").read_bytes()).content) == CONTENT


def test_streamed_content_seals_as_held_content_does(hub: Hub) -> None:
    import hashlib

    chunks = [CONTENT[i : i + 1000] for i in range(0, len(CONTENT), 1000)]
    streamed = cms.Streamed(len(CONTENT), iter(chunks))
    digest = hashlib.sha256(CONTENT).digest()
    ours = hub.platform.decrypter
    sealed = b"".join(cms.seal(streamed, hub.platform.signer, ours.certificate, digest=digest))
    assert bytes(cms.unwrap(sealed, ours).content) == CONTENT
    short = cms.Streamed(len(CONTENT) + 1, iter(chunks))
    with pytest.raises(ValueError, match="as long as declared"):
        b"".join(cms.seal(short, hub.platform.signer, ours.certificate, digest=digest))


def test_a_branch_without_a_certificate_gets_its_package_once_it_has_one(hub: Hub) -> None:
    _revoke(hub, BRANCH)
    sent = hub.send(AGENCY, "case_referral", records("case_referral"))
    assert sent["state"] == "delivered"  # no back-off: the package is the platform's to open
    with hub.platform.db.transaction() as s:
        d = s.scalars(select(Delivery)).one()
    stored = hub.platform.blobs.path(d.blob_key).read_bytes()
    assert cms.is_for(stored, hub.platform.decrypter.certificate) and len(cms.recipients(stored)) == 1

    refused = hub.get(BRANCH, f"/api/v1/deliveries/{d.id}/content")
    assert refused.status_code == 409 and "encryption certificate" in refused.text

    with hub.platform.db.transaction() as s:
        issued = certificates.issue(
            s, hub.platform.authority, BRANCH, Usage.ENCRYPTION, "test", csr(BRANCH, Usage.ENCRYPTION)
        )
    cert = x509.load_pem_x509_certificate(issued.certificate.pem.encode())
    hub.identities[BRANCH, Usage.ENCRYPTION] = Identity(
        key_of(BRANCH, Usage.ENCRYPTION), cert, hub.platform.authority.issuing
    )
    answer = hub.get(BRANCH, f"/api/v1/deliveries/{d.id}/content")
    assert answer.status_code == 200 and "etag" not in answer.headers
    assert cms.is_for(answer.content, cert) and not cms.is_for(
        answer.content, hub.platform.decrypter.certificate
    )
    assert b"113TAX000123" in hub.open(BRANCH, answer.content)  # signed by the platform, as stored


def test_a_package_for_a_certified_recipient_is_served_as_stored(hub: Hub) -> None:
    hub.send(AGENCY, "case_referral", records("case_referral"))
    with hub.platform.db.transaction() as s:
        d = s.scalars(select(Delivery)).one()
    answer = hub.get(BRANCH, f"/api/v1/deliveries/{d.id}/content")
    assert answer.status_code == 200 and answer.headers["etag"] == f'"{d.sha256}"'
    assert len(cms.recipients(answer.content)) == 2
    assert b"113TAX000123" in hub.open(BRANCH, answer.content)


def test_whom_a_package_is_for_is_read_from_its_first_bytes(hub: Hub) -> None:
    org = hub.identities[AGENCY, Usage.ENCRYPTION].certificate
    ours = hub.platform.decrypter.certificate
    sealed = b"".join(cms.seal(CONTENT * 40, hub.platform.signer, [org, ours]))
    assert len(sealed) > cms.RECIPIENTS_WITHIN
    found = cms.recipients(sealed[: cms.RECIPIENTS_WITHIN])
    assert sorted(found) == sorted((c.issuer.public_bytes(), c.serial_number) for c in (org, ours))
    assert cms.is_for(sealed, org) and cms.is_for(sealed, ours)
    signed = b"".join(bytes(p) for p in cms.sign(CONTENT, hub.platform.signer))
    for junk in (signed, sealed[:40], b"\x30\x80"):
        with pytest.raises(cms.CmsRefused):
            cms.recipients(junk)

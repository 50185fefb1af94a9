"""Organisations' certificates on the platform: issued by the platform's CA (from a CSR, or with
a key made here and handed over once), renewed, revoked and published in a CRL, or issued by an
outside CA and imported after their chain is checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes as PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import organisations as orgs
from aedx.storage.tables import Certificate, Organisation, utcnow
from aedx.trust import audit
from aedx.trust.cms import CmsRefused, Signed
from aedx.trust.pki import Authority, PkiError, Usage, new_key, pem, verify_chain

CRL_DAYS = 7
REASONS = ("unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation")


@dataclass(frozen=True)
class Issued:
    certificate: Certificate
    key_pem: bytes | None  # the private key, when the platform made it; shown once, never kept


def _record(
    session: Session, org: Organisation, usage: Usage, cert: x509.Certificate, actor: str, *, external: bool
) -> Certificate:
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    if session.scalar(select(Certificate).where(Certificate.fingerprint == fingerprint)) is not None:
        raise PkiError("此憑證已登錄", "this certificate is registered already")
    row = Certificate(
        organisation_id=org.id,
        usage=usage.value,
        serial=f"{cert.serial_number:x}",
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        fingerprint=fingerprint,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        pem=pem(cert).decode(),
        external=external,
    )
    session.add(row)
    session.flush()
    action = "certificate.import" if external else "certificate.issue"
    audit.record(
        session,
        actor=actor,
        action=action,
        organisation_id=org.id,
        object_type="certificate",
        object_id=row.serial,
        detail={"usage": usage.value, "not_after": row.not_after.isoformat()},
    )
    return row


def issue(
    session: Session, authority: Authority, code: str, usage: Usage, actor: str, csr_pem: bytes | None = None
) -> Issued:
    """From the organisation's CSR (its key never leaves it), or with a new key made here."""
    org = orgs.get(session, code)
    key_pem = None
    if csr_pem is not None:
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise PkiError(
                "憑證請求檔（CSR）格式有誤", "the certificate request (CSR) cannot be read"
            ) from None
        if not csr.is_signature_valid:
            raise PkiError("憑證請求檔簽章不符", "the certificate request's signature does not verify")
        public_key = csr.public_key()
    else:
        key = new_key()
        public_key = key.public_key()
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return Issued(_certify(session, authority, org, usage, public_key, actor), key_pem)


def renew(session: Session, authority: Authority, serial: str, actor: str) -> Certificate:
    """A new certificate for the same key, the same organisation and use."""
    old = _get(session, serial)
    if old.external:
        raise PkiError(
            "外部憑證請向原發證機關更新", "an imported certificate is renewed by the CA that issued it"
        )
    org = session.get_one(Organisation, old.organisation_id)
    public_key = x509.load_pem_x509_certificate(old.pem.encode()).public_key()
    return _certify(session, authority, org, Usage(old.usage), public_key, actor)


def _certify(
    session: Session, authority: Authority, org: Organisation, usage: Usage, public_key: PublicKey, actor: str
) -> Certificate:
    label = "簽章" if usage is Usage.SIGNING else "加密"
    cert = authority.issue(public_key, f"{org.name} {label}", org.code, usage)
    return _record(session, org, usage, cert, actor, external=False)


def revoke(session: Session, serial: str, reason: str, actor: str) -> Certificate:
    if reason not in REASONS:
        raise PkiError(
            f"撤銷原因須為 {', '.join(REASONS)}", f"the reason must be one of {', '.join(REASONS)}"
        )
    cert = _get(session, serial)
    if cert.revoked_at is None:
        cert.revoked_at = utcnow()
        cert.revocation_reason = reason
        audit.record(
            session,
            actor=actor,
            action="certificate.revoke",
            organisation_id=cert.organisation_id,
            object_type="certificate",
            object_id=serial,
            detail={"reason": reason},
        )
    return cert


def crl(session: Session, authority: Authority) -> bytes:
    """The issuing CA's CRL, in PEM, listing every certificate it issued and revoked."""
    revoked = session.scalars(
        select(Certificate).where(Certificate.revoked_at.is_not(None), Certificate.external.is_(False))
    ).all()
    entries = [(int(c.serial, 16), c.revoked_at) for c in revoked if c.revoked_at is not None]
    return authority.crl(entries, dt.timedelta(days=CRL_DAYS)).public_bytes(serialization.Encoding.PEM)


def anchors(folder: Path) -> list[x509.Certificate]:
    """Outside roots the operator trusts (``aedx pki trust``), kept in ``folder``."""
    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(folder.glob("*.pem"))]


def trust(folder: Path, root_pem: bytes) -> x509.Certificate:
    """Add an outside root CA (a government CA) as a trust anchor."""
    try:
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError:
        raise PkiError("根憑證格式有誤", "the root certificate cannot be read") from None
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    if not constraints.ca:
        raise PkiError("此憑證不是憑證機構憑證", "this is not a CA certificate")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{root.fingerprint(hashes.SHA256()).hex()}.pem").write_bytes(pem(root))
    return root


def import_external(
    session: Session,
    authority: Authority,
    code: str,
    usage: Usage,
    cert_pem: bytes,
    chain_pem: bytes,
    actor: str,
) -> Certificate:
    """An organisation's certificate from an outside CA, accepted only when it chains to a trust
    anchor, is valid now and allows the use."""
    org = orgs.get(session, code)
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        intermediates = x509.load_pem_x509_certificates(chain_pem) if chain_pem.strip() else []
    except ValueError:
        raise PkiError("憑證格式有誤", "the certificate cannot be read") from None
    verify_chain(cert, anchors(authority.folder / "anchors"), intermediates)
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    allowed = key_usage.digital_signature if usage is Usage.SIGNING else key_usage.key_encipherment
    if not allowed:
        raise PkiError(
            "憑證之金鑰用途不含此用途", f"the certificate's key usage does not allow {usage.value}"
        )
    return _record(session, org, usage, cert, actor, external=True)


def check_signer(
    session: Session, authority: Authority, organisation_id: int, signed: Signed, now: dt.datetime
) -> Certificate:
    """The sender's signing certificate, when the file's signer is one: registered to the
    organisation for signing, not revoked, valid now, and up a chain to the platform's root or an
    outside anchor. Any other signer is refused with the one uniform answer."""
    fingerprint = signed.signer.fingerprint(hashes.SHA256()).hex()
    row = session.scalar(select(Certificate).where(Certificate.fingerprint == fingerprint))
    if row is None:
        raise CmsRefused("the signer's certificate is not registered")
    if row.organisation_id != organisation_id or row.usage != Usage.SIGNING.value:
        raise CmsRefused("the signer's certificate is another organisation's or not for signing")
    if row.revoked_at is not None:
        raise CmsRefused("the signer's certificate is revoked")
    if not row.not_before <= now <= row.not_after:
        raise CmsRefused("the signer's certificate is not valid now")
    roots = [authority.root, *anchors(authority.folder / "anchors")]
    try:
        verify_chain(signed.signer, roots, [*signed.certificates, authority.issuing], now)
    except PkiError:
        raise CmsRefused("the signer's certificate does not chain to a trusted root") from None
    return row


def encryption_certificates(session: Session, organisation_ids: list[int]) -> dict[int, x509.Certificate]:
    """Each organisation's newest encryption certificate that is valid now and not revoked."""
    now = utcnow()
    rows = session.scalars(
        select(Certificate)
        .where(
            Certificate.organisation_id.in_(organisation_ids),
            Certificate.usage == Usage.ENCRYPTION.value,
            Certificate.revoked_at.is_(None),
            Certificate.not_before <= now,
            Certificate.not_after > now,
        )
        .order_by(Certificate.not_after)
    ).all()
    return {r.organisation_id: x509.load_pem_x509_certificate(r.pem.encode()) for r in rows}


def _get(session: Session, serial: str) -> Certificate:
    cert = session.scalar(select(Certificate).where(Certificate.serial == serial.lower()))
    if cert is None:
        raise PkiError(f"查無序號 {serial} 之憑證", f"no certificate with serial {serial}")
    return cert


def listing(session: Session) -> list[tuple[Certificate, str]]:
    stmt = (
        select(Certificate, Organisation.code).join(Organisation).order_by(Organisation.code, Certificate.id)
    )
    return [(c, code) for c, code in session.execute(stmt)]

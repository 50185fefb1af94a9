"""Keys and certificates for the demonstration's organisations: made once, kept in the demo's data
folder (readable by its owner only), certified by the platform's CA through a CSR as a real
organisation's are, and reused on the next run while their certificates hold."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import certificates
from aedx.storage.tables import Certificate, Organisation, utcnow
from aedx.trust.pki import Authority, Identity, Usage

DEMO_KEY_BITS = 2048  # the smallest the CA takes: quick to make for many organisations


def files(folder: Path, code: str, usage: Usage) -> tuple[Path, Path]:
    """Where the organisation's key and certificate of this use are kept."""
    return folder / f"{code}-{usage.value}.key", folder / f"{code}-{usage.value}.pem"


def identity(
    session: Session, authority: Authority, org: Organisation, usage: Usage, folder: Path
) -> Identity:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file, cert_file = files(folder, org.code, usage)
    if key_file.exists():
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_file} is not an RSA key")
        key = loaded
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=DEMO_KEY_BITS)
        key_file.touch(mode=0o600)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    if cert_file.exists():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        if _valid(session, cert):
            return Identity(key, cert, authority.issuing)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{org.code} {usage.value}")]))
        .sign(key, hashes.SHA256())
    )
    issued = certificates.issue(
        session, authority, org.code, usage, "demo", request.public_bytes(serialization.Encoding.PEM)
    )
    cert_file.write_text(issued.certificate.pem)
    return Identity(key, x509.load_pem_x509_certificate(cert_file.read_bytes()), authority.issuing)


def _valid(session: Session, cert: x509.Certificate) -> bool:
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    row = session.scalar(select(Certificate).where(Certificate.fingerprint == fingerprint))
    return row is not None and row.revoked_at is None and row.not_after > utcnow()

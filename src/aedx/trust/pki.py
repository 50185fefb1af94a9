"""The platform's certificate authority and certificate checks.

``aedx pki init`` makes a root CA and an issuing CA under the data folder (``pki/``; the keys are
readable by their owner only). The issuing CA certifies organisations' signing and encryption keys,
revokes them and publishes a CRL. Certificates issued elsewhere (a government CA such as GCA or
MOICA) are checked up their chain to a trust anchor the operator has added.

Keys are RSA 3072 and certificates carry the S/MIME key purpose, so that any CMS implementation
(OpenSSL, Java, .NET) accepts them for signing and key transport.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from aedx.errors import DomainError

KEY_BITS = 3072
ROOT_YEARS, ISSUING_YEARS = 20, 10
COUNTRY = "TW"
PLATFORM = "法務部行政執行署 行政執行資料交換平台"


class Usage(StrEnum):
    SIGNING = "signing"
    ENCRYPTION = "encryption"


class PkiError(DomainError):
    code = "pki.refused"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def name(common: str, organisation: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY)]
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(parts)


def _ca_certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    signer: rsa.RSAPrivateKey,
    years: int,
    path_length: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    authority = issuer.public_key() if issuer else key.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority),  # type: ignore[arg-type]
        critical=False,
    )
    return builder.sign(signer, hashes.SHA256())


def _usage(*, cert_sign: bool = False, signing: bool = False, encryption: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=encryption,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    """One of the platform's own keys, written by it to a file only it may read; the costly
    consistency check of an RSA key from elsewhere is not needed."""
    key = serialization.load_pem_private_key(
        path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PkiError("平台金鑰格式不符", f"{path.name} is not an RSA key")
    return key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Identity:
    """A private key with its certificate and the issuing CA's certificate above it."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    issuer: x509.Certificate

    def sign(self, data: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256, as ``openssl dgst -sha256 -verify`` checks it."""
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


@dataclass
class Authority:
    """The root and issuing CAs kept under ``folder``."""

    folder: Path

    @property
    def root(self) -> x509.Certificate:
        return self._cert("root")

    @property
    def issuing(self) -> x509.Certificate:
        return self._cert("issuing")

    def _cert(self, which: str) -> x509.Certificate:
        path = self.folder / f"{which}.pem"
        if not path.exists():
            raise PkiError(
                "平台憑證機構尚未建立，請先執行 aedx pki init",
                "no certificate authority yet: run aedx pki init",
            )
        return x509.load_pem_x509_certificate(path.read_bytes())

    @cached_property
    def _issuing_key(self) -> rsa.RSAPrivateKey:
        return _read_key(self.folder / "issuing.key")

    @classmethod
    def create(cls, folder: Path) -> Authority:
        """A new root and issuing CA; refuses to replace an existing one."""
        if (folder / "root.pem").exists():
            raise PkiError("平台憑證機構已存在", f"a certificate authority exists already in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        root_key, issuing_key = new_key(), new_key()
        root = _ca_certificate(
            name("行政執行資料交換平台根憑證 aedx Root CA", PLATFORM), root_key, None, root_key, ROOT_YEARS, 1
        )
        issuing = _ca_certificate(
            name("行政執行資料交換平台發證中心 aedx Issuing CA", PLATFORM),
            issuing_key,
            root,
            root_key,
            ISSUING_YEARS,
            0,
        )
        _write_key(folder / "root.key", root_key)
        _write_key(folder / "issuing.key", issuing_key)
        (folder / "root.pem").write_bytes(pem(root))
        (folder / "issuing.pem").write_bytes(pem(issuing))
        return cls(folder)

    @classmethod
    def open(cls, folder: Path, *, create: bool = False) -> Authority:
        """The authority in ``folder``; made there first when ``create`` and there is none."""
        if create and not (folder / "root.pem").exists():
            return cls.create(folder)
        return cls(folder)

    def identity(self, usage: Usage) -> Identity:
        """The platform's own signing or encryption key and certificate, issued by this authority
        the first time they are asked for."""
        key_file, cert_file = (
            self.folder / f"platform-{usage.value}.key",
            self.folder / f"platform-{usage.value}.pem",
        )
        if not cert_file.exists():
            key = new_key()
            cert = self.issue(
                key.public_key(), "行政執行資料交換平台 aedx platform", PLATFORM, usage, days=3650
            )
            _write_key(key_file, key)
            tmp = cert_file.with_suffix(".tmp")
            tmp.write_bytes(pem(cert))
            tmp.replace(cert_file)
        return Identity(
            _read_key(key_file), x509.load_pem_x509_certificate(cert_file.read_bytes()), self.issuing
        )

    def issue(
        self,
        public_key: CertificatePublicKeyTypes,
        common_name: str,
        organisation: str,
        usage: Usage,
        days: int = 730,
    ) -> x509.Certificate:
        """A certificate for an organisation's signing or encryption key."""
        if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < 2048:
            raise PkiError("金鑰須為 2048 位元以上之 RSA 金鑰", "the key must be RSA of at least 2048 bits")
        issuing = self.issuing
        now = dt.datetime.now(dt.UTC)
        not_after = min(now + dt.timedelta(days=days), issuing.not_valid_after_utc)
        return (
            x509.CertificateBuilder()
            .subject_name(name(common_name, organisation))
            .issuer_name(issuing.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _usage(signing=usage is Usage.SIGNING, encryption=usage is Usage.ENCRYPTION), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(self._issuing_key, hashes.SHA256())
        )

    def crl(
        self, revoked: list[tuple[int, dt.datetime]], next_update: dt.timedelta
    ) -> x509.CertificateRevocationList:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.subject)
            .last_update(now)
            .next_update(now + next_update)
        )
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self._issuing_key, hashes.SHA256())


def verify_chain(
    cert: x509.Certificate,
    anchors: list[x509.Certificate],
    intermediates: list[x509.Certificate],
    at: dt.datetime | None = None,
) -> list[x509.Certificate]:
    """The path from ``cert`` up to one of ``anchors``: signatures, validity at ``at`` (now),
    CA constraints and key usages checked on the way. Raises ``PkiError`` when there is none."""
    if not anchors:
        raise PkiError("尚未設定信任之根憑證", "no trust anchor is configured")
    builder = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(at or dt.datetime.now(dt.UTC))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
    )
    try:
        chain = builder.build_client_verifier().verify(cert, intermediates).chain
    except VerificationError as e:
        raise PkiError(f"憑證鏈驗證失敗：{e}", f"the certificate chain does not verify: {e}") from None
    usage = (
        cert.extensions.get_extension_for_class(x509.KeyUsage).value if _has(cert, x509.KeyUsage) else None
    )
    if usage is not None and not (usage.digital_signature or usage.key_encipherment):
        raise PkiError(
            "憑證之金鑰用途不符", "the certificate's key usage allows neither signing nor encryption"
        )
    return list(chain)


def _has(cert: x509.Certificate, ext: type[x509.ExtensionType]) -> bool:
    try:
        cert.extensions.get_extension_for_class(ext)
    except x509.ExtensionNotFound:
        return False
    return True

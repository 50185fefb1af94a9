"""The platform's certificate authority, checked with the openssl command line as an agency would:
issued certificates verify for S/MIME signing and encryption, revoked ones fail against the CRL,
and outside certificates are accepted only up a chain to a trusted root."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aedx.trust.pki import Authority, Usage, new_key, pem

AEDX = [sys.executable, "-m", "aedx"]


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)


def request(cwd: Path, key: str, csr: str, subject: str) -> subprocess.CompletedProcess[str]:
    """A new RSA key and its certificate request, made as an agency makes them."""
    return openssl(
        "req", "-new", "-newkey", "rsa:3072", "-nodes", "-keyout", key, "-out", csr, "-subj", subject, cwd=cwd
    )


def verify(folder: Path, cert: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    return openssl(
        "verify", "-CAfile", folder / "root.pem", "-untrusted", folder / "issuing.pem", *extra, cert
    )


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority.create(tmp_path_factory.mktemp("ca") / "pki")


@pytest.mark.parametrize(
    ("usage", "purpose"), [(Usage.SIGNING, "smimesign"), (Usage.ENCRYPTION, "smimeencrypt")]
)
def test_issued_certificates_verify_with_openssl(
    authority: Authority, tmp_path: Path, usage: Usage, purpose: str
) -> None:
    cert = authority.issue(new_key().public_key(), "財政部臺北國稅局", "A383000000", usage)
    path = tmp_path / "cert.pem"
    path.write_bytes(pem(cert))
    done = verify(authority.folder, path, "-purpose", purpose)
    assert done.returncode == 0, done.stderr
    other = {"smimesign": "smimeencrypt", "smimeencrypt": "smimesign"}[purpose]
    assert verify(authority.folder, path, "-purpose", other).returncode != 0  # one key, one use
    assert (authority.folder / "issuing.key").stat().st_mode & 0o077 == 0


def test_the_authority_is_made_once(authority: Authority) -> None:
    from aedx.trust.pki import PkiError

    with pytest.raises(PkiError):
        Authority.create(authority.folder)


def aedx(*args: str | Path, url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AEDX_DATABASE_URL": url, "AEDX_DATA_DIR": str(data)}
    return subprocess.run(
        [*AEDX, *map(str, args)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _org(url: str, data: Path) -> None:
    agencies = data / "agencies.csv"
    agencies.write_text("code,name,category\nA383000000,財政部臺北國稅局,tax\n", encoding="utf-8")
    assert aedx("orgs", "import", agencies, url=url, data=data).returncode == 0


def test_issue_from_a_csr_renew_revoke_and_publish_the_crl(database_url: str, tmp_path: Path) -> None:
    _org(database_url, tmp_path)
    assert aedx("pki", "init", url=database_url, data=tmp_path).returncode == 0
    assert aedx("pki", "init", url=database_url, data=tmp_path).returncode == 1
    ca = tmp_path / "pki"
    # The agency makes its key and request itself; the key never leaves it.
    made = request(tmp_path, "agency.key", "agency.csr", "/CN=A383000000 signing")
    assert made.returncode == 0, made.stderr
    issued = aedx(
        "pki",
        "issue",
        "A383000000",
        "--usage",
        "signing",
        "--csr",
        tmp_path / "agency.csr",
        "--out",
        tmp_path / "out",
        url=database_url,
        data=tmp_path,
    )
    assert issued.returncode == 0, issued.stderr
    cert_path = tmp_path / "out" / "A383000000-signing.pem"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "agency.key").read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    assert not (tmp_path / "out" / "A383000000-signing.key").exists()
    assert verify(ca, cert_path, "-purpose", "smimesign").returncode == 0
    serial = f"{cert.serial_number:x}"

    renewed = aedx("pki", "renew", serial, "--out", tmp_path / "renewed", url=database_url, data=tmp_path)
    assert renewed.returncode == 0, renewed.stderr
    (new_path,) = (tmp_path / "renewed").glob("*.pem")
    assert x509.load_pem_x509_certificate(new_path.read_bytes()).public_key() == key.public_key()

    assert (
        aedx("pki", "revoke", serial, "--reason", "superseded", url=database_url, data=tmp_path).returncode
        == 0
    )
    assert aedx("pki", "revoke", "abc", url=database_url, data=tmp_path).returncode == 1
    crl = tmp_path / "crl.pem"
    assert aedx("pki", "crl", "--out", crl, url=database_url, data=tmp_path).returncode == 0
    revoked = verify(ca, cert_path, "-crl_check", "-CRLfile", crl)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stderr
    assert verify(ca, new_path, "-crl_check", "-CRLfile", crl).returncode == 0

    # With no CSR the platform makes the key and hands it over once.
    made_here = aedx(
        "pki",
        "issue",
        "A383000000",
        "--usage",
        "encryption",
        "--out",
        tmp_path / "out",
        url=database_url,
        data=tmp_path,
    )
    assert made_here.returncode == 0, made_here.stderr
    key_file = tmp_path / "out" / "A383000000-encryption.key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert (
        verify(ca, tmp_path / "out" / "A383000000-encryption.pem", "-purpose", "smimeencrypt").returncode == 0
    )
    listed = aedx("pki", "list", url=database_url, data=tmp_path).stdout
    assert listed.count("A383000000") == 3 and "revoked superseded" in listed
    events = aedx("audit", "export", "--organisation", "A383000000", url=database_url, data=tmp_path).stdout
    assert [a for a in ("certificate.issue", "certificate.revoke") if a in events] == [
        "certificate.issue",
        "certificate.revoke",
    ]


def _outside_ca(tmp_path: Path) -> tuple[Path, Path]:
    """A government-style root CA and an agency certificate it issued, made with openssl."""
    root = openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        "gca.key",
        "-out",
        "gca.pem",
        "-days",
        "3650",
        "-subj",
        "/C=TW/O=Government/CN=Test Government Root CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=tmp_path,
    )
    assert root.returncode == 0, root.stderr
    (tmp_path / "ee.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    made = request(tmp_path, "ee.key", "ee.csr", "/C=TW/O=A383000000/CN=Agency signing")
    assert made.returncode == 0, made.stderr
    signed = openssl(
        "x509",
        "-req",
        "-in",
        "ee.csr",
        "-CA",
        "gca.pem",
        "-CAkey",
        "gca.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        "ee.ext",
        "-out",
        "ee.pem",
        cwd=tmp_path,
    )
    assert signed.returncode == 0, signed.stderr
    return tmp_path / "gca.pem", tmp_path / "ee.pem"


def test_outside_certificates_are_checked_up_their_chain(database_url: str, tmp_path: Path) -> None:
    _org(database_url, tmp_path)
    assert aedx("pki", "init", url=database_url, data=tmp_path).returncode == 0
    root, agency_cert = _outside_ca(tmp_path)

    def import_(cert: Path, usage: str = "signing") -> subprocess.CompletedProcess[str]:
        return aedx("pki", "import", "A383000000", cert, "--usage", usage, url=database_url, data=tmp_path)

    untrusted = import_(agency_cert)
    assert untrusted.returncode == 1 and "trust anchor" in untrusted.stderr
    assert aedx("pki", "trust", root, url=database_url, data=tmp_path).returncode == 0
    assert aedx("pki", "trust", agency_cert, url=database_url, data=tmp_path).returncode == 1  # not a CA
    assert import_(agency_cert, "encryption").returncode == 1  # its key usage is signing
    accepted = import_(agency_cert)
    assert accepted.returncode == 0, accepted.stderr
    assert import_(agency_cert).returncode == 1  # once

    # Signed by a CA nobody trusts, or expired: refused.
    stranger_dir = tmp_path / "stranger"
    stranger_dir.mkdir()
    _, stranger = _outside_ca(stranger_dir)
    refused = import_(stranger)
    assert refused.returncode == 1 and "does not verify" in refused.stderr
    expired = tmp_path / "expired.pem"
    expired.write_bytes(pem(_expired(tmp_path / "gca.key", tmp_path / "gca.pem")))
    assert import_(expired).returncode == 1


def _expired(key_file: Path, ca_file: Path) -> x509.Certificate:
    ca_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    key = new_key()
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "expired")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(past)
        .not_valid_after(past + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

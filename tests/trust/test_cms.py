"""CMS signing and enveloping, both ways with the openssl command line, and every malformed or
hostile input refused with the one uniform error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aedx.trust import cms
from aedx.trust.pki import Authority, Identity, Usage

CONTENT = "機關代號,案號,金額\nA383000000,113-0001,1200\n".encode() * 500


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority.create(tmp_path_factory.mktemp("ca") / "pki")


@pytest.fixture(scope="module")
def signer(authority: Authority) -> Identity:
    return authority.identity(Usage.SIGNING)


@pytest.fixture(scope="module")
def recipient(authority: Authority) -> Identity:
    return authority.identity(Usage.ENCRYPTION)


def sealed(content: bytes, signer: Identity, recipient: Identity) -> bytes:
    return b"".join(cms.seal(content, signer, recipient.certificate))


def test_seal_then_unwrap(signer: Identity, recipient: Identity) -> None:
    opened = cms.unwrap(sealed(CONTENT, signer, recipient), recipient)
    assert bytes(opened.content) == CONTENT
    assert opened.signer == signer.certificate
    assert opened.signing_time is not None
    assert opened.digest_algorithm == "sha256"


def test_openssl_opens_and_verifies_what_the_platform_seals(
    authority: Authority, signer: Identity, recipient: Identity, tmp_path: Path
) -> None:
    (tmp_path / "package.p7m").write_bytes(sealed(CONTENT, signer, recipient))
    pki = authority.folder
    done = openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", tmp_path / "package.p7m",
        "-recip", pki / "platform-encryption.pem", "-inkey", pki / "platform-encryption.key",
        "-out", tmp_path / "signed.p7s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "signed.p7s",
        "-CAfile", pki / "root.pem", "-out", tmp_path / "content.csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "content.csv").read_bytes() == CONTENT


@pytest.mark.parametrize(
    "encrypt",
    [
        ["-aes256"],
        ["-aes-256-gcm"],
        ["-aes128"],
        ["-aes256", "-keyopt", "rsa_padding_mode:oaep"],
        ["-stream", "-aes256"],
    ],
    ids=["aes256-cbc", "aes256-gcm", "aes128-cbc", "oaep", "ber-stream"],
)
def test_the_platform_opens_what_openssl_makes(
    authority: Authority, recipient: Identity, tmp_path: Path, encrypt: list[str]
) -> None:
    pki = authority.folder
    (tmp_path / "file.csv").write_bytes(CONTENT)
    stream = ["-stream"] if "-stream" in encrypt else []
    done = openssl(
        "cms", "-sign", "-binary", "-nodetach", *stream, "-in", tmp_path / "file.csv",
        "-signer", pki / "platform-signing.pem", "-inkey", pki / "platform-signing.key",
        "-outform", "DER", "-out", tmp_path / "file.p7s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = openssl(
        "cms", "-encrypt", "-binary", "-in", tmp_path / "file.p7s", "-outform", "DER",
        "-out", tmp_path / "file.p7m", "-recip", pki / "platform-encryption.pem", *encrypt,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    opened = cms.unwrap((tmp_path / "file.p7m").read_bytes(), recipient)
    assert bytes(opened.content) == CONTENT
    assert opened.signer.subject == authority.identity(Usage.SIGNING).certificate.subject


def refused(data: bytes, recipient: Identity) -> str:
    with pytest.raises(cms.CmsRefused) as caught:
        cms.unwrap(data, recipient)
    assert (
        caught.value.message_en == "the file's signature or encryption could not be verified; it was refused"
    )
    return caught.value.reason


def test_another_recipient_is_refused(signer: Identity, recipient: Identity, tmp_path: Path) -> None:
    other = Authority.create(tmp_path / "other").identity(Usage.ENCRYPTION)
    assert refused(sealed(CONTENT, signer, other), recipient) == "not enveloped to the platform"


def test_tampered_ciphertext_is_refused(signer: Identity, recipient: Identity) -> None:
    data = bytearray(sealed(CONTENT, signer, recipient))
    data[len(data) // 2] ^= 1
    assert refused(bytes(data), recipient) == "the content does not authenticate"


def test_a_changed_content_under_a_valid_envelope_is_refused(signer: Identity, recipient: Identity) -> None:
    signed = bytearray(b"".join(bytes(p) for p in cms.sign(CONTENT, signer)))
    at = signed.find(b"A383000000")
    signed[at] = ord("B")
    data = b"".join(cms.envelope([bytes(signed)], recipient.certificate))
    assert refused(data, recipient) == "the content does not match its digest"


def test_a_signature_by_another_key_is_refused(signer: Identity, recipient: Identity, tmp_path: Path) -> None:
    forger = Authority.create(tmp_path / "forger").identity(Usage.SIGNING)
    parts = cms.sign(CONTENT, forger)
    # keep the forger's signature but claim the real signer's certificate
    forged = (
        bytes(parts[0])
        + bytes(parts[1])
        + bytes(parts[2]).replace(
            forger.certificate.public_bytes(Encoding.DER), signer.certificate.public_bytes(Encoding.DER)
        )
    )
    data = b"".join(cms.envelope([forged], recipient.certificate))
    assert refused(data, recipient) in (
        "the signer's certificate is not in the file",
        "the signature does not verify",
    )


def test_an_unsigned_file_is_refused(recipient: Identity) -> None:
    data = b"".join(cms.envelope([CONTENT], recipient.certificate))  # enveloped, never signed
    refused(data, recipient)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x80",
        b"\x30\x84\xff\xff\xff\xff",
        b"\x30\x89" + b"\x01" * 9,
        b"not a cms file at all",
    ],
    ids=["empty", "one-byte", "open-indefinite", "huge-length", "length-of-9-bytes", "text"],
)
def test_garbage_is_refused(recipient: Identity, data: bytes) -> None:
    refused(data, recipient)


def test_deep_nesting_is_refused(recipient: Identity) -> None:
    data = b"\x30\x80" * 10_000 + b"\x00\x00" * 10_000
    refused(data, recipient)


def test_truncations_are_refused(signer: Identity, recipient: Identity) -> None:
    data = sealed(CONTENT, signer, recipient)
    for cut in (1, 2, 10, 100, 500, len(data) // 2, len(data) - 17, len(data) - 1):
        refused(data[:cut], recipient)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_corruption_is_refused_and_nothing_else_escapes(
    signer: Identity, recipient: Identity, data: st.DataObject
) -> None:
    original = _small_sealed(signer, recipient)
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    if bytes(mutated) == original:
        return
    try:
        opened = cms.unwrap(bytes(mutated), recipient)
    except cms.CmsRefused:
        return
    # a change outside everything authenticated (e.g. a tag byte read leniently) must not change the content
    assert bytes(opened.content) == b"a,b\n1,2\n"


_CACHE: dict[str, bytes] = {}


def _small_sealed(signer: Identity, recipient: Identity) -> bytes:
    if "v" not in _CACHE:
        _CACHE["v"] = sealed(b"a,b\n1,2\n", signer, recipient)
    return _CACHE["v"]

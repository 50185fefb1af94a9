"""CMS (RFC 5652) as the exchange uses it: files signed by their sender, then enveloped to their
recipient.

- ``seal`` signs content with an ``Identity`` (SignedData, the content attached, signed attributes
  content type, signing time and message digest) and envelopes it to one or more recipients'
  certificates as AuthEnvelopedData with AES-256-GCM (RFC 5083, RFC 5084), the content key wrapped
  for each recipient with RSAES-OAEP. The output is streamed, so a package of hundreds of MB is
  never held twice; content that arrives in chunks (``Streamed``) is never held whole.
- ``open_envelope`` takes EnvelopedData (AES-CBC, as ``openssl cms -encrypt -aes256`` and the Java
  and .NET defaults make it) or AuthEnvelopedData (AES-GCM), the key wrapped with RSA PKCS #1 v1.5
  or OAEP, and returns the inner bytes.
- ``verify`` checks a SignedData's one signer: the digest of the content against the signed
  message digest, and the signature over the signed attributes. Whether the signer's certificate is
  trusted, valid and whose it is, is for the caller to decide (``accounts.certificates``).

The large parts (the content and its ciphertext) are read in place through a small DER/BER walker;
``asn1crypto`` parses the small ones (recipient and signer infos, attributes). Any failure raises
``CmsRefused`` with one uniform message; the reason stays in ``reason`` for the audit log.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar, overload

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from aedx.errors import DomainError
from aedx.trust.pki import Identity

Buffer = bytes | bytearray | memoryview
P = ParamSpec("P")
R = TypeVar("R")

DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"  # RFC 3274; refused, and the sender is told why
CHUNK = 8 << 20
_gcm_params = algos.CcmParams  # GCMParameters (RFC 5084) has the same shape: a nonce, the tag length
DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# OAEP's default is SHA-1, which is still sound there (openssl's -keyopt rsa_padding_mode:oaep)
OAEP_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {**DIGESTS, "sha1": hashes.SHA1}
CBC = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}
GCM = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}


class CmsRefused(DomainError):
    """One answer for every failure, so that a caller learns nothing about why."""

    code = "cms.refused"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "檔案之簽章或加密無法驗證，已拒收",
            "the file's signature or encryption could not be verified; it was refused",
        )
        self.reason = reason


def _unexpected(kind: str, where: str) -> CmsRefused:
    """A structure of another content type than expected. Compressed data (``openssl cms
    -compress``) is refused with that reason, in the audit log and in the answer: it says nothing
    of keys or signers, and tells the sender what to change."""
    if kind != COMPRESSED_DATA:
        return CmsRefused(f"{where} {kind}")
    refused = CmsRefused(f"compressed data is not accepted ({where} {kind})")
    refused.message_zh = "不接受壓縮之 CMS（CompressedData）；請以未壓縮之檔案簽章並加密"
    refused.message_en = (
        "compressed CMS (CompressedData) is not accepted; sign and envelope the file uncompressed"
    )
    return refused


@dataclass(frozen=True)
class Signed:
    content: memoryview
    signer: x509.Certificate
    certificates: list[x509.Certificate]  # every certificate the SignedData carried
    signing_time: dt.datetime | None
    digest_algorithm: str
    digest: bytes  # of the content, as signed


# --- reading: a DER / BER walker that never copies the large parts -----------------------------


@dataclass(frozen=True)
class _Tlv:
    tag: int  # the identifier octet
    start: int  # where the element begins (its tag)
    body: int  # where its contents begin
    end: int  # just past its contents (and past the end-of-contents octets when indefinite)
    indefinite: bool

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    @property
    def body_end(self) -> int:
        return self.end - 2 if self.indefinite else self.end


def _tlv(buf: memoryview, pos: int, limit: int, depth: int = 0) -> _Tlv:
    if depth > 32 or pos + 2 > limit:
        raise CmsRefused("truncated or too deeply nested")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise CmsRefused("high tag numbers are not used in CMS")
    first = buf[pos + 1]
    body = pos + 2
    if first == 0x80:
        if not tag & 0x20:
            raise CmsRefused("indefinite length on a primitive")
        child = body
        while True:
            if child + 2 > limit:
                raise CmsRefused("unterminated indefinite length")
            if buf[child] == 0 and buf[child + 1] == 0:
                return _Tlv(tag, pos, body, child + 2, True)
            child = _tlv(buf, child, limit, depth + 1).end
    if first & 0x80:
        n = first & 0x7F
        if n > 8 or body + n > limit:
            raise CmsRefused("bad length")
        length = int.from_bytes(buf[body : body + n], "big")
        body += n
    else:
        length = first
    if body + length > limit:
        raise CmsRefused("truncated")
    return _Tlv(tag, pos, body, body + length, False)


def _children(buf: memoryview, parent: _Tlv) -> list[_Tlv]:
    found, pos = [], parent.body
    while pos < parent.body_end:
        child = _tlv(buf, pos, parent.body_end)
        found.append(child)
        pos = child.end
    return found


def _expect(tlv: _Tlv, tag: int, what: str) -> _Tlv:
    if tlv.tag != tag:
        raise CmsRefused(f"{what}: tag {tlv.tag:#x}, expected {tag:#x}")
    return tlv


def _octets(buf: memoryview, tlv: _Tlv) -> memoryview:
    """An OCTET STRING's value, primitive (read in place) or constructed in segments (joined)."""
    if not tlv.constructed:
        return buf[tlv.body : tlv.end]
    parts = [_octets(buf, _expect(c, 0x04, "segment")) for c in _children(buf, tlv)]
    return memoryview(b"".join(parts))


def _oid(buf: memoryview, tlv: _Tlv) -> str:
    return str(core.ObjectIdentifier.load(bytes(buf[tlv.start : tlv.end])).dotted)


def _content_info(data: Buffer, expected: set[str]) -> tuple[memoryview, str, list[_Tlv]]:
    """The outer ContentInfo: its type and the fields of the structure it holds."""
    buf = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
    outer = _expect(_tlv(buf, 0, len(buf)), 0x30, "ContentInfo")
    if outer.end != len(buf):
        raise CmsRefused("bytes after the structure")
    fields = _children(buf, outer)
    if len(fields) != 2:
        raise CmsRefused("ContentInfo fields")
    kind = _oid(buf, _expect(fields[0], 0x06, "content type"))
    if kind not in expected:
        raise _unexpected(kind, "content type")
    explicit = _expect(fields[1], 0xA0, "content")
    inner = _children(buf, explicit)
    if len(inner) != 1:
        raise CmsRefused("content")
    return buf, kind, _children(buf, _expect(inner[0], 0x30, "structure"))


def _der(buf: memoryview, tlv: _Tlv) -> bytes:
    return bytes(buf[tlv.start : tlv.end])


# --- opening an envelope ---------------------------------------------------------------------------


def _uniform(f: Callable[P, R]) -> Callable[P, R]:
    """Whatever a malformed input makes a parser raise becomes the one refusal."""

    @functools.wraps(f)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return f(*args, **kwargs)
        except CmsRefused:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError) as e:
            raise CmsRefused(f"malformed: {type(e).__name__}") from None

    return checked


@_uniform
def open_envelope(data: Buffer, recipient: Identity) -> memoryview:
    """The content enveloped to ``recipient``, decrypted."""
    buf, kind, fields = _content_info(data, {ENVELOPED_DATA, AUTH_ENVELOPED_DATA})
    i = 1  # after the version
    if len(fields) > i and fields[i].tag == 0xA0:  # originatorInfo
        i += 1
    if len(fields) < i + 2:
        raise CmsRefused("envelope fields")
    infos = cms.RecipientInfos.load(_der(buf, _expect(fields[i], 0x31, "recipientInfos")))
    key = _content_key(infos, recipient)
    content_info = _children(buf, _expect(fields[i + 1], 0x30, "encryptedContentInfo"))
    if len(content_info) != 3 or content_info[2].tag & 0xDF != 0x80:
        raise CmsRefused("no encrypted content")
    algorithm = cms.EncryptionAlgorithm.load(_der(buf, content_info[1]))
    ciphertext = _octets(buf, content_info[2])
    if kind == ENVELOPED_DATA:
        return _decrypt_cbc(algorithm, key, ciphertext)
    rest = fields[i + 2 :]
    aad = b""
    if rest and rest[0].tag == 0xA1:  # authenticated attributes, authenticated as a SET
        aad = b"\x31" + _der(buf, rest[0])[1:]
        rest = rest[1:]
    if not rest or rest[0].tag != 0x04:
        raise CmsRefused("no MAC")
    return _decrypt_gcm(algorithm, key, ciphertext, bytes(_octets(buf, rest[0])), aad)


def _content_key(infos: cms.RecipientInfos, recipient: Identity) -> bytes:
    cert = recipient.certificate
    ski = _subject_key_id(cert)
    for info in infos:
        if info.name != "ktri":
            continue
        ktri = info.chosen
        rid = ktri["rid"]
        if rid.name == "issuer_and_serial_number":
            ours = (
                rid.chosen["serial_number"].native == cert.serial_number
                and rid.chosen["issuer"].dump() == cert.issuer.public_bytes()
            )
        else:
            ours = ski is not None and rid.chosen.native == ski
        if ours:
            return _unwrap(ktri, recipient.key)
    raise CmsRefused("not enveloped to the platform")


def _unwrap(ktri: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey) -> bytes:
    algorithm = ktri["key_encryption_algorithm"]
    wrapped = ktri["encrypted_key"].native
    try:
        if algorithm["algorithm"].native == "rsaes_oaep":
            params = algorithm["parameters"]
            digest = OAEP_DIGESTS.get(params["hash_algorithm"]["algorithm"].native)
            mgf = OAEP_DIGESTS.get(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            if digest is None or mgf is None:
                raise CmsRefused("OAEP digest")
            return key.decrypt(
                wrapped,
                rsa_padding.OAEP(
                    rsa_padding.MGF1(mgf()),
                    digest(),
                    params["p_source_algorithm"]["parameters"].native or None,
                ),
            )
        if algorithm["algorithm"].native == "rsaes_pkcs1v15":
            return key.decrypt(wrapped, rsa_padding.PKCS1v15())
    except ValueError:
        raise CmsRefused("the content key does not decrypt") from None
    raise CmsRefused("key transport algorithm")


def _decrypt_cbc(algorithm: cms.EncryptionAlgorithm, key: bytes, ciphertext: memoryview) -> memoryview:
    name = algorithm["algorithm"].native
    if CBC.get(name) != len(key) or len(ciphertext) == 0 or len(ciphertext) % 16:
        raise CmsRefused(f"content encryption {name}")
    iv = algorithm["parameters"].native
    if not isinstance(iv, bytes) or len(iv) != 16:
        raise CmsRefused("IV")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    out = bytearray(len(ciphertext) + 15)
    n = decryptor.update_into(ciphertext, out)
    if decryptor.finalize():
        raise CmsRefused("partial block")
    pad = out[n - 1]
    if not 1 <= pad <= 16 or out[n - pad : n] != bytes([pad]) * pad:
        raise CmsRefused("padding")
    return memoryview(out)[: n - pad]


def _decrypt_gcm(
    algorithm: cms.EncryptionAlgorithm, key: bytes, ciphertext: memoryview, tag: bytes, aad: bytes
) -> memoryview:
    name = algorithm["algorithm"].native
    if GCM.get(name) != len(key):
        raise CmsRefused(f"content encryption {name}")
    try:
        params = _gcm_params.load(algorithm["parameters"].dump())
        nonce, icv_length = params["aes_nonce"].native, params["aes_icvlen"].native or 12
    except (ValueError, TypeError, KeyError):
        raise CmsRefused("GCM parameters") from None
    if len(tag) != icv_length or len(tag) < 12:
        raise CmsRefused("MAC length")
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        decryptor.authenticate_additional_data(aad)
    out = bytearray(len(ciphertext) + 15)
    n = decryptor.update_into(ciphertext, out)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise CmsRefused("the content does not authenticate") from None
    return memoryview(out)[:n]


# --- verifying a signature ------------------------------------------------------------------------


@_uniform
def verify(data: Buffer) -> Signed:
    """The signed content and its signer, once the digest and the signature check out."""
    buf, _, fields = _content_info(data, {SIGNED_DATA})
    if len(fields) < 4:
        raise CmsRefused("SignedData fields")
    encap = _children(buf, _expect(fields[2], 0x30, "encapContentInfo"))
    if len(encap) != 2:
        raise CmsRefused("no attached data")
    if _oid(buf, encap[0]) != DATA:
        raise _unexpected(_oid(buf, encap[0]), "encapsulated content type")
    explicit = _children(buf, _expect(encap[1], 0xA0, "eContent"))
    if len(explicit) != 1:
        raise CmsRefused("eContent")
    content = _octets(buf, explicit[0])
    certificates: list[x509.Certificate] = []
    signer_infos = fields[-1]
    for extra in fields[3:-1]:
        if extra.tag == 0xA0:
            try:
                certificates = [
                    x509.load_der_x509_certificate(_der(buf, c))
                    for c in _children(buf, extra)
                    if c.tag == 0x30
                ]
            except ValueError:
                raise CmsRefused("a certificate cannot be read") from None
    infos = cms.SignerInfos.load(_der(buf, _expect(signer_infos, 0x31, "signerInfos")))
    if len(infos) != 1:
        raise CmsRefused("exactly one signer is expected")
    return _check_signer(infos[0], content, certificates)


def _check_signer(info: cms.SignerInfo, content: memoryview, certificates: list[x509.Certificate]) -> Signed:
    signer = _signer_certificate(info["sid"], certificates)
    digest_name = info["digest_algorithm"]["algorithm"].native
    digest_type = DIGESTS.get(digest_name)
    if digest_type is None:
        raise CmsRefused(f"digest {digest_name}")
    attributes = info["signed_attrs"]
    if not attributes:
        raise CmsRefused("no signed attributes")
    found = {a["type"].native: a["values"] for a in attributes}
    if [v.native for v in found.get("content_type", [])] != ["data"]:
        raise CmsRefused("content type attribute")
    claimed = found.get("message_digest")
    if claimed is None or len(claimed) != 1:
        raise CmsRefused("message digest attribute")
    digest = hashlib.new(digest_name, content).digest()
    if claimed[0].native != digest:
        raise CmsRefused("the content does not match its digest")
    signed_bytes = b"\x31" + attributes.dump()[1:]
    _verify_signature(
        signer, info["signature_algorithm"], info["signature"].native, signed_bytes, digest_type
    )
    times = found.get("signing_time")
    signing_time = times[0].native if times else None
    return Signed(content, signer, certificates, signing_time, digest_name, digest)


def _signer_certificate(sid: cms.SignerIdentifier, certificates: list[x509.Certificate]) -> x509.Certificate:
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            if (
                sid.chosen["serial_number"].native == cert.serial_number
                and sid.chosen["issuer"].dump() == cert.issuer.public_bytes()
            ):
                return cert
        elif _subject_key_id(cert) == sid.chosen.native:
            return cert
    raise CmsRefused("the signer's certificate is not in the file")


def _verify_signature(
    cert: x509.Certificate,
    algorithm: cms.SignedDigestAlgorithm,
    signature: bytes,
    data: bytes,
    digest_type: Callable[[], hashes.HashAlgorithm],
) -> None:
    key = cert.public_key()
    name = algorithm["algorithm"].native
    try:
        if isinstance(key, rsa.RSAPublicKey) and name == "rsassa_pss":
            params = algorithm["parameters"]
            pss_hash = DIGESTS.get(params["hash_algorithm"]["algorithm"].native)
            if pss_hash is None:
                raise CmsRefused("PSS digest")
            key.verify(
                signature,
                data,
                rsa_padding.PSS(rsa_padding.MGF1(pss_hash()), params["salt_length"].native),
                pss_hash(),
            )
        elif isinstance(key, rsa.RSAPublicKey) and name in ("rsassa_pkcs1v15", f"{digest_type().name}_rsa"):
            key.verify(signature, data, rsa_padding.PKCS1v15(), digest_type())
        elif isinstance(key, ec.EllipticCurvePublicKey) and name in ("ecdsa", f"{digest_type().name}_ecdsa"):
            key.verify(signature, data, ec.ECDSA(digest_type()))
        else:
            raise CmsRefused(f"signature algorithm {name}")
    except InvalidSignature:
        raise CmsRefused("the signature does not verify") from None


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


# --- writing: signing and enveloping, streamed --------------------------------------------------


def _header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big")


def _wrap(tag: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return _header(tag, len(body)) + body


def _oid_der(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Streamed:
    """Content of a known length that arrives a chunk at a time (it is never held whole)."""

    length: int
    chunks: Iterable[bytes]

    def __len__(self) -> int:
        return self.length


Part = Buffer | Streamed


@overload
def sign(
    content: Buffer, signer: Identity, *, at: dt.datetime | None = None, digest: bytes | None = None
) -> list[Buffer]: ...
@overload
def sign(
    content: Streamed, signer: Identity, *, at: dt.datetime | None = None, digest: bytes | None = None
) -> list[Part]: ...
def sign(
    content: Part, signer: Identity, *, at: dt.datetime | None = None, digest: bytes | None = None
) -> list[Buffer] | list[Part]:
    """SignedData with ``content`` attached, as a list of parts to be written one after the other
    (the content itself is not copied). The signer's and its issuer's certificates go along.
    Streamed content needs its SHA-256 ``digest``, computed as it arrived."""
    if digest is None:
        if isinstance(content, Streamed):
            raise ValueError("streamed content is signed with its digest")
        digest = hashlib.sha256(content).digest()
    attributes = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute(
                {
                    "type": "signing_time",
                    "values": [
                        cms.Time({"utc_time": (at or dt.datetime.now(dt.UTC)).replace(microsecond=0)})
                    ],
                }
            ),
            cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
        ]
    )
    signature = signer.key.sign(attributes.dump(), rsa_padding.PKCS1v15(), hashes.SHA256())
    cert = _asn1_cert(signer.certificate)
    info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": cert.issuer, "serial_number": cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signature": signature,
        }
    )
    certificates = b"".join(
        c.public_bytes(serialization.Encoding.DER) for c in (signer.certificate, signer.issuer)
    )
    length = len(content)
    content_header = _header(0x04, length)
    explicit = _header(0xA0, len(content_header) + length)
    encap_body_len = len(_oid_der(DATA)) + len(explicit) + len(content_header) + length
    head = (
        _wrap(0x02, b"\x01")  # version 1
        + _wrap(0x31, bytes(algos.DigestAlgorithm({"algorithm": "sha256"}).dump()))
        + _header(0x30, encap_body_len)
        + _oid_der(DATA)
        + explicit
        + content_header
    )
    tail = _wrap(0xA0, certificates) + _wrap(0x31, bytes(info.dump()))
    signed_len = len(head) + length + len(tail)
    signed_header = _header(0x30, signed_len)
    explicit_outer = _header(0xA0, len(signed_header) + signed_len)
    oid = _oid_der(SIGNED_DATA)
    total = len(oid) + len(explicit_outer) + len(signed_header) + signed_len
    return [_header(0x30, total) + oid + explicit_outer + signed_header + head, content, tail]


def _recipient_info(recipient: x509.Certificate, key: bytes) -> bytes:
    """A KeyTransRecipientInfo: the content key wrapped with RSAES-OAEP (SHA-256)."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CmsRefused("the recipient's key is not RSA")
    oaep = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        }
    )
    wrapped = public_key.encrypt(
        key, rsa_padding.OAEP(rsa_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    )
    cert = _asn1_cert(recipient)
    ktri = cms.RecipientInfo(
        {
            "ktri": {
                "version": "v0",
                "rid": {
                    "issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}
                },
                "key_encryption_algorithm": {"algorithm": "rsaes_oaep", "parameters": oaep},
                "encrypted_key": wrapped,
            }
        }
    )
    return bytes(ktri.dump())


def _chunks(part: Part) -> Iterator[memoryview | bytes]:
    if isinstance(part, Streamed):
        yield from part.chunks
        return
    view = memoryview(part).cast("B") if not isinstance(part, memoryview) else part
    for start in range(0, len(view), CHUNK):
        yield view[start : start + CHUNK]


def envelope(
    parts: Sequence[Part], recipients: x509.Certificate | Sequence[x509.Certificate]
) -> Iterator[bytes]:
    """AuthEnvelopedData of the concatenated ``parts`` for each of ``recipients``: AES-256-GCM
    with a new key, wrapped for each recipient with RSAES-OAEP (SHA-256), any of whom can open it.
    Yields the encoding a chunk at a time."""
    chosen = [recipients] if isinstance(recipients, x509.Certificate) else list(recipients)
    if not chosen:
        raise ValueError("an envelope needs a recipient")
    key, nonce = os.urandom(32), os.urandom(12)
    infos = _wrap(0x31, *sorted(_recipient_info(r, key) for r in chosen))  # DER orders a SET OF
    algorithm = cms.EncryptionAlgorithm(
        {"algorithm": "aes256_gcm", "parameters": _gcm_params({"aes_nonce": nonce, "aes_icvlen": 16})}
    )
    length = sum(len(p) for p in parts)
    content_header = _header(0x80, length)  # [0] IMPLICIT OCTET STRING
    info_body = _oid_der(DATA) + bytes(algorithm.dump()) + content_header
    info_len = len(info_body) + length
    mac_len = 18  # OCTET STRING of a 16-byte tag
    body_len = 3 + len(infos) + len(_header(0x30, info_len)) + info_len + mac_len
    body_header = _header(0x30, body_len)
    explicit = _header(0xA0, len(body_header) + body_len)
    oid = _oid_der(AUTH_ENVELOPED_DATA)
    total = len(oid) + len(explicit) + len(body_header) + body_len
    yield (
        _header(0x30, total)
        + oid
        + explicit
        + body_header
        + _wrap(0x02, b"\x00")
        + infos
        + _header(0x30, info_len)
        + info_body
    )
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    written = 0
    for part in parts:
        for chunk in _chunks(part):
            written += len(chunk)
            yield encryptor.update(chunk)
    if written != length:
        raise ValueError("the content was not as long as declared")
    encryptor.finalize()
    yield _wrap(0x04, encryptor.tag)


def seal(
    content: Part,
    signer: Identity,
    recipients: x509.Certificate | Sequence[x509.Certificate],
    *,
    digest: bytes | None = None,
) -> Iterator[bytes]:
    """Signed by ``signer``, then enveloped to ``recipients``: what a package on the wire is."""
    return envelope(sign(content, signer, digest=digest), recipients)


RECIPIENTS_WITHIN = 64 << 10  # an envelope's recipient infos are within its first bytes


def _opening(buf: memoryview, pos: int, tag: int, what: str) -> int:
    """Where the contents of the constructed element at ``pos`` begin; its end is not checked,
    so that the start of a large structure can be read alone."""
    if pos + 2 > len(buf) or buf[pos] != tag:
        raise CmsRefused(f"{what}: not found")
    first = buf[pos + 1]
    return pos + 2 + (first & 0x7F if first & 0x80 and first != 0x80 else 0)


@_uniform
def recipients(start: Buffer) -> list[tuple[bytes, int]]:
    """Whom an envelope is for, read from its first bytes (``RECIPIENTS_WITHIN`` of them suffice):
    each key transport recipient's issuer (DER) and serial number."""
    buf = memoryview(start).cast("B") if not isinstance(start, memoryview) else start
    pos = _opening(buf, 0, 0x30, "ContentInfo")
    kind = _tlv(buf, pos, len(buf))
    if _oid(buf, _expect(kind, 0x06, "content type")) not in {ENVELOPED_DATA, AUTH_ENVELOPED_DATA}:
        raise CmsRefused("not an envelope")
    pos = _opening(buf, _opening(buf, kind.end, 0xA0, "content"), 0x30, "envelope")
    field = _tlv(buf, _expect(_tlv(buf, pos, len(buf)), 0x02, "version").end, len(buf))
    if field.tag == 0xA0:  # originatorInfo
        field = _tlv(buf, field.end, len(buf))
    infos = cms.RecipientInfos.load(_der(buf, _expect(field, 0x31, "recipientInfos")))
    found = []
    for info in infos:
        rid = info.chosen["rid"] if info.name == "ktri" else None
        if rid is not None and rid.name == "issuer_and_serial_number":
            found.append((bytes(rid.chosen["issuer"].dump()), int(rid.chosen["serial_number"].native)))
    return found


def is_for(data: Buffer, cert: x509.Certificate) -> bool:
    """Whether the envelope was made for ``cert``."""
    return (cert.issuer.public_bytes(), cert.serial_number) in recipients(data)


def reenvelope(data: Buffer, holder: Identity, to: x509.Certificate) -> Iterator[bytes]:
    """An envelope ``holder`` can open, enveloped again to ``to``; what was inside (the signed
    content) is carried unchanged."""
    return envelope([open_envelope(data, holder)], to)


def unwrap(data: Buffer, recipient: Identity) -> Signed:
    """The reverse of ``seal``: decrypt, then verify the signature."""
    return verify(open_envelope(data, recipient))

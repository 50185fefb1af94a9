"""Intake: a file arrives as CMS, signed by its sender and enveloped to the platform. It is
decrypted and its signature and signer checked before anything is kept; a refusal keeps nothing but
its audit event. The bytes are then stored as received, and a submission is queued for the workers.
The same sender sending the same content (however enveloped), or the same idempotency key, gets the
same submission back; nothing is processed twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError

from aedx.accounts import certificates
from aedx.accounts.roles import Permission
from aedx.errors import Conflict, Denied, Invalid, TooLarge
from aedx.exchange import process, reports, routing
from aedx.exchange.platform import Platform
from aedx.exchange.states import State
from aedx.findings import UnusableInput
from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.kinds import KINDS
from aedx.storage.tables import Job, Submission, new_id, utcnow
from aedx.trust import audit, cms
from aedx.trust.caller import Caller, Direction
from aedx.trust.cms import CmsRefused
from aedx.validation.report import Report

MAX_KEY = 100
MAX_SIGNATURE_AGE = dt.timedelta(days=7)  # an older signed file is refused as a replay
CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Upload:
    kind: str
    format: str
    encoding: str
    idempotency_key: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class Received:
    submission: Submission
    created: bool  # False when the same file or key was sent before


def submit(platform: Platform, caller: Caller, upload: Upload, body: Iterable[bytes]) -> Received:
    kind, fmt, encoding = check(platform, caller, upload)
    incoming = f"incoming/{secrets.token_hex(16)}"
    try:
        sha, size = platform.blobs.put(incoming, _limited(body, platform.settings.max_upload_bytes))
    except TooLarge:
        _refused(platform, caller, kind, reason="too_large")
        raise
    try:
        opened = None if platform.settings.plain_exchange else _open(platform, caller, incoming)
    except CmsRefused as e:
        platform.blobs.delete(incoming)
        _refused(platform, caller, kind, reason=e.reason)
        raise
    stored = _Stored(
        incoming,
        f"received/{caller.code}/{sha}" + (".p7m" if opened else ""),
        opened.sha256 if opened else sha,
        size,
        sha if opened else None,
        opened.signer_serial if opened else None,
    )
    return _keep(platform, caller, upload, (kind, fmt, encoding), stored)


def submit_by_person(platform: Platform, caller: Caller, upload: Upload, body: Iterable[bytes]) -> Received:
    """A file a person uploads from a signed-in portal session (over TLS, not signed by its
    sender): the same checks and idempotency as ``submit``, and the same protection at rest. The
    bytes pass once, as they arrive, into a scratch blob encrypted with a key that lives only in
    memory, while their SHA-256 is computed; a second pass signs them with the platform's key and
    envelopes them to the platform, as a signed upload is kept. No clear copy is ever written."""
    kind, fmt, encoding = check(platform, caller, upload)
    if platform.settings.plain_exchange:
        return submit(platform, caller, upload, body)
    scratch = _Scratch(platform)
    try:
        try:
            digest, size = scratch.write(_limited(body, platform.settings.max_upload_bytes))
        except TooLarge:
            _refused(platform, caller, kind, reason="too_large")
            raise
        existing = _existing(platform, caller, kind, digest.hex(), upload.idempotency_key)
        if existing is not None:
            return existing
        sealing = f"incoming/{secrets.token_hex(16)}"
        streamed = cms.Streamed(size, scratch.read())
        ours = platform.decrypter.certificate
        envelope_sha, envelope_size = platform.blobs.put(
            sealing, cms.seal(streamed, platform.signer, ours, digest=digest)
        )
    finally:
        scratch.delete()
    stored = _Stored(
        sealing,
        f"received/{caller.code}/{envelope_sha}.p7m",
        digest.hex(),
        envelope_size,  # as for a signed upload: the size of what is kept, the envelope
        envelope_sha,
        format(platform.signer.certificate.serial_number, "x"),
    )
    return _keep(platform, caller, upload, (kind, fmt, encoding), stored)


class _Scratch:
    """A blob encrypted (AES-256-CTR) with a key held only by this object: what it holds is
    unreadable once the process lets go of it."""

    def __init__(self, platform: Platform) -> None:
        self.blobs = platform.blobs
        self.key = f"incoming/{secrets.token_hex(16)}.scratch"
        self._secret, self._nonce = os.urandom(32), os.urandom(16)

    def _cipher(self) -> Cipher[modes.CTR]:
        return Cipher(algorithms.AES(self._secret), modes.CTR(self._nonce))

    def write(self, chunks: Iterable[bytes]) -> tuple[bytes, int]:
        """Keeps the chunks encrypted; returns the SHA-256 of the clear bytes and their size."""
        digest, encryptor = hashlib.sha256(), self._cipher().encryptor()

        def encrypted() -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield encryptor.update(chunk)

        _, size = self.blobs.put(self.key, encrypted())
        return digest.digest(), size

    def read(self) -> Iterator[bytes]:
        decryptor = self._cipher().decryptor()
        for block in self.blobs.read_chunks(self.key):
            yield decryptor.update(block)

    def delete(self) -> None:
        self.blobs.delete(self.key)


def dry_run(
    platform: Platform, caller: Caller, upload: Upload, body: Iterable[bytes], *, masked: bool = True
) -> Report:
    """Every check the worker runs on a file (``process.examine``: reading, validation, routing
    against the case index and the register), keeping nothing: the bytes are read into memory (no
    copy is written), checked, and let go; nothing is indexed. Personal values in the report come
    back masked unless ``masked`` is False (the caller's unmasking is then audited)."""
    kind_name, fmt, encoding = check(platform, caller, upload, action="submission.check")
    content = b"".join(_limited(body, platform.settings.max_upload_bytes))
    name = upload.filename or "upload"
    detail = {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    with platform.db.transaction() as session:
        audit.by_caller(session, caller, "submission.check", kind=kind_name, detail=detail)
        if not masked:
            reports.allow_unmask(session, caller, None, detail)
    sender = routing.Sender(caller.code, caller.role)
    file = process.File(name, fmt, encoding, platform.settings.current_day())
    return process.examine(
        platform, KINDS[kind_name], sender, memoryview(content), file, recheck=True, masked=masked
    ).report


@dataclass(frozen=True)
class _Stored:
    incoming: str  # where the bytes were written
    key: str  # where they are kept
    content_sha: str
    size: int
    envelope_sha: str | None
    signer_serial: str | None


def _keep(
    platform: Platform, caller: Caller, upload: Upload, checked: tuple[str, str, str], received: _Stored
) -> Received:
    """The submission of what was written, or the one that came before it with the same
    content or key (what was written is then dropped)."""
    kind, fmt, encoding = checked
    incoming, key, content_sha = received.incoming, received.key, received.content_sha
    sha, opened = received.envelope_sha, received.envelope_sha is not None
    stored = incoming
    for _ in range(3):  # a concurrent identical upload may win the insert; then we find it
        try:
            existing = _existing(platform, caller, kind, content_sha, upload.idempotency_key)
        except Conflict:  # the key was used for another file: keep nothing of this one
            if stored == incoming:
                platform.blobs.delete(stored)
            raise
        if existing is not None:
            if stored != existing.submission.blob_key:
                platform.blobs.delete(stored)
            return existing
        if stored != key:
            platform.blobs.rename(incoming, key)
            stored = key
        try:
            with platform.db.transaction() as session:
                sub = Submission(
                    id=new_id(),
                    sender_id=caller.organisation_id,
                    kind=kind,
                    format=fmt,
                    encoding=encoding,
                    filename=upload.filename,
                    idempotency_key=upload.idempotency_key,
                    sha256=content_sha,
                    size=received.size,
                    blob_key=key,
                    envelope_sha256=sha,
                    signer_serial=received.signer_serial,
                    state=State.RECEIVED.value,
                )
                session.add(sub)
                session.flush()
                session.add(Job(submission_id=sub.id))
                detail = {"sha256": content_sha, "size": received.size, "format": fmt, "encoding": encoding}
                if opened:
                    detail |= {"envelope_sha256": sha, "signer": received.signer_serial}
                audit.by_caller(
                    session,
                    caller,
                    "submission.received",
                    object_type="submission",
                    object_id=sub.id,
                    submission_id=sub.id,
                    kind=kind,
                    detail=detail,
                )
            return Received(sub, True)
        except IntegrityError:
            continue
    raise Conflict("同時上傳之檔案衝突，請重試", "a concurrent upload conflicted; try again")


@dataclass(frozen=True)
class _Opened:
    sha256: str  # of the signed content
    signer_serial: str


def _open(platform: Platform, caller: Caller, key: str) -> _Opened:
    """Decrypt the upload and check its signature and signer; raises ``CmsRefused``."""
    signed = cms.unwrap(platform.blobs.path(key).read_bytes(), platform.decrypter)
    now = utcnow()
    if signed.signing_time is None:
        raise CmsRefused("no signing time")
    if not now - MAX_SIGNATURE_AGE <= signed.signing_time <= now + CLOCK_SKEW:
        raise CmsRefused("signed too long ago or in the future")
    with platform.db.transaction() as session:
        cert = certificates.check_signer(session, platform.authority, caller.organisation_id, signed, now)
    sha256 = signed.digest if signed.digest_algorithm == "sha256" else hashlib.sha256(signed.content).digest()
    return _Opened(sha256.hex(), cert.serial)


def check(
    platform: Platform, caller: Caller, upload: Upload, *, action: str = "submission.create"
) -> tuple[str, str, str]:
    """What every way in checks before it takes a byte (a whole upload, a person's, a dry-run, an
    upload session): the kind, the permission and grant (a refusal audited), the key, the format
    and the encoding; returns the kind, format and encoding in their canonical names."""
    kind = KINDS.get(upload.kind)
    if kind is None or kind.routing is None:
        raise Invalid(f"不支援的交換類別 {upload.kind}", f"unknown exchange kind {upload.kind}")
    if not caller.may(Permission.SUBMISSIONS_SEND) or not caller.granted(kind.name, Direction.SEND):
        _refused(platform, caller, kind.name, action=action, reason="not_granted")
        raise Denied(
            f"{caller.code} 未獲授權傳送「{kind.label_zh}」（{kind.name}:send）",
            f"{caller.code} is not granted to send {kind.label_en} ({kind.name}:send)",
        )
    if upload.idempotency_key is not None and not (0 < len(upload.idempotency_key) <= MAX_KEY):
        raise Invalid("冪等鍵長度須為 1 至 100 字元", "the idempotency key must have 1 to 100 characters")
    try:
        return kind.name, Format.parse(upload.format).value, canonical_encoding(upload.encoding)
    except UnusableInput as e:
        raise Invalid(e.message_zh, e.message_en, code=e.code) from None


def record_declared_too_large(platform: Platform, caller: Caller, kind: str, declared: int) -> None:
    """An upload whose declared length is over the limit is refused before its body is read (by
    the API); the refusal is recorded like any other."""
    _refused(platform, caller, kind if kind in KINDS else None, reason="too_large", declared=str(declared))


def _refused(
    platform: Platform, caller: Caller, kind: str | None, *, action: str = "submission.create", **detail: str
) -> None:
    """The refusal is recorded even though the upload fails."""
    with platform.db.transaction() as session:
        audit.by_caller(session, caller, action, outcome="denied", kind=kind, detail=detail)


def _limited(body: Iterable[bytes], limit: int) -> Iterable[bytes]:
    size = 0
    for chunk in body:
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"檔案超過上限 {limit >> 20} MB", f"the file exceeds the limit of {limit >> 20} MB"
            )
        yield chunk


def _existing(platform: Platform, caller: Caller, kind: str, sha: str, key: str | None) -> Received | None:
    with platform.db.transaction() as session:
        same: list[ColumnElement[bool]] = [(Submission.kind == kind) & (Submission.sha256 == sha)]
        if key is not None:
            same.append(Submission.idempotency_key == key)
        found = session.scalars(
            select(Submission).where(Submission.sender_id == caller.organisation_id, or_(*same))
        ).all()
        if not found:
            return None
        by_key = [s for s in found if key is not None and s.idempotency_key == key]
        sub = by_key[0] if by_key else found[0]
        if sub.sha256 == sha and sub.kind == kind:
            audit.by_caller(
                session,
                caller,
                "submission.received",
                outcome="duplicate",
                object_type="submission",
                object_id=sub.id,
                submission_id=sub.id,
                kind=kind,
            )
            return Received(sub, False)
        conflicting = sub.id
    with platform.db.transaction() as session:  # recorded in its own transaction: the upload fails
        audit.by_caller(
            session,
            caller,
            "submission.create",
            outcome="denied",
            object_type="submission",
            object_id=conflicting,
            kind=kind,
            detail={"reason": "key_reused"},
        )
    raise Conflict("此冪等鍵已用於另一檔案", "this idempotency key was used for a different file")

"""Intake: a file arrives, its bytes are stored as received with their SHA-256, and a submission
is queued for the workers. The same sender sending the same bytes, or the same idempotency key,
gets the same submission back; nothing is processed twice."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError

from aedx.errors import Conflict, Denied, Invalid, TooLarge
from aedx.exchange.platform import Platform
from aedx.exchange.states import State
from aedx.findings import UnusableInput
from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.kinds import KINDS
from aedx.storage.tables import Job, Submission, new_id
from aedx.trust import audit
from aedx.trust.caller import Caller, Direction

MAX_KEY = 100


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
    kind, fmt, encoding = _check(platform, caller, upload)
    incoming = f"incoming/{secrets.token_hex(16)}"
    try:
        sha, size = platform.blobs.put(incoming, _limited(body, platform.settings.max_upload_bytes))
    except TooLarge:
        _refused(platform, caller, kind, reason="too_large")
        raise
    key = f"received/{caller.code}/{sha}"
    platform.blobs.rename(incoming, key)
    for _ in range(3):  # a concurrent identical upload may win the insert; then we find it
        existing = _existing(platform, caller, kind, sha, upload.idempotency_key)
        if existing is not None:
            return existing
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
                    sha256=sha,
                    size=size,
                    blob_key=key,
                    state=State.RECEIVED.value,
                )
                session.add(sub)
                session.flush()
                session.add(Job(submission_id=sub.id))
                audit.by_caller(
                    session,
                    caller,
                    "submission.received",
                    object_type="submission",
                    object_id=sub.id,
                    submission_id=sub.id,
                    kind=kind,
                    detail={"sha256": sha, "size": size, "format": fmt, "encoding": encoding},
                )
            return Received(sub, True)
        except IntegrityError:
            continue
    raise Conflict("同時上傳之檔案衝突，請重試", "a concurrent upload conflicted; try again")


def _check(platform: Platform, caller: Caller, upload: Upload) -> tuple[str, str, str]:
    kind = KINDS.get(upload.kind)
    if kind is None or kind.routing is None:
        raise Invalid(f"不支援的交換類別 {upload.kind}", f"unknown exchange kind {upload.kind}")
    if not caller.granted(kind.name, Direction.SEND):
        _refused(platform, caller, kind.name, reason="not_granted")
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


def _refused(platform: Platform, caller: Caller, kind: str, **detail: str) -> None:
    """The refusal is recorded even though the upload fails."""
    with platform.db.transaction() as session:
        audit.by_caller(session, caller, "submission.create", outcome="denied", kind=kind, detail=detail)


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
        if sub.sha256 != sha or sub.kind != kind:
            audit.by_caller(
                session,
                caller,
                "submission.create",
                outcome="denied",
                object_type="submission",
                object_id=sub.id,
                kind=kind,
                detail={"reason": "key_reused"},
            )
            raise Conflict("此冪等鍵已用於另一檔案", "this idempotency key was used for a different file")
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

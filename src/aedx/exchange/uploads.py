"""Upload sessions: a large file sent in chunks, resumed after an interruption from the offset the
platform holds. Creating one checks what an upload checks (the sender's permission and grant, the
declared size against the limit; a refusal is audited alike); each chunk is appended at the offset
the platform holds and kept on disk before the offset moves; completing hands the assembled bytes to
intake exactly as a whole upload would be (the same checks, the same idempotency). Sessions expire;
an expired session and its bytes are removed.

One client holds at most ``MAX_OPEN_PER_CLIENT`` open sessions and an organisation ``MAX_OPEN``, so
that no client can lock its organisation out; any of the organisation's clients may abort an open
session (its bytes are removed at once). A session whose completion is refused is closed
(``failed``), never left open. An ``Idempotency-Key`` names one session: asked again with other
parameters it is refused (409 ``upload.key_reused``)."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterable
from typing import BinaryIO

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from aedx.errors import Conflict, Denied, DomainError, Invalid, NotFound, TooLarge
from aedx.exchange import intake
from aedx.exchange.platform import Platform
from aedx.storage.tables import Submission, UploadSession, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller, Direction

LIFETIME = dt.timedelta(hours=24)
MAX_OPEN = 50  # open sessions of one organisation at a time
MAX_OPEN_PER_CLIENT = 10  # of one client (or person): others of the organisation can still upload
LOCK_WAIT = 30.0  # seconds a chunk waits for an earlier request on the same session to end
SHA256 = re.compile(r"^[0-9a-f]{64}$")
OPEN, COMPLETED, FAILED = "open", "completed", "failed"


def _blob(session_id: str) -> str:
    return f"uploads/{session_id}"


def create(
    platform: Platform, caller: Caller, upload: intake.Upload, size: int, sha256: str
) -> UploadSession:
    """A new session, or the open one of the same idempotency key (a client that lost the answer)."""
    kind, fmt, encoding = intake.check(platform, caller, upload)  # the checks of a whole upload
    limit = platform.settings.max_upload_bytes
    if size > limit:
        intake.record_declared_too_large(platform, caller, kind, size)
        raise TooLarge(f"檔案超過上限 {limit >> 20} MB", f"the file exceeds the limit of {limit >> 20} MB")
    if size <= 0 or not SHA256.match(sha256):
        raise Invalid("須申報檔案大小與 SHA-256", "declare the file's size and its SHA-256 (hex)")
    expire(platform)
    now = utcnow()
    with platform.db.transaction() as session:
        if upload.idempotency_key is not None:
            found = session.scalar(
                select(UploadSession).where(
                    UploadSession.organisation_id == caller.organisation_id,
                    UploadSession.idempotency_key == upload.idempotency_key,
                    UploadSession.expires_at > now,
                )
            )
            if found is not None:
                _same_parameters(found, kind, fmt, encoding, size, sha256)
                session.expunge(found)
                return found
        _within_limits(session, caller)
        made = UploadSession(
            organisation_id=caller.organisation_id,
            actor=caller.actor,
            kind=kind,
            format=fmt,
            encoding=encoding,
            filename=upload.filename,
            idempotency_key=upload.idempotency_key,
            size=size,
            sha256=sha256,
            received=0,
            state=OPEN,
            created_at=now,
            expires_at=now + LIFETIME,
        )
        session.add(made)
        session.flush()
        platform.blobs.put(_blob(made.id), [])
        audit.by_caller(
            session, caller, "upload.create", object_type="upload", object_id=made.id, kind=kind,
            detail={"size": str(size)},
        )  # fmt: skip
        session.expunge(made)
        return made


def _same_parameters(
    found: UploadSession, kind: str, fmt: str, encoding: str, size: int, sha256: str
) -> None:
    """A client that lost the answer asks again with the same key and gets the same session; the
    same key with another file or other parameters is a mistake, not a new session. (The file
    name is a label: the same bytes under another name are the same upload.)"""
    asked = (kind, fmt, encoding, size, sha256)
    if asked != (found.kind, found.format, found.encoding, found.size, found.sha256):
        raise Conflict(
            "此冪等鍵已用於參數不同之分段上傳",
            "this Idempotency-Key was used for an upload with other parameters",
            code="upload.key_reused",
        )


def _within_limits(session: Session, caller: Caller) -> None:
    def open_of(*where: ColumnElement[bool]) -> int:
        stmt = select(func.count()).select_from(UploadSession).where(UploadSession.state == OPEN, *where)
        return int(session.scalar(stmt) or 0)

    if open_of(UploadSession.actor == caller.actor) >= MAX_OPEN_PER_CLIENT:
        raise Conflict(
            f"進行中之分段上傳已達 {MAX_OPEN_PER_CLIENT} 個，請先完成或中止（DELETE）",
            f"{MAX_OPEN_PER_CLIENT} uploads of this client are open; complete or abort (DELETE) some first",
            code="upload.too_many",
        )
    if open_of(UploadSession.organisation_id == caller.organisation_id) >= MAX_OPEN:
        raise Conflict(
            f"貴機關進行中之分段上傳已達 {MAX_OPEN} 個，請先完成或中止（DELETE）",
            f"{MAX_OPEN} uploads of the organisation are open; complete or abort (DELETE) some first",
            code="upload.too_many",
        )


def get(session: Session, caller: Caller, upload_id: str, *, action: str = "upload.read") -> UploadSession:
    """The organisation's own session, of a kind the caller may send; any other is 'not found'."""
    found = session.get(UploadSession, upload_id)
    if found is None or found.organisation_id != caller.organisation_id or found.expires_at <= utcnow():
        audit.by_caller(
            session, caller, action, outcome="denied", object_type="upload", object_id=upload_id[:64]
        )
        audit.refuse(session, NotFound("查無此分段上傳", "no such upload"))
    if not caller.granted(found.kind, Direction.SEND):
        audit.by_caller(
            session, caller, action, outcome="denied", object_type="upload", object_id=found.id,
            kind=found.kind, detail={"reason": "not_granted"},
        )  # fmt: skip
        audit.refuse(
            session,
            Denied(
                f"{caller.code} 未獲授權傳送此類別（{found.kind}:send）",
                f"{caller.code} is not granted to send this kind ({found.kind}:send)",
            ),
        )
    return found


def listing(platform: Platform, caller: Caller) -> list[UploadSession]:
    """The organisation's open sessions of kinds the caller may send, oldest first: what a client
    that lost track of its sessions may resume or abort."""
    sendable = [kind for kind, direction in caller.grants if direction is Direction.SEND]
    with platform.db.transaction() as session:
        found = session.scalars(
            select(UploadSession)
            .where(
                UploadSession.organisation_id == caller.organisation_id,
                UploadSession.state == OPEN,
                UploadSession.kind.in_(sendable),
                UploadSession.expires_at > utcnow(),
            )
            .order_by(UploadSession.created_at, UploadSession.id)
            .limit(MAX_OPEN)
        ).all()
        session.expunge_all()
        return list(found)


def abort(platform: Platform, caller: Caller, upload_id: str) -> None:
    """An open (or failed) session ended by the organisation: its bytes are removed at once."""
    with platform.db.transaction() as session:
        found = get(session, caller, upload_id, action="upload.abort")
        if found.state == COMPLETED:
            raise Conflict("此分段上傳已完成，無法中止", "the upload is complete; it cannot be aborted")
        audit.by_caller(
            session, caller, "upload.abort", object_type="upload", object_id=found.id, kind=found.kind,
            detail={"received": str(found.received), "size": str(found.size), "state": found.state},
        )  # fmt: skip
        session.delete(found)
    platform.blobs.delete(_blob(upload_id))


def read(platform: Platform, caller: Caller, upload_id: str) -> UploadSession:
    with platform.db.transaction() as session:
        found = get(session, caller, upload_id)
        session.expunge(found)
        return found


def append(
    platform: Platform, caller: Caller, upload_id: str, offset: int, chunks: Iterable[bytes]
) -> UploadSession:
    """The chunk written at ``offset``, which must be the offset the platform holds (409 with it
    otherwise). What arrived of a chunk cut short is kept: the offset says how much.

    One request at a time writes a session's file: a request cut short may still be writing when
    the client's retry arrives, so the retry waits for it (a while, then 409) and reads the offset
    again once it alone writes."""
    _writable(read(platform, caller, upload_id), offset)
    with platform.blobs.path(_blob(upload_id)).open("r+b") as out:
        _lock(out)
        held = read(platform, caller, upload_id)
        _writable(held, offset)
        written = 0
        try:
            out.truncate(offset)
            out.seek(offset)
            try:
                for chunk in chunks:
                    if offset + written + len(chunk) > held.size:
                        raise TooLarge("超過申報之檔案大小", f"more bytes than the declared size {held.size}")
                    out.write(chunk)
                    written += len(chunk)
            finally:
                out.flush()
                os.fsync(out.fileno())
        finally:
            with platform.db.transaction() as session:
                moved = session.execute(
                    update(UploadSession)
                    .where(
                        UploadSession.id == upload_id,
                        UploadSession.received == offset,
                        UploadSession.state == OPEN,
                    )
                    .values(received=offset + written)
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict(
                        "分段上傳同時被寫入", "the upload was written by another request at the same time"
                    )
    held.received = offset + written
    return held


def _writable(held: UploadSession, offset: int) -> None:
    _still_open(held)
    if offset != held.received:
        raise Conflict(f"位移應為 {held.received}", f"the upload's offset is {held.received}, not {offset}")


def _lock(out: BinaryIO) -> None:
    """The session's file for this request alone (an advisory lock, released when it is closed)."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise Conflict(
                    "分段上傳正由另一請求寫入，請稍後再試",
                    "the upload is being written by another request; try again shortly",
                ) from None
            time.sleep(0.05)


def _still_open(held: UploadSession) -> None:
    if held.state == COMPLETED:
        raise Conflict("此分段上傳已完成", "the upload is already complete")
    if held.state == FAILED:
        raise Conflict(
            "此分段上傳未能完成，已關閉；請重新開始",
            "the upload's completion was refused and the upload is closed; open a new one",
            code="upload.failed",
        )


def complete(platform: Platform, caller: Caller, upload_id: str) -> intake.Received:
    """The assembled file, handed to intake as a whole upload; completing again answers the same
    submission. A refused completion closes the session (``failed``) and removes its bytes."""
    held = read(platform, caller, upload_id)
    upload = intake.Upload(held.kind, held.format, held.encoding, held.idempotency_key, held.filename)
    if held.state == COMPLETED and held.submission_id is not None:
        with platform.db.transaction() as session:
            return intake.Received(session.get_one(Submission, held.submission_id), False)
    _still_open(held)
    if held.received != held.size:  # the client may still send what is missing
        raise Conflict(
            f"尚缺 {held.size - held.received} 位元組", f"{held.size - held.received} bytes are still missing"
        )
    try:
        _same_digest(platform, held)
        received = intake.submit(platform, caller, upload, platform.blobs.read_chunks(_blob(upload_id)))
    except DomainError as e:
        _close_failed(platform, caller, held, e)
        raise
    with platform.db.transaction() as session:
        session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(state=COMPLETED, submission_id=received.submission.id)
        )
    platform.blobs.delete(_blob(upload_id))
    return received


def _same_digest(platform: Platform, held: UploadSession) -> None:
    digest = hashlib.sha256()
    for chunk in platform.blobs.read_chunks(_blob(held.id)):
        digest.update(chunk)
    if digest.hexdigest() != held.sha256:
        raise Invalid(
            "組合後之 SHA-256 與申報不符", "the assembled file's SHA-256 differs from the declared one"
        )


def _close_failed(platform: Platform, caller: Caller, held: UploadSession, error: DomainError) -> None:
    with platform.db.transaction() as session:
        session.execute(
            update(UploadSession)
            .where(UploadSession.id == held.id, UploadSession.state == OPEN)
            .values(state=FAILED)
        )
        audit.by_caller(
            session, caller, "upload.complete", outcome="failed", object_type="upload", object_id=held.id,
            kind=held.kind, detail={"code": error.code},
        )  # fmt: skip
    platform.blobs.delete(_blob(held.id))


def expire(platform: Platform) -> int:
    """Removes expired sessions and their bytes; returns how many."""
    now = utcnow()
    with platform.db.transaction() as session:
        ids = session.scalars(select(UploadSession.id).where(UploadSession.expires_at <= now)).all()
        if ids:
            session.execute(delete(UploadSession).where(UploadSession.id.in_(ids)))
    for upload_id in ids:
        platform.blobs.delete(_blob(upload_id))
    return len(ids)

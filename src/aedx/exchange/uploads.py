"""Upload sessions: a large file sent in chunks, resumed after an interruption from the offset the
platform holds. Creating one checks what an upload checks (the sender's permission and grant, the
declared size against the limit; a refusal is audited alike); each chunk is appended at the offset
the platform holds and kept on disk before the offset moves; completing hands the assembled bytes to
intake exactly as a whole upload would be (the same checks, the same idempotency). Sessions expire;
an expired session and its bytes are removed."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from aedx.errors import Conflict, Invalid, NotFound, TooLarge
from aedx.exchange import intake
from aedx.exchange.platform import Platform
from aedx.storage.tables import Submission, UploadSession, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller

LIFETIME = dt.timedelta(hours=24)
MAX_OPEN = 50  # open sessions of one organisation at a time
SHA256 = re.compile(r"^[0-9a-f]{64}$")
OPEN, COMPLETED = "open", "completed"


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
            if found is not None and found.size == size and found.sha256 == sha256:
                return found
        open_now = session.scalar(
            select(func.count())
            .select_from(UploadSession)
            .where(UploadSession.organisation_id == caller.organisation_id, UploadSession.state == OPEN)
        )
        if (open_now or 0) >= MAX_OPEN:
            raise Conflict(
                "進行中之分段上傳過多", f"more than {MAX_OPEN} uploads are open; complete some first"
            )
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


def get(session: Session, caller: Caller, upload_id: str) -> UploadSession:
    found = session.get(UploadSession, upload_id)
    if found is None or found.organisation_id != caller.organisation_id or found.expires_at <= utcnow():
        audit.by_caller(
            session, caller, "upload.read", outcome="denied", object_type="upload", object_id=upload_id[:64]
        )
        audit.refuse(session, NotFound("查無此分段上傳", "no such upload"))
    return found


def read(platform: Platform, caller: Caller, upload_id: str) -> UploadSession:
    with platform.db.transaction() as session:
        found = get(session, caller, upload_id)
        session.expunge(found)
        return found


def append(
    platform: Platform, caller: Caller, upload_id: str, offset: int, chunks: Iterable[bytes]
) -> UploadSession:
    """The chunk written at ``offset``, which must be the offset the platform holds (409 with it
    otherwise). What arrived of a chunk cut short is kept: the offset says how much."""
    held = read(platform, caller, upload_id)
    if held.state != OPEN:
        raise Conflict("此分段上傳已完成", "the upload is already complete")
    if offset != held.received:
        raise Conflict(f"位移應為 {held.received}", f"the upload's offset is {held.received}, not {offset}")
    written = 0
    path = platform.blobs.path(_blob(upload_id))
    try:
        with path.open("r+b") as out:
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


def complete(platform: Platform, caller: Caller, upload_id: str) -> intake.Received:
    """The assembled file, handed to intake as a whole upload; completing again answers the same
    submission."""
    held = read(platform, caller, upload_id)
    upload = intake.Upload(held.kind, held.format, held.encoding, held.idempotency_key, held.filename)
    if held.state == COMPLETED and held.submission_id is not None:
        with platform.db.transaction() as session:
            return intake.Received(session.get_one(Submission, held.submission_id), False)
    if held.received != held.size:
        raise Conflict(
            f"尚缺 {held.size - held.received} 位元組", f"{held.size - held.received} bytes are still missing"
        )
    digest = hashlib.sha256()
    for chunk in platform.blobs.read_chunks(_blob(upload_id)):
        digest.update(chunk)
    if digest.hexdigest() != held.sha256:
        raise Invalid(
            "組合後之 SHA-256 與申報不符", "the assembled file's SHA-256 differs from the declared one"
        )
    received = intake.submit(platform, caller, upload, platform.blobs.read_chunks(_blob(upload_id)))
    with platform.db.transaction() as session:
        session.execute(
            update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(state=COMPLETED, submission_id=received.submission.id)
        )
    platform.blobs.delete(_blob(upload_id))
    return received


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

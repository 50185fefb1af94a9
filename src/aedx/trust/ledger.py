"""The tamper-evident audit log: a hash chain over the audit events, sealed after the fact, with
checkpoints signed by the platform and kept twice (a table and an append-only file).

Writing stays as cheap as before: ``audit.record`` only inserts a row in the caller's transaction,
with ``seq`` and ``chain_hash`` left empty, so writers never wait for one another or for the chain.

Sealing. A *sealer* (the worker every few seconds, ``aedx audit seal`` at once) takes an exclusive
lock (PostgreSQL: the session advisory lock ``LOCK_KEY``; SQLite: ``flock`` on
``audit/seal.lock``, the embedded database being local), then, in one transaction per batch, gives
each committed, unsealed event (oldest id first) the next sequence number and the chain value

    h_n = SHA-256(h_(n-1) || len(c_n) as 8 bytes big-endian || c_n),   h_0 = SHA-256("aedx.audit.ledger.v1")

where ``c_n = canonical(event_n with its seq)`` is JSON with sorted keys, no spaces, UTF-8, of
every column in ``EVENT_FIELDS`` (timestamps as UTC ISO 8601 with microseconds). An event whose
transaction commits late simply gets a later number: the chain order is the seal order. The same
transaction inserts a *checkpoint* (last seq, its hash, time, events sealed, certificate
fingerprint) signed with the platform's signing key (RSASSA-PKCS1-v1_5 SHA-256 over
``Checkpoint.payload()``, so ``openssl dgst -sha256 -verify`` checks it). After the commit, still
under the lock, the checkpoint is appended to ``audit/checkpoints.jsonl`` in the data folder and
fsynced; the lock spans commit and append so the file's order is the table's.

The sealer continues only a chain whose head (the event with the highest seq) equals the last
checkpoint, and only when the file's last line equals that checkpoint in the table: a file ahead
of the table means sealed events and checkpoints were removed, and the sealer refuses
(``LedgerBroken``) until an operator has looked (``aedx audit verify``). A table ahead of the file
(a crash between commit and append) is repaired by appending the table's checkpoints, after
checking their signatures; that copies signed data only and cannot hide a removal, which shows as
the file being ahead.

Verifying (``verify``) seals nothing. Under the sealer lock for a moment it opens a snapshot of the
database (REPEATABLE READ on PostgreSQL, a read transaction on SQLite) and notes the file's
length, then, without the lock: compares the table's checkpoints with the file's lines and checks
every signature against the platform certificate (itself checked up to the platform root); walks
the events in seq order, a batch at a time (bounded memory), checking that seq starts at 1 without
a gap, that every hash recomputes, and that each checkpoint's hash is the chain's at its seq; and
checks that the last checkpoint covers the end of the chain. The first mismatches are classified
(edited, deleted, inserted, reordered, chain rewritten, checkpoint missing or forged) by trying
the neighbouring events in their other places. Unsealed events are reported as information.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from aedx.errors import DomainError
from aedx.settings import Settings
from aedx.storage.db import Database
from aedx.storage.tables import AuditCheckpoint, AuditEvent, utcnow
from aedx.trust import audit
from aedx.trust.pki import Authority, Identity, PkiError, Usage, verify_chain

log = logging.getLogger(__name__)

GENESIS = hashlib.sha256(b"aedx.audit.ledger.v1").digest()
EVENT_FIELDS = (
    "id",
    "at",
    "actor",
    "actor_organisation_id",
    "organisation_id",
    "action",
    "object_type",
    "object_id",
    "submission_id",
    "kind",
    "outcome",
    "detail",
    "seq",
)
CHECKPOINT_TYPE = "aedx.audit.checkpoint"
LOCK_KEY = int.from_bytes(b"aedxaudt", "big")  # PostgreSQL advisory lock of the sealer
SEAL_BATCH = 10_000
VERIFY_BATCH = 5_000
WINDOW = 16  # neighbours tried when classifying a broken link
MAX_FINDINGS = 20

EVENTS = cast(Table, AuditEvent.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
Row = Mapping[Any, Any]  # a row as a mapping of column names to values
EVENT_COLUMNS = [EVENTS.c[name] for name in EVENT_FIELDS] + [EVENTS.c.chain_hash]


class Host(Protocol):
    """What the ledger needs of the platform (``aedx.exchange.platform.Platform``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def authority(self) -> Authority: ...


class LedgerBroken(DomainError):
    code = "audit.ledger_broken"


# --- the chain ---------------------------------------------------------------------------------


def _value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return v


def canonical(event: Row) -> bytes:
    """The event's bytes under the chain: every column of ``EVENT_FIELDS``, seq included."""
    body = {name: _value(event[name]) for name in EVENT_FIELDS}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def link(previous: bytes, event: Row) -> bytes:
    """The chain value after ``event``, given the value before it."""
    c = canonical(event)
    return hashlib.sha256(previous + len(c).to_bytes(8, "big") + c).digest()


# --- checkpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    chain_hash: str
    at: dt.datetime
    events: int
    certificate: str
    signature: bytes = b""

    def payload(self) -> bytes:
        """The signed bytes."""
        body = {
            "type": CHECKPOINT_TYPE,
            "version": 1,
            "seq": self.seq,
            "hash": self.chain_hash,
            "at": _value(self.at),
            "events": self.events,
            "certificate": self.certificate,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def line(self) -> str:
        body = json.loads(self.payload()) | {"signature": base64.b64encode(self.signature).decode()}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: bytes) -> Checkpoint:
        body = json.loads(line)
        if body.get("type") != CHECKPOINT_TYPE or body.get("version") != 1:
            raise ValueError("not a checkpoint")
        return cls(
            seq=int(body["seq"]),
            chain_hash=str(body["hash"]),
            at=dt.datetime.fromisoformat(body["at"]),
            events=int(body["events"]),
            certificate=str(body["certificate"]),
            signature=base64.b64decode(body["signature"], validate=True),
        )

    @classmethod
    def from_row(cls, row: Row) -> Checkpoint:
        try:
            signature = base64.b64decode(row["signature"], validate=True)
        except ValueError:
            signature = b""
        return cls(row["seq"], row["chain_hash"], row["at"], row["events"], row["certificate"], signature)

    def verifies(self, certificate: x509.Certificate | None) -> bool:
        if certificate is None or self.certificate != fingerprint(certificate):
            return False
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(self.signature, self.payload(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


class Book:
    """The append-only checkpoint file: one JSON line per checkpoint, fsynced."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "checkpoints.jsonl"

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, checkpoint: Checkpoint) -> None:
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(checkpoint.line() + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def last(self) -> Checkpoint | None:
        """The last line, read from the end."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return None
            data, pos = b"", end
            while pos > 0 and data.rstrip(b"\n").count(b"\n") < 1:
                step = min(4096, pos)
                pos -= step
                f.seek(pos)
                data = f.read(step) + data
        if not data.endswith(b"\n"):
            raise LedgerBroken(
                "稽核檢查點檔最後一行不完整，請執行 aedx audit verify",
                f"the last line of {self.path} is incomplete; run aedx audit verify",
            )
        try:
            return Checkpoint.from_line(data.rstrip(b"\n").rsplit(b"\n", 1)[-1])
        except (ValueError, KeyError, TypeError):
            raise LedgerBroken(
                "稽核檢查點檔最後一行無法讀取，請執行 aedx audit verify",
                f"the last line of {self.path} is unreadable; run aedx audit verify",
            ) from None

    def lines(self, limit: int) -> Iterator[tuple[int, Checkpoint | None]]:
        """(line number, checkpoint or None when unreadable) for the first ``limit`` bytes."""
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            read = 0
            for number, line in enumerate(f, 1):
                read += len(line)
                if read > limit:
                    return
                try:
                    yield number, Checkpoint.from_line(line)
                except (ValueError, KeyError, TypeError):
                    yield number, None


def _folder(host: Host) -> Path:
    return host.settings.data_dir / "audit"


# --- sealing -----------------------------------------------------------------------------------


@contextmanager
def _exclusive(host: Host, *, wait: bool) -> Iterator[bool]:
    """The sealer's lock; yields False when ``wait`` is off and another sealer holds it."""
    db = host.db
    if db.is_sqlite:
        path = _folder(host) / "seal.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                got = False
            else:
                got = True
            try:
                yield got
            finally:
                if got:
                    fcntl.flock(f, fcntl.LOCK_UN)
        return
    with db.engine.connect() as conn:
        if wait:
            conn.execute(select(func.pg_advisory_lock(LOCK_KEY)))
            got = True
        else:
            got = bool(conn.scalar(select(func.pg_try_advisory_lock(LOCK_KEY))))
        conn.commit()  # the lock is the session's: it outlives this transaction
        try:
            yield got
        finally:
            if got:
                conn.rollback()
                conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
                conn.commit()


@dataclass(frozen=True)
class Sealed:
    events: int
    checkpoints: list[Checkpoint]


def seal(host: Host, *, wait: bool = True, batch: int = SEAL_BATCH) -> Sealed | None:
    """Seal every committed, unsealed event, a checkpoint per batch; None when ``wait`` is off and
    another sealer is at work. Raises ``LedgerBroken`` when the chain's head or the checkpoint
    file disagrees with the last checkpoint, ``PkiError`` when the platform has no CA."""
    with _exclusive(host, wait=wait) as got:
        if not got:
            return None
        identity = host.authority.identity(Usage.SIGNING)
        book = Book(_folder(host))
        _reconcile(host, book, identity.certificate)
        made: list[Checkpoint] = []
        while True:
            with host.db.transaction() as session:
                checkpoint = _seal_batch(session, identity, batch)
            if checkpoint is None:
                break
            book.append(checkpoint)
            made.append(checkpoint)
            if checkpoint.events < batch:
                break
        return Sealed(sum(c.events for c in made), made)


def _head(session: Session) -> tuple[int, bytes]:
    last = session.execute(
        select(CHECKPOINTS.c.seq, CHECKPOINTS.c.chain_hash).order_by(CHECKPOINTS.c.seq.desc()).limit(1)
    ).first()
    top = session.execute(
        select(EVENTS.c.seq, EVENTS.c.chain_hash)
        .where(EVENTS.c.seq.is_not(None))
        .order_by(EVENTS.c.seq.desc())
        .limit(1)
    ).first()
    if last is None and top is None:
        return 0, GENESIS
    if last is None or top is None or tuple(last) != tuple(top):
        raise LedgerBroken(
            "稽核雜湊鏈之末端與最後檢查點不符，停止封存；請執行 aedx audit verify",
            "the end of the audit chain does not match the last checkpoint; sealing stopped: "
            "run aedx audit verify",
        )
    return int(last.seq), bytes.fromhex(last.chain_hash)


def _seal_batch(session: Session, identity: Identity, batch: int) -> Checkpoint | None:
    seq, h = _head(session)
    rows = (
        session.execute(
            select(*EVENT_COLUMNS).where(EVENTS.c.seq.is_(None)).order_by(EVENTS.c.id).limit(batch)
        )
        .mappings()
        .all()
    )
    if not rows:
        return None
    changes = []
    for row in rows:
        seq += 1
        h = link(h, {**row, "seq": seq})
        changes.append({"b_id": row["id"], "b_seq": seq, "b_hash": h.hex()})
    session.execute(
        update(EVENTS)
        .where(EVENTS.c.id == bindparam("b_id"))
        .values(seq=bindparam("b_seq"), chain_hash=bindparam("b_hash")),
        changes,
    )
    unsigned = Checkpoint(seq, h.hex(), utcnow(), len(rows), fingerprint(identity.certificate))
    checkpoint = replace(unsigned, signature=identity.sign(unsigned.payload()))
    session.add(
        AuditCheckpoint(
            seq=checkpoint.seq,
            chain_hash=checkpoint.chain_hash,
            at=checkpoint.at,
            events=checkpoint.events,
            certificate=checkpoint.certificate,
            signature=base64.b64encode(checkpoint.signature).decode(),
        )
    )
    return checkpoint


def _checkpoints(read: Callable[..., Any], after: int, batch: int = 1000) -> Iterator[Checkpoint]:
    """The table's checkpoints after ``after``, in seq order, a batch at a time."""
    while True:
        rows = (
            read(
                select(CHECKPOINTS).where(CHECKPOINTS.c.seq > after).order_by(CHECKPOINTS.c.seq).limit(batch)
            )
            .mappings()
            .all()
        )
        for row in rows:
            yield Checkpoint.from_row(row)
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]


def _reconcile(host: Host, book: Book, certificate: x509.Certificate) -> None:
    """The file's last line must be the table's checkpoint at its seq; checkpoints the table has
    beyond it (a crash after a commit) are appended."""
    last = book.last()
    with host.db.transaction() as session:
        if last is not None:
            row = session.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.seq == last.seq)).mappings().first()
            if row is None or Checkpoint.from_row(row) != last:
                raise LedgerBroken(
                    f"稽核檢查點檔之檢查點 {last.seq} 與資料表不符（資料表之紀錄或已遭刪除），停止封存；"
                    "請執行 aedx audit verify",
                    f"checkpoint {last.seq} of the checkpoint file is not in the table as written "
                    "(sealed events may have been removed); sealing stopped: run aedx audit verify",
                )
        restored = 0
        for checkpoint in _checkpoints(session.execute, last.seq if last else 0):
            if not checkpoint.verifies(certificate):
                raise LedgerBroken(
                    f"檢查點 {checkpoint.seq} 之簽章無效，停止封存",
                    f"checkpoint {checkpoint.seq} has an invalid signature; sealing stopped",
                )
            book.append(checkpoint)
            restored += 1
        if restored:
            log.warning("restored %d checkpoints to %s", restored, book.path)
            audit.record(
                session,
                actor="ledger",
                action="audit.checkpoints_restored",
                detail={"checkpoints": restored, "after_seq": last.seq if last else 0},
            )


# --- verifying ---------------------------------------------------------------------------------


class Tampering(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    REWRITTEN = "rewritten"  # hashes recomputed after an edit: only a checkpoint tells
    CHECKPOINT_MISSING = "checkpoint_missing"
    CHECKPOINT_FORGED = "checkpoint_forged"


LABELS = {
    Tampering.EDITED: "紀錄遭修改",
    Tampering.DELETED: "紀錄遭刪除",
    Tampering.INSERTED: "紀錄遭插入",
    Tampering.REORDERED: "紀錄順序遭調換",
    Tampering.REWRITTEN: "雜湊鏈遭改寫",
    Tampering.CHECKPOINT_MISSING: "檢查點缺漏",
    Tampering.CHECKPOINT_FORGED: "檢查點遭偽造",
}


@dataclass(frozen=True)
class Finding:
    kind: Tampering
    seq: int | None
    event_id: int | None
    message_zh: str
    message_en: str

    def one_line(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "-"
        event = f" event {self.event_id}" if self.event_id is not None else ""
        return (
            f"{LABELS[self.kind]} {self.kind.value} · {where}{event} · {self.message_zh} / {self.message_en}"
        )


@dataclass
class Verdict:
    events: int = 0  # sealed events walked
    checkpoints: int = 0
    unsealed: int = 0
    oldest_unsealed: dt.datetime | None = None
    findings: list[Finding] = field(default_factory=list)
    truncated: bool = False  # more findings than MAX_FINDINGS: the walk stopped

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The finding at the lowest seq (the first found among equals)."""
        if not self.findings:
            return None
        return min(self.findings, key=lambda f: f.seq if f.seq is not None else 0)

    def add(self, kind: Tampering, seq: int | None, event_id: int | None, zh: str, en: str) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.truncated = True
            return
        self.findings.append(Finding(kind, seq, event_id, zh, en))

    @property
    def full(self) -> bool:
        return self.truncated or len(self.findings) >= MAX_FINDINGS

    def audited(self) -> tuple[str, dict[str, Any]]:
        """The outcome and detail of the ``audit.verify`` event that records this verification."""
        first = self.first
        return ("ok" if self.ok else "failed"), {"events": self.events} | (
            {"first": first.kind.value} if first else {}
        )


@contextmanager
def _snapshot(host: Host, book: Book) -> Iterator[tuple[Connection, int]]:
    """A consistent read of the database and the file's length, taken while no sealer runs: a
    reading transaction (a deferred snapshot on SQLite, REPEATABLE READ on PostgreSQL)."""
    snapshot = {} if host.db.is_sqlite else {"isolation_level": "REPEATABLE READ"}
    with host.db.reading() as session:
        conn = session.connection(execution_options=snapshot)
        with _exclusive(host, wait=True):
            conn.execute(select(func.count()).select_from(CHECKPOINTS)).scalar()  # the snapshot
            size = book.size()
        yield conn, size


def platform_certificate(host: Host) -> x509.Certificate | None:
    """The platform's signing certificate, or None when the platform has no CA yet."""
    if not (host.authority.folder / "root.pem").exists():
        return None
    return host.authority.identity(Usage.SIGNING).certificate


def verify(
    host: Host, *, progress: Callable[[int, int], None] | None = None, batch: int = VERIFY_BATCH
) -> Verdict:
    """Check the sealed chain, its checkpoints and the checkpoint file; seal nothing.
    ``progress(done, total)`` is called after each batch of events."""
    verdict = Verdict()
    book = Book(_folder(host))
    certificate = platform_certificate(host)
    if certificate is not None:
        try:
            verify_chain(certificate, [host.authority.root], [host.authority.issuing])
        except PkiError as e:
            verdict.add(
                Tampering.CHECKPOINT_FORGED,
                None,
                None,
                f"平台簽章憑證無法驗證：{e.message_zh}",
                f"the platform's signing certificate does not verify: {e.message_en}",
            )
    with _snapshot(host, book) as (conn, size):
        _compare_checkpoints(conn, book, size, certificate, verdict)
        _walk(conn, verdict, progress, batch)
        unsealed, oldest = conn.execute(
            select(func.count(), func.min(EVENTS.c.at)).where(EVENTS.c.seq.is_(None))
        ).one()
        verdict.unsealed, verdict.oldest_unsealed = int(unsealed), oldest
    return verdict


def _compare_checkpoints(
    conn: Connection, book: Book, size: int, certificate: x509.Certificate | None, verdict: Verdict
) -> None:
    """The table's checkpoints and the file's lines, merged by seq; every signature checked."""
    table = _checkpoints(conn.execute, 0)
    lines = book.lines(size)
    t, f = next(table, None), next(lines, None)
    agreed, last_line = 0, 0  # the last seq both hold; the last seq the file holds
    missing_reported = deleted_reported = False
    while (t is not None or f is not None) and not verdict.full:
        line = f[1] if f is not None else None
        if t is not None and (f is None or (line is not None and t.seq < line.seq)):
            # in the table, not in the file
            if not missing_reported:
                missing_reported = True
                verdict.add(
                    Tampering.CHECKPOINT_MISSING,
                    t.seq,
                    None,
                    f"檢查點 {t.seq} 不在檢查點檔中（檔案遭截斷或刪改）",
                    f"checkpoint {t.seq} is missing from the checkpoint file (truncated or edited)",
                )
            _signed(t, certificate, verdict)
            verdict.checkpoints += 1
            agreed, t = t.seq, next(table, None)
            continue
        if f is None:  # not reached: the table's branch above took it
            break
        number = f[0]
        if line is None or line.seq <= last_line:
            verdict.add(
                Tampering.CHECKPOINT_FORGED,
                agreed + 1,
                None,
                f"檢查點檔第 {number} 行無法讀取或順序錯亂",
                f"line {number} of the checkpoint file is unreadable or out of order",
            )
        elif t is None or line.seq < t.seq:  # in the file, not in the table
            if not line.verifies(certificate):
                verdict.add(
                    Tampering.CHECKPOINT_FORGED,
                    line.seq,
                    None,
                    f"檢查點檔第 {number} 行（檢查點 {line.seq}）之簽章無效",
                    f"line {number} of the checkpoint file (checkpoint {line.seq}) has an invalid signature",
                )
            elif not deleted_reported:
                deleted_reported = True
                verdict.add(
                    Tampering.DELETED,
                    agreed + 1,
                    None,
                    f"資料表缺少檢查點 {line.seq}（檢查點檔有之）：已封存之紀錄及其檢查點遭刪除",
                    f"the table lacks checkpoint {line.seq}, which the checkpoint file holds: sealed "
                    "events and their checkpoints were removed",
                )
        else:  # the same seq in both
            if _signed(t, certificate, verdict) and line != t:
                verdict.add(
                    Tampering.CHECKPOINT_FORGED,
                    t.seq,
                    None,
                    f"檢查點 {t.seq} 於資料表與檢查點檔不一致",
                    f"checkpoint {t.seq} differs between the table and the checkpoint file",
                )
            verdict.checkpoints += 1
            agreed, t = t.seq, next(table, None)
        if line is not None:
            last_line = max(last_line, line.seq)
        f = next(lines, None)


def _signed(checkpoint: Checkpoint, certificate: x509.Certificate | None, verdict: Verdict) -> bool:
    if checkpoint.verifies(certificate):
        return True
    verdict.add(
        Tampering.CHECKPOINT_FORGED,
        checkpoint.seq,
        None,
        f"檢查點 {checkpoint.seq} 之簽章無法以平台憑證驗證",
        f"the signature of checkpoint {checkpoint.seq} does not verify with the platform certificate",
    )
    return False


def _fits(previous: bytes, event: Row, seq: int) -> bool:
    return bool(link(previous, {**event, "seq": seq}).hex() == event["chain_hash"])


def _stored(event: Row) -> bytes:
    try:
        return bytes.fromhex(event["chain_hash"] or "")
    except ValueError:
        return b""


def _walk(
    conn: Connection, verdict: Verdict, progress: Callable[[int, int], None] | None, batch: int
) -> None:
    total = conn.execute(select(func.max(EVENTS.c.seq))).scalar() or 0
    checkpoints = ((c.seq, c.chain_hash) for c in _checkpoints(conn.execute, 0))
    pending = next(checkpoints, None)
    previous_checkpoint = 0
    rewritten_reported = False
    h, expected = GENESIS, 1
    skip_to, skip_hash = 0, b""  # seqs already explained by a classified finding
    after: int | None = None
    while not verdict.full:
        query = select(*EVENT_COLUMNS).where(EVENTS.c.seq.is_not(None)).order_by(EVENTS.c.seq).limit(batch)
        if after is not None:
            query = query.where(EVENTS.c.seq > after)
        rows = conn.execute(query).mappings().all()
        for row in rows:
            s = int(row["seq"])
            if s < expected:
                verdict.add(
                    Tampering.INSERTED,
                    s,
                    row["id"],
                    f"紀錄 {row['id']} 之序號 {s} 不在雜湊鏈範圍內",
                    f"event {row['id']} carries seq {s}, outside the chain",
                )
                continue
            if s > expected:
                verdict.add(
                    Tampering.DELETED,
                    expected,
                    None,
                    f"序號 {expected}–{s - 1} 之紀錄遭刪除（下一筆為紀錄 {row['id']}）",
                    f"events seq {expected}–{s - 1} were deleted (the next is event {row['id']})",
                )
                h, expected = _stored(row), s + 1
                previous_checkpoint, pending = _pass_checkpoints(pending, checkpoints, s, previous_checkpoint)
                continue
            if s <= skip_to:
                if s == skip_to:
                    h = skip_hash
                expected = s + 1
                while pending is not None and pending[0] <= s:
                    previous_checkpoint, pending = pending[0], next(checkpoints, None)
                continue
            computed = link(h, row)
            if computed.hex() == row["chain_hash"]:
                h = computed
            else:
                finding, skip_to, skip_hash = _classify(conn, row, h)
                verdict.add(*finding)
                if skip_to == s:
                    h = skip_hash
            expected = s + 1
            while pending is not None and pending[0] < s:  # a checkpoint at a deleted seq
                previous_checkpoint, pending = pending[0], next(checkpoints, None)
            if pending is not None and pending[0] == s:
                if pending[1] != row["chain_hash"] and s > skip_to and not rewritten_reported:
                    rewritten_reported = True
                    verdict.add(
                        Tampering.REWRITTEN,
                        previous_checkpoint + 1,
                        None,
                        f"檢查點 {s} 之雜湊與雜湊鏈不符："
                        f"序號 {previous_checkpoint + 1}–{s} 間之紀錄遭修改並重算雜湊",
                        f"checkpoint {s} does not match the chain: events between seq "
                        f"{previous_checkpoint + 1} and {s} were altered and their hashes recomputed",
                    )
                previous_checkpoint, pending = s, next(checkpoints, None)
        verdict.events += len(rows)
        if progress:
            progress(verdict.events, total)
        if len(rows) < batch:
            break
        after = int(rows[-1]["seq"])
    if verdict.full:
        return
    end = expected - 1
    if pending is not None:
        verdict.add(
            Tampering.DELETED,
            end + 1,
            None,
            f"檢查點 {pending[0]} 已封存至序號 {pending[0]}，但雜湊鏈止於 {end}：其後之紀錄遭刪除",
            f"checkpoint {pending[0]} sealed events up to seq {pending[0]} but the chain ends at "
            f"{end}: the events after it were deleted",
        )
    elif end > previous_checkpoint:
        verdict.add(
            Tampering.CHECKPOINT_MISSING,
            previous_checkpoint + 1,
            None,
            f"序號 {previous_checkpoint + 1}–{end} 之紀錄已封存卻無檢查點（檢查點遭刪除或紀錄遭偽造）",
            f"events seq {previous_checkpoint + 1}–{end} are sealed but no checkpoint covers them "
            "(a checkpoint was deleted or the events forged)",
        )


def _pass_checkpoints(
    pending: tuple[int, str] | None, checkpoints: Iterator[tuple[int, str]], s: int, previous: int
) -> tuple[int, tuple[int, str] | None]:
    """Skip the checkpoints at seqs before ``s`` (deleted events are already reported)."""
    while pending is not None and pending[0] < s:
        previous, pending = pending[0], next(checkpoints, None)
    return previous, pending


def _classify(
    conn: Connection, event: RowMapping, h: bytes
) -> tuple[tuple[Tampering, int, int, str, str], int, bytes]:
    """Why the event at seq n does not follow the (good) chain value ``h``: tries the neighbours in
    their other places. Returns the finding, and up to which seq, with which chain value, the
    walk may resume."""
    n, eid = int(event["seq"]), event["id"]
    window = list(
        conn.execute(
            select(*EVENT_COLUMNS).where(EVENTS.c.seq > n).order_by(EVENTS.c.seq).limit(WINDOW - 1)
        ).mappings()
    )
    rows = [event, *window]
    true = next((r for r in window if _fits(h, r, n)), None)  # the event that belongs at n
    if true is not None:
        m = int(true["seq"])
        seqs = range(n + 1, n + len(rows) + 1)
        moved = any(_fits(_stored(x), event, k) for x in rows if x is not event for k in seqs)
        if moved:
            resume = _stored(event) if m == n + 1 and _fits(_stored(true), event, n + 1) else _stored(true)
            return (
                (
                    Tampering.REORDERED,
                    n,
                    eid,
                    f"序號 {n} 應為紀錄 {true['id']}（現序號 {m}），紀錄 {eid} 之位置遭調換",
                    f"seq {n} belongs to event {true['id']} (now at seq {m}); event {eid} was moved",
                ),
                m,
                resume,
            )
        return (
            (
                Tampering.INSERTED,
                n,
                eid,
                f"紀錄 {eid} 遭插入於序號 {n}（原紀錄 {true['id']} 被移至序號 {m}）",
                f"event {eid} was inserted at seq {n} (the true event {true['id']} was pushed to seq {m})",
            ),
            m,
            _stored(true),
        )
    following = window[0] if window and int(window[0]["seq"]) == n + 1 else None
    resume = _stored(event)
    what_zh, what_en = "內容", "its content"
    if following is not None and not _fits(resume, following, n + 1):
        computed = link(h, event)
        if _fits(computed, following, n + 1):
            resume, what_zh, what_en = computed, "雜湊值", "its chain hash"
    return (
        (
            Tampering.EDITED,
            n,
            eid,
            f"序號 {n} 之紀錄 {eid} 之{what_zh}遭修改",
            f"event {eid} at seq {n}: {what_en} was edited",
        ),
        n,
        resume,
    )


def public_key_pem(certificate: x509.Certificate) -> bytes:
    """The certificate's public key, for ``openssl dgst -sha256 -verify``."""
    return certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class Status:
    """How far the chain is sealed, read from the last checkpoint and the unsealed events: two
    small queries, not a verification (``verify`` walks the whole chain)."""

    sealed_to: int | None  # the last checkpoint's seq
    sealed_at: dt.datetime | None
    unsealed: int
    oldest_unsealed: dt.datetime | None


def status(session: Session) -> Status:
    last = session.execute(
        select(CHECKPOINTS.c.seq, CHECKPOINTS.c.at).order_by(CHECKPOINTS.c.seq.desc()).limit(1)
    ).first()
    unsealed, oldest = session.execute(
        select(func.count(), func.min(EVENTS.c.at)).where(EVENTS.c.seq.is_(None))
    ).one()
    return Status(last[0] if last else None, last[1] if last else None, int(unsealed), oldest)

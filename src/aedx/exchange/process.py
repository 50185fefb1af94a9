"""Carrying one submission through the state machine.

Each step reads the committed state, does its work, and commits the next state in one transaction
together with its effects and audit event. A process killed anywhere leaves the last committed
state; running the submission again carries on from there, and the same input gives the same
result: package blobs have fixed keys, and the case index is written in the same transaction as
the transition to ``routed``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aedx import notify
from aedx.exchange import delivery, registry, reports, routing
from aedx.exchange.platform import Platform
from aedx.exchange.states import FINISHED, State, transition
from aedx.findings import UnusableInput
from aedx.formats import Format, read_batches
from aedx.kinds import get_kind
from aedx.schema import Kind, Routing
from aedx.storage.tables import Organisation, Submission, utcnow
from aedx.trust import cms, receipts
from aedx.validation.engine import Options, Validator, explain_encoding, explain_kind
from aedx.validation.report import Report

log = logging.getLogger(__name__)
MAX_ROUTE_CONFLICTS = 3
INDEX_EFFECTS = {"case_referral": "open", "status_feedback": "status"}  # payments only read the index


@contextmanager
def timed(submission_id: str, step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    log.info("submission %s: %s took %.2f s", submission_id, step, time.perf_counter() - start)


@dataclass
class Evaluation:
    report: Report
    records: pl.DataFrame | None  # every record with its recipient, when the file could be read


def run(platform: Platform, submission_id: str, actor: str) -> State:
    """Carry the submission as far as it goes; returns the state it reached."""
    evaluation: Evaluation | None = None
    conflicts = 0
    while True:
        with platform.db.transaction() as session:
            sub = session.get_one(Submission, submission_id)
            sender = session.get_one(Organisation, sub.sender_id)
        state = State(sub.state)
        kind = get_kind(sub.kind)
        if state in FINISHED:
            return state
        if state is State.RECEIVED:
            today = platform.settings.current_day()
            with platform.db.transaction() as session:
                transition(session, sub.id, State.VALIDATING, actor=actor, validated_on=today)
            continue
        if state is State.ROUTED:
            with platform.db.transaction() as session:
                n = delivery.release(session, sub, actor)
                transition(session, sub.id, State.DELIVERED, actor=actor, detail={"deliveries": n})
            continue
        if state is State.VALIDATING and conflicts == 0 and _streams(platform, kind):
            conflicts += not _validate_while_indexing(platform, sub, kind, sender, actor)
            continue
        if evaluation is None:
            evaluation = evaluate(platform, sub, kind, sender, recheck=conflicts > 0)
        if state is State.VALIDATING or evaluation.report.has_errors:
            _decide(platform, sub, sender, evaluation, actor)
        elif not _route(platform, sub, kind, evaluation.records, actor):
            conflicts += 1  # a concurrent file opened the same cases: look again
            if conflicts > MAX_ROUTE_CONFLICTS:
                raise RuntimeError(f"{sub.id} keeps conflicting with the case index")
            evaluation = None


def evaluate(
    platform: Platform,
    sub: Submission,
    kind: Kind,
    sender: Organisation,
    *,
    recheck: bool,
    on_kept: Callable[[pl.DataFrame], None] | None = None,
) -> Evaluation:
    """Validate the stored file and route its records (see ``routing.route`` for ``recheck``)."""
    return examine(
        platform,
        kind,
        routing.Sender(sender.code, sender.role),
        _content(platform, sub),
        File(sub.filename or sub.id, sub.format, sub.encoding, sub.validated_on, sub.id),
        recheck=recheck,
        on_kept=on_kept,
    )


@dataclass(frozen=True)
class File:
    """What is known of a file before it is read."""

    name: str
    format: str
    encoding: str
    today: dt.date | None
    submission_id: str = ""  # none yet for a dry run


def examine(
    platform: Platform,
    kind: Kind,
    sender: routing.Sender,
    content: Path | memoryview,
    file: File,
    *,
    recheck: bool,
    masked: bool = False,
    on_kept: Callable[[pl.DataFrame], None] | None = None,
) -> Evaluation:
    """Every check a file goes through: read, validated, and its records routed against the
    case index and the register of organisations. The database is only read: a dry run (with
    ``recheck``, as nothing indexes its cases) gets the same findings the worker would."""
    options = Options(sender=sender.code, today=file.today, keep=True, mask_personal=masked)
    label = file.submission_id or file.name
    try:
        stream = read_batches(content, kind, Format(file.format), file.encoding, options.limits)
        validator = Validator(kind, stream, options)
        with timed(label, "validation"):
            report = explain_encoding(validator.run(source=file.name, on_kept=on_kept), content)
    except UnusableInput as e:
        unusable = Report.unusable(kind, file.name, file.format, file.encoding, e)
        return Evaluation(explain_kind(unusable, content), None)
    report = explain_kind(report, content)
    records = pl.concat(validator.kept) if validator.kept else pl.DataFrame()
    if records.height == 0:
        return Evaluation(report, records)
    with platform.db.transaction() as session, timed(label, "routing"):
        routed = routing.route(session, kind, file.submission_id, sender, records, recheck=recheck)
    report = Report(
        kind,
        file.name,
        report.format,
        report.encoding,
        report.records,
        pl.concat([report.findings, routed.findings]),
        report.control,
    )
    return Evaluation(report, routed.records)


def _content(platform: Platform, sub: Submission) -> Path | memoryview:
    """The file as sent: a signed upload is decrypted again (its signature and signer were checked
    when it arrived), so no clear copy is ever kept."""
    path = platform.blobs.path(sub.blob_key)
    if sub.envelope_sha256 is None:
        return path
    with timed(sub.id, "decryption"):
        return cms.unwrap(path.read_bytes(), platform.decrypter).content


def _decide(
    platform: Platform, sub: Submission, sender: Organisation, evaluation: Evaluation, actor: str
) -> None:
    """Accepted, or rejected whole with its report: any error-severity finding rejects the file.
    The sender gets the platform's signed receipt either way."""
    report = evaluation.report
    key = f"reports/{sub.id}.parquet"
    buffer = io.BytesIO()
    reports.seal(report.findings, report.kind, platform.keyring, sub.id).write_parquet(buffer)
    platform.blobs.put(key, [buffer.getvalue()])
    outcome = State.REJECTED if report.has_errors else State.ACCEPTED
    receipt = receipt_of(sub, sender, outcome) | {
        "records": report.records,
        "error_rows": report.error_rows,
        "warning_rows": report.warning_rows,
    }
    if outcome is State.ACCEPTED and evaluation.records is not None:
        receipt["recipients"] = recipients_of(evaluation.records)
    receipt_key = f"receipts/{sub.id}.p7s"
    platform.blobs.put(receipt_key, [receipts.make(receipt, platform.signer)])
    with platform.db.transaction() as session:
        transition(
            session,
            sub.id,
            outcome,
            actor=actor,
            detail={"records": report.records, "error_rows": report.error_rows},
            records=report.records,
            error_rows=report.error_rows,
            warning_rows=report.warning_rows,
            report_key=key,
            receipt_key=receipt_key,
            summary=json.dumps(report.summary(), ensure_ascii=False),
        )
        if outcome is State.REJECTED:  # an acceptance is announced once the file is routed
            notify.decided(session, sub.id)


def receipt_of(sub: Submission, sender: Organisation, state: State) -> dict[str, Any]:
    """What every signed receipt states: the file as received and the platform's decision."""
    return {
        "submission_id": sub.id,
        "sender": sender.code,
        "kind": sub.kind,
        "sha256": sub.sha256,
        "envelope_sha256": sub.envelope_sha256,
        "size": sub.size,
        "signer_certificate_serial": sub.signer_serial,
        "received_at": sub.received_at.isoformat(),
        "decided_at": utcnow().isoformat(),
        "state": state.value,
    }


def recipients_of(records: pl.DataFrame) -> list[dict[str, Any]]:
    """Which organisation receives how many of the records (branch codes, in code order)."""
    if records.height == 0 or routing.RECIPIENT not in records.columns:
        return []
    counts = records.group_by(routing.RECIPIENT).len().drop_nulls().sort(routing.RECIPIENT)
    return [{"recipient": code, "records": n} for code, n in counts.iter_rows()]


def _route(platform: Platform, sub: Submission, kind: Kind, records: pl.DataFrame | None, actor: str) -> bool:
    """Index the records, write their packages and record them with the transition, all or
    nothing. The index is written while the packages are, on the database's own core."""
    if records is None:
        raise ValueError("an unreadable file cannot be routed")
    effect = INDEX_EFFECTS.get(kind.name)
    try:
        with platform.db.transaction() as session, ThreadPoolExecutor(1) as pool:
            to = delivery.recipients(session, records)
            sealing = delivery.sealing(session, platform, to)
            indexed = pool.submit(_index, platform, session, effect, sub.id, records)
            packages = _write(platform, to, sealing, sub, kind, records)
            with timed(sub.id, "waiting for the index"):
                indexed.result()
            _record(session, sub, kind, packages, actor)
    except IntegrityError:
        return False
    return True


def _write(
    platform: Platform,
    to: dict[str, Organisation],
    sealing: delivery.Sealing,
    sub: Submission,
    kind: Kind,
    records: pl.DataFrame,
) -> list[delivery.Package]:
    with timed(sub.id, "packages"):
        return delivery.write_packages(platform, to, sealing, sub, kind, records)


def _record(
    session: Session, sub: Submission, kind: Kind, packages: list[delivery.Package], actor: str
) -> None:
    delivery.record_packages(session, sub, packages)
    detail = {"deliveries": len(packages), "index": INDEX_EFFECTS.get(kind.name)}
    transition(session, sub.id, State.ROUTED, actor=actor, detail=detail)
    notify.decided(session, sub.id)  # accepted for good: no concurrent file can reject it now


def _recipients(
    platform: Platform, records: pl.DataFrame
) -> tuple[dict[str, Organisation], delivery.Sealing]:
    with platform.db.transaction() as session:
        to = delivery.recipients(session, records)
        return to, delivery.sealing(session, platform, to)


def _streams(platform: Platform, kind: Kind) -> bool:
    """Whether the file's new cases can be written while it is validated (PostgreSQL only: the
    embedded database has one writer at a time)."""
    return (
        not platform.db.is_sqlite
        and INDEX_EFFECTS.get(kind.name) == "open"
        and kind.routing is Routing.TERRITORY
    )


class _Abandon(Exception):
    """Leave the indexing transaction, rolling it back."""


def _validate_while_indexing(
    platform: Platform, sub: Submission, kind: Kind, sender: Organisation, actor: str
) -> bool:
    """Validate a referral file while its cases are written to the index in a second transaction;
    the decision (accepted or rejected) commits on its own, then the second transaction records
    the packages and the transition to routed, or is rolled back. False when the index refused a
    case (already open, or twice in the file): the file is then examined again."""
    indexed = True
    try:
        with platform.db.transaction() as session:
            recipient = routing.territory_expr(str(kind.route_field))
            stream = registry.CaseStream(
                session, sub.id, platform.settings.index_key, platform.keyring, recipient
            )
            try:
                evaluation = evaluate(platform, sub, kind, sender, recheck=False, on_kept=stream.put)
                _decide(platform, sub, sender, evaluation, actor)
                records = evaluation.records
                if evaluation.report.has_errors or records is None:
                    raise _Abandon
                # The packages are written while the index takes in its last batches.
                packages = _write(platform, *_recipients(platform, records), sub, kind, records)
            finally:
                with timed(sub.id, "waiting for the index"):
                    indexed = stream.close()
            if not indexed:
                raise _Abandon
            _record(session, sub, kind, packages, actor)
    except _Abandon:
        pass
    return indexed


def _index(
    platform: Platform, session: Session, effect: str | None, submission_id: str, records: pl.DataFrame
) -> None:
    with timed(submission_id, f"index ({effect})"):
        if effect == "open":
            registry.open_cases(
                session, submission_id, records, platform.settings.index_key, platform.keyring
            )
        elif effect == "status":
            registry.apply_status(session, submission_id, records)

"""Reading submissions and their reports, scoped to the caller: a sender sees its own, HQ all."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.errors import Invalid, NotFound, NotReady
from aedx.exchange import reports
from aedx.exchange.platform import Platform
from aedx.exchange.searching import Period, contains, organisation_matches
from aedx.formats.source import ControlRecord
from aedx.kinds import get_kind
from aedx.storage.tables import Delivery, Organisation, Submission
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.validation.export import FORMATS, write_report
from aedx.validation.report import Report


def get(session: Session, caller: Caller, submission_id: str) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None or not (caller.is_hq or sub.sender_id == caller.organisation_id):
        audit.by_caller(
            session, caller, "submission.read", outcome="denied", object_type="submission",
            object_id=submission_id[:64],
        )  # fmt: skip
        audit.refuse(session, NotFound("查無此上傳檔", "no such submission"))
    return sub


def describe(sub: Submission, sender: str) -> dict[str, Any]:
    return {
        "id": sub.id,
        "sender": sender,
        "kind": sub.kind,
        "format": sub.format,
        "encoding": sub.encoding,
        "filename": sub.filename,
        "idempotency_key": sub.idempotency_key,
        "content_sha256": sub.sha256,  # of the signed content
        "envelope_size": sub.size,  # of the bytes as received
        "sha256": sub.sha256,
        "size": sub.size,
        "state": sub.state,
        "records": sub.records,
        "error_rows": sub.error_rows,
        "warning_rows": sub.warning_rows,
        "failure": sub.failure,
        "received_at": sub.received_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
    }


def recipients(session: Session, sub: Submission) -> list[dict[str, Any]]:
    """Who received the submission's records, and how many each (empty until it is routed)."""
    rows = session.execute(
        select(Organisation.code, Delivery.records)
        .join(Organisation, Organisation.id == Delivery.recipient_id)
        .where(Delivery.submission_id == sub.id)
        .order_by(Organisation.code)
    )
    return [{"recipient": code, "records": n} for code, n in rows]


def listing(
    session: Session,
    caller: Caller,
    *,
    state: str | None = None,
    kind: str | None = None,
    before: str | None = None,
    sender: str | None = None,
    filename: str | None = None,
    received: Period | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` pages on from the last id seen. ``sender`` (a code or a part of a
    name) narrows HQ's list only, ``filename`` is a part of the file's name, ``received`` a period."""
    stmt = (
        select(Submission, Organisation.code)
        .join(Organisation, Organisation.id == Submission.sender_id)
        .order_by(Submission.id.desc())
        .limit(limit)
    )
    if not caller.is_hq:
        stmt = stmt.where(Submission.sender_id == caller.organisation_id)
    elif sender:
        stmt = stmt.where(organisation_matches(sender))
    if state:
        stmt = stmt.where(Submission.state == state)
    if kind:
        stmt = stmt.where(Submission.kind == kind)
    if filename:
        stmt = stmt.where(contains(Submission.filename, filename))
    if received is not None:
        stmt = stmt.where(*received.bounds(Submission.received_at))
    if before:
        stmt = stmt.where(Submission.id < before)
    return [describe(sub, code) for sub, code in session.execute(stmt)]


def sender_code(session: Session, sub: Submission) -> str:
    return session.get_one(Organisation, sub.sender_id).code


def report(platform: Platform, sub: Submission, *, masked: bool = True) -> Report:
    """The report, personal values masked unless ``masked`` is False (see ``reports``)."""
    if sub.report_key is None or sub.summary is None:
        raise NotReady("檢核尚未完成", "validation has not finished yet")
    summary = json.loads(sub.summary)
    control = summary.get("control")
    kind = get_kind(sub.kind)
    stored = pl.read_parquet(platform.blobs.path(sub.report_key))
    return Report(
        kind=kind,
        source=summary["source"],
        format=summary["format"],
        encoding=summary["encoding"],
        records=summary["rows"],
        findings=reports.reveal(stored, kind, platform.keyring, sub.id, masked=masked),
        control=ControlRecord(control["records"], control["amount_total"]) if control else None,
    )


@dataclass(frozen=True)
class Findings:
    """A page of a report's findings, with what the filters may choose from."""

    page: pl.DataFrame  # personal values opened, masked unless asked otherwise
    matching: int  # findings the filters keep
    total: int
    codes: list[str]
    fields: list[str]


def findings(
    platform: Platform,
    sub: Submission,
    *,
    code: str = "",
    field: str = "",
    severity: str = "",
    offset: int = 0,
    limit: int = 100,
    masked: bool = True,
) -> Findings:
    """The findings that match every filter given, one page of them read and opened: a report
    of a million findings is never opened whole."""
    if sub.report_key is None:
        raise NotReady("檢核尚未完成", "validation has not finished yet")
    stored = pl.scan_parquet(platform.blobs.path(sub.report_key))
    chosen = stored
    for column, value in (("code", code), ("field", field), ("severity", severity)):
        if value:
            chosen = chosen.filter(pl.col(column) == value)
    counts = pl.concat(
        [stored.select(pl.len().alias("n")), chosen.select(pl.len().alias("n"))], how="vertical"
    ).collect()["n"]
    codes = stored.select(pl.col("code").drop_nulls().unique().sort()).collect().to_series().to_list()
    fields = stored.select(pl.col("field").drop_nulls().unique().sort()).collect().to_series().to_list()
    page = chosen.slice(offset, limit).collect()
    opened = reports.reveal(page, get_kind(sub.kind), platform.keyring, sub.id, masked=masked)
    return Findings(opened, int(counts[1]), int(counts[0]), codes, fields)


def receipt(platform: Platform, sub: Submission) -> Path:
    if sub.receipt_key is None:
        raise NotReady("收據於檢核完成後提供", "the receipt is ready once the file is accepted or rejected")
    return platform.blobs.path(sub.receipt_key)


def report_file(platform: Platform, sub: Submission, fmt: str) -> Path:
    """The report exported as JSON, CSV, XLSX or ODS; made once, then served from the blob store."""
    if fmt not in FORMATS:
        raise Invalid(f"不支援的報告格式 {fmt}", f"unknown report format {fmt}; use {', '.join(FORMATS)}")
    key = f"reports/{sub.id}.{fmt}"
    if not platform.blobs.exists(key):
        scratch = platform.settings.data_dir / "tmp" / f"{sub.id}.{secrets.token_hex(4)}.{fmt}"
        try:
            write_report(report(platform, sub), scratch)
            with scratch.open("rb") as f:
                platform.blobs.put(key, iter(lambda: f.read(1 << 20), b""))
        finally:
            scratch.unlink(missing_ok=True)
    return platform.blobs.path(key)

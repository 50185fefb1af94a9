"""The audit log: every state-changing call, every transition and every denial, appended in the
same transaction as the change it records.

Recording stays a plain insert; the sealer of ``aedx.trust.ledger`` later gives each committed
event its place in a hash chain with signed checkpoints (``aedx audit seal``, ``aedx audit verify``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aedx.errors import Denied
from aedx.formats.spreadsheet import csv_cell
from aedx.storage.tables import AuditEvent, Organisation, utcnow
from aedx.trust import actors
from aedx.trust.caller import Caller

EXPORT_BATCH = 5000
COLUMNS = (
    "id",
    "at",
    "actor",
    "organisation",
    "action",
    "object_type",
    "object_id",
    "submission_id",
    "kind",
    "outcome",
    "detail",
)
# The CSV's header row: the time's column names its zone (each time also carries its offset).
HEADINGS = tuple("at (UTC)" if name == "at" else name for name in COLUMNS)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str = "ok",
    actor_organisation_id: int | None = None,
    organisation_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    submission_id: str | None = None,
    kind: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=actor,
            actor_organisation_id=actor_organisation_id,
            organisation_id=organisation_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            submission_id=submission_id,
            kind=kind,
            outcome=outcome,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
        )
    )


def by_caller(session: Session, caller: Caller, action: str, **fields: Any) -> None:
    """An event caused by an authenticated organisation, about its own object unless told."""
    fields.setdefault("organisation_id", caller.organisation_id)
    record(session, actor=caller.actor, actor_organisation_id=caller.organisation_id, action=action, **fields)


def refuse(session: Session, error: Exception) -> NoReturn:
    """Keep what a refusal recorded (its audit event, a failure count, an ended session), then
    raise it: the request ends in the error, the record stays. Called before the request has
    changed anything else."""
    session.commit()
    raise error


@dataclass(frozen=True)
class Filter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str | None = None
    organisation: str | None = None  # code; HQ only (another's from others is refused)
    submission_id: str | None = None
    action: str | None = None
    after_id: int = 0  # keyset pagination
    limit: int = 100
    actor: str | None = None  # a username, a name, a client id or label, an organisation
    outcome: str | None = None  # ok, denied, rejected, duplicate, failed
    object_id: str | None = None
    before_id: int | None = None  # newest first: events older than this one (keyset, backwards)
    newest_first: bool = False


def query(session: Session, caller: Caller, f: Filter) -> list[dict[str, Any]]:
    _may_filter(session, caller, f)
    return list(_rows(session, caller, f))


def _may_filter(session: Session, caller: Caller, f: Filter) -> None:
    """Only HQ names another organisation; anyone else who does is refused (and recorded), not
    answered with its own events as if the filter had been applied."""
    if f.organisation is None or caller.is_hq or f.organisation == caller.code:
        return
    by_caller(
        session, caller, "audit.read", outcome="denied", object_type="organisation",
        object_id=f.organisation[:64], detail={"reason": "organisation_filter"},
    )  # fmt: skip
    refuse(
        session,
        Denied(
            "僅行政執行署可查詢其他機關之稽核紀錄",
            "only HQ may read another organisation's audit events",
        ),
    )


def _rows(session: Session, caller: Caller, f: Filter) -> Iterator[dict[str, Any]]:
    org = Organisation.__table__.alias("org")
    stmt = (
        select(AuditEvent, org.c.code)
        .outerjoin(org, org.c.id == AuditEvent.organisation_id)
        .where(AuditEvent.id > f.after_id)
        .order_by(AuditEvent.id.desc() if f.newest_first else AuditEvent.id)
        .limit(f.limit)
    )
    if f.before_id is not None:
        stmt = stmt.where(AuditEvent.id < f.before_id)
    if not caller.is_hq:
        stmt = stmt.where(AuditEvent.organisation_id == caller.organisation_id)
    elif f.organisation:
        stmt = stmt.where(org.c.code == f.organisation)
    if f.since:
        stmt = stmt.where(AuditEvent.at >= _utc(f.since))
    if f.until:
        stmt = stmt.where(AuditEvent.at < _utc(f.until))
    if f.kind:
        stmt = stmt.where(AuditEvent.kind == f.kind)
    if f.submission_id:
        stmt = stmt.where(AuditEvent.submission_id == f.submission_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.actor:
        who = actors.matching(session, f.actor)
        stmt = stmt.where(
            or_(AuditEvent.actor.in_(who.actors), AuditEvent.actor_organisation_id.in_(who.organisation_ids))
        )
    if f.outcome:
        stmt = stmt.where(AuditEvent.outcome == f.outcome)
    if f.object_id:
        stmt = stmt.where(AuditEvent.object_id == f.object_id)
    for event, code in session.execute(stmt):
        yield {
            "id": event.id,
            "at": _utc(event.at).isoformat(),  # with its offset, on SQLite too
            "actor": event.actor,
            "organisation": code,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "submission_id": event.submission_id,
            "kind": event.kind,
            "outcome": event.outcome,
            "detail": json.loads(event.detail) if event.detail else None,
        }


def _utc(t: dt.datetime) -> dt.datetime:
    """A time without a zone is read as UTC."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def export(session: Session, caller: Caller, f: Filter) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, fetched a batch at a time."""
    _may_filter(session, caller, f)
    after = f.after_id
    while True:
        batch = query(
            session,
            caller,
            Filter(**{**f.__dict__, "after_id": after, "limit": EXPORT_BATCH, "newest_first": False}),
        )
        yield from batch
        if len(batch) < EXPORT_BATCH:
            return
        after = batch[-1]["id"]


def csv_lines(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Events as CSV (a header of ``HEADINGS``, the detail as JSON), a line at a time, safe to open
    in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for event in events:
        writer.writerow(_cell(name, event[name]) for name in COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _cell(name: str, value: Any) -> Any:
    """A CSV cell, the detail as JSON; safe to open in a spreadsheet (what an event records may
    come from a refused caller's input)."""
    if name == "detail" and value is not None:
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return csv_cell(value)


def json_lines(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Events as JSON lines, one object per event."""
    for event in events:
        yield json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"

"""Packages as people see them in the portal's inbox: newest first, searched by sender and by
the day they became ready; a day's packages together; a package's records as a table, with the
kind's fields, for a spreadsheet. Clients keep the machine format and the order of ``delivery``."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from aedx.exchange.delivery import describe
from aedx.exchange.searching import Period, organisation_matches
from aedx.formats import ROW, Format, read_batches
from aedx.kinds import get_kind
from aedx.storage.tables import Delivery, Organisation, Submission
from aedx.trust.caller import Caller, Direction

SHOWN = ("ready", "acknowledged")  # a routed package is not in the inbox yet


def _theirs(caller: Caller) -> tuple[ColumnElement[bool], ...]:
    """The caller's packages of the kinds it may receive."""
    received = [kind for kind, direction in caller.grants if direction is Direction.RECEIVE]
    return Delivery.recipient_id == caller.organisation_id, Delivery.kind.in_(received)


def listing(
    session: Session, caller: Caller, *, include_acknowledged: bool = False, sender: str | None = None,
    ready: Period | None = None, before: str | None = None, limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    """The caller's packages, newest first; ``before`` pages on from the last id seen."""
    states = list(SHOWN) if include_acknowledged else ["ready"]
    stmt = (
        select(Delivery, Organisation.code, Submission.filename)
        .join(Submission, Submission.id == Delivery.submission_id)
        .join(Organisation, Organisation.id == Submission.sender_id)
        .where(*_theirs(caller), Delivery.state.in_(states))
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if sender:
        stmt = stmt.where(organisation_matches(sender))
    if ready is not None:
        stmt = stmt.where(*ready.bounds(Delivery.ready_at))
    if before:
        stmt = stmt.where(Delivery.id < before)
    return [describe(d, code) | {"filename": name} for d, code, name in session.execute(stmt)]


def of_period(session: Session, caller: Caller, ready: Period, *, limit: int = 1000) -> list[str]:
    """The ids of the caller's packages that became ready in the period, oldest first."""
    stmt = (
        select(Delivery.id)
        .where(
            *_theirs(caller),
            Delivery.state.in_(SHOWN),
            *ready.bounds(Delivery.ready_at),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def sender_of(session: Session, d: Delivery) -> tuple[str, str | None]:
    """The code of the organisation that sent the package's file, and the file's name."""
    row = session.execute(
        select(Organisation.code, Submission.filename)
        .join(Submission, Submission.sender_id == Organisation.id)
        .where(Submission.id == d.submission_id)
    ).one()
    return str(row[0]), row[1]


def records(d: Delivery, content: bytes) -> pl.DataFrame:
    """The package's records as text columns, one per field of its kind, in the kind's order."""
    kind = get_kind(d.kind)
    stream = read_batches(memoryview(content), kind, Format(d.format), d.encoding)
    parts = [batch.frame.drop(ROW) for batch in stream]
    frame = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    return frame.select(
        pl.col(n) if n in frame.columns else pl.lit(None, pl.String).alias(n) for n in kind.names
    )

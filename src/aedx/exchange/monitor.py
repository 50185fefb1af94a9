"""The exchange monitor: volumes by day, kind and organisation, rejection rates, processing times
and the expected files that did not arrive, for a period of days (Taipei).

Every figure is aggregated by the database (GROUP BY, window functions for the percentiles) over
an index range: submissions by ``received_at``, their transitions by ``submission_id``.
Processing times come from the transitions' audit events: received (the submission's
``received_at``) → decided (its first ``submission.accepted`` or ``submission.rejected``) →
delivered (``submission.delivered``). Percentiles are nearest-rank.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from aedx.exchange import expected
from aedx.settings import TAIPEI
from aedx.storage.tables import AuditEvent, Organisation, Submission

DECIDED = ("submission.accepted", "submission.rejected")
DELIVERED = "submission.delivered"
MAX_DAYS = 366


@dataclass(frozen=True)
class Volume:
    day: dt.date
    kind: str
    organisation: str
    submissions: int
    records: int
    rejected: int


@dataclass(frozen=True)
class Rate:
    kind: str
    organisation: str
    submissions: int
    rejected: int

    @property
    def rate(self) -> float:
        return self.rejected / self.submissions if self.submissions else 0.0


@dataclass(frozen=True)
class Timing:
    kind: str
    stage: str  # validation (received → decided), delivery (decided → delivered), total
    count: int
    median: float  # seconds
    p95: float


@dataclass(frozen=True)
class Figures:
    first: dt.date
    last: dt.date
    volumes: list[Volume]
    rates: list[Rate]
    timings: list[Timing]
    missing: list[tuple[str, str, dt.date]]


def bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period's days in Taipei as UTC instants, the end excluded."""
    start = dt.datetime.combine(first, dt.time(0), TAIPEI).astimezone(dt.UTC)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), TAIPEI).astimezone(dt.UTC)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    if _postgres(session):
        return func.date(func.timezone("Asia/Taipei", column))
    return func.date(column, "+8 hours")


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if _postgres(session):
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def figures(session: Session, first: dt.date, last: dt.date) -> Figures:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValueError("the period must be 1 to 366 days, first before last")
    start, end = bounds(first, last)
    within = (Submission.received_at >= start, Submission.received_at < end)
    rejected = func.sum(case((Submission.state == "rejected", 1), else_=0))
    day = _day(session, Submission.received_at).label("day")
    volumes = [
        Volume(_date(d), k, o, int(n), int(r or 0), int(x or 0))
        for d, k, o, n, r, x in session.execute(
            select(
                day, Submission.kind, Organisation.code, func.count(), func.sum(Submission.records), rejected
            )
            .join(Organisation, Organisation.id == Submission.sender_id)
            .where(*within)
            .group_by(day, Submission.kind, Organisation.code)
            .order_by(day.desc(), Submission.kind, Organisation.code)
        )
    ]
    rates = [
        Rate(k, o, int(n), int(x or 0))
        for k, o, n, x in session.execute(
            select(Submission.kind, Organisation.code, func.count(), rejected)
            .join(Organisation, Organisation.id == Submission.sender_id)
            .where(*within)
            .group_by(Submission.kind, Organisation.code)
            .order_by(Submission.kind, Organisation.code)
        )
    ]
    return Figures(
        first,
        last,
        volumes,
        rates,
        timings(session, start, end),
        expected.noticed_between(session, first, last),
    )


def timings(session: Session, start: dt.datetime, end: dt.datetime) -> list[Timing]:
    steps = (
        select(
            Submission.kind.label("kind"),
            Submission.received_at.label("received"),
            func.min(case((AuditEvent.action.in_(DECIDED), AuditEvent.at))).label("decided"),
            func.min(case((AuditEvent.action == DELIVERED, AuditEvent.at))).label("delivered"),
        )
        .join(AuditEvent, AuditEvent.submission_id == Submission.id)
        .where(
            Submission.received_at >= start,
            Submission.received_at < end,
            AuditEvent.action.in_((*DECIDED, DELIVERED)),
            AuditEvent.at >= start,  # transitions follow receipt: the index range starts there
        )
        .group_by(Submission.id, Submission.kind, Submission.received_at)
        .cte("steps")
    )
    stages = {
        "validation": (steps.c.decided, steps.c.received),
        "delivery": (steps.c.delivered, steps.c.decided),
        "total": (steps.c.delivered, steps.c.received),
    }
    durations = union_all(
        *(
            select(
                literal(stage).label("stage"),
                steps.c.kind.label("kind"),
                _seconds(session, later, earlier).label("seconds"),
            ).where(later.is_not(None), earlier.is_not(None))
            for stage, (later, earlier) in stages.items()
        )
    ).cte("durations")
    within = (durations.c.stage, durations.c.kind)
    ranked = select(
        durations.c.stage,
        durations.c.kind,
        durations.c.seconds,
        func.row_number().over(partition_by=within, order_by=durations.c.seconds).label("rn"),
        func.count().over(partition_by=within).label("n"),
    ).cte("ranked")
    rows = session.execute(
        select(
            ranked.c.stage,
            ranked.c.kind,
            func.max(ranked.c.n),
            func.min(case((ranked.c.rn >= ranked.c.n * literal(0.5), ranked.c.seconds))),
            func.min(case((ranked.c.rn >= ranked.c.n * literal(0.95), ranked.c.seconds))),
        ).group_by(ranked.c.stage, ranked.c.kind)
    )
    # to the millisecond: SQLite reckons in Julian days, a double
    found = [
        Timing(k, st, int(n), round(float(m or 0), 3), round(float(p or 0), 3)) for st, k, n, m, p in rows
    ]
    return sorted(found, key=lambda t: (t.kind, list(stages).index(t.stage)))

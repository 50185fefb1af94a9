"""Expected files: which organisation should send which kind by what time on working days.

HQ declares them (``expect``; ``aedx notify expect``), one per (organisation, kind), with the time of
day in Taipei by which the file is due (10:00 unless told). On a working day of the
government-office calendar (``aedx.workdays``: holidays are off, make-up Saturdays are working
days), once the time has passed, the file is missing when the organisation has sent no file of
the kind that day before the time, rejected files not counting. ``check`` notices each missing file once per
(organisation, kind, day) and notifies the organisation (``aedx.notify``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aedx import workdays
from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid
from aedx.kinds import KINDS
from aedx.notify import events
from aedx.settings import TAIPEI
from aedx.storage.tables import ExpectedFile, MissingFile, Organisation, Submission, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.workdays import Calendar

DEFAULT_DUE = dt.time(10, 0)


@dataclass(frozen=True)
class Missing:
    organisation_id: int
    organisation: str  # code
    kind: str
    day: dt.date
    due: dt.time


def working_day(day: dt.date, calendar: Calendar | None = None) -> bool:
    return (calendar or workdays.calendar()).is_working_day(day)


def expect(
    session: Session,
    caller: Caller,
    organisation: str,
    kind: str,
    due: dt.time = DEFAULT_DUE,
    *,
    active: bool = True,
) -> ExpectedFile:
    """Declare (or change, or with ``active=False`` withdraw) an expected file; HQ only."""
    if not (caller.is_hq and caller.may(Permission.ORGANISATIONS_MANAGE)):
        audit.by_caller(session, caller, "expected.set", outcome="denied", detail={"reason": "permission"})
        audit.refuse(session, Denied("僅署本部可設定應送檔案", "only HQ declares expected files"))
    if kind not in KINDS:
        raise Invalid(f"無此交換類別：{kind}", f"no such kind: {kind}")
    org = session.scalar(select(Organisation).where(Organisation.code == organisation))
    if org is None:
        raise Invalid(f"無此機關：{organisation}", f"no such organisation: {organisation}")
    row = session.scalar(
        select(ExpectedFile).where(ExpectedFile.organisation_id == org.id, ExpectedFile.kind == kind)
    )
    if row is None:
        row = ExpectedFile(organisation_id=org.id, kind=kind, created_at=utcnow())
        session.add(row)
    row.due_minute = due.hour * 60 + due.minute
    row.active = active
    audit.by_caller(
        session,
        caller,
        "expected.set",
        organisation_id=org.id,
        kind=kind,
        detail={"due": due.strftime("%H:%M"), "active": active},
    )
    return row


def declared(session: Session) -> list[tuple[ExpectedFile, str]]:
    return [
        (e, code)
        for e, code in session.execute(
            select(ExpectedFile, Organisation.code)
            .join(Organisation, Organisation.id == ExpectedFile.organisation_id)
            .where(ExpectedFile.active.is_(True))
            .order_by(Organisation.code, ExpectedFile.kind)
        )
    ]


def missing(session: Session, at: dt.datetime, calendar: Calendar | None = None) -> list[Missing]:
    """The expected files of ``at``'s day (Taipei) whose time has passed without them."""
    local = at.astimezone(TAIPEI)
    day = local.date()
    if not working_day(day, calendar):
        return []
    start = dt.datetime.combine(day, dt.time(0), TAIPEI)
    found = []
    for e, code in declared(session):
        due = dt.time(e.due_minute // 60, e.due_minute % 60)
        deadline = dt.datetime.combine(day, due, TAIPEI)
        if local < deadline:
            continue
        arrived = session.scalar(
            select(
                exists().where(
                    Submission.sender_id == e.organisation_id,
                    Submission.kind == e.kind,
                    Submission.received_at >= start,
                    Submission.received_at < deadline,
                    Submission.state != "rejected",
                )
            )
        )
        if not arrived:
            found.append(Missing(e.organisation_id, code, e.kind, day, due))
    return found


def check(session: Session, at: dt.datetime, calendar: Calendar | None = None) -> list[Missing]:
    """Notice the missing files of ``at``'s day not noticed before, notifying each organisation;
    returns the newly noticed ones."""
    noticed = []
    for m in missing(session, at, calendar):
        values = {"organisation_id": m.organisation_id, "kind": m.kind, "day": m.day, "noticed_at": utcnow()}
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        first = insert(MissingFile).values(**values).on_conflict_do_nothing().returning(MissingFile.id)
        if session.scalar(first) is None:  # noticed before
            continue
        params = {"kind": m.kind, "day": m.day.isoformat(), "due": m.due.strftime("%H:%M")}
        events.emit(
            session, events.Notice(events.Event.FILE_MISSING, m.organisation_id, events.DASHBOARD, params)
        )
        noticed.append(m)
    return noticed


def noticed_between(session: Session, first: dt.date, last: dt.date) -> list[tuple[str, str, dt.date]]:
    """The missing files noticed for the days ``first``..``last``: (organisation, kind, day)."""
    rows = session.execute(
        select(Organisation.code, MissingFile.kind, MissingFile.day)
        .join(Organisation, Organisation.id == MissingFile.organisation_id)
        .where(MissingFile.day >= first, MissingFile.day <= last)
        .order_by(MissingFile.day.desc(), Organisation.code, MissingFile.kind)
    )
    return [(code, kind, day) for code, kind, day in rows]

"""People's case searches and a case's history, scoped as ``cases`` scopes them: an agency finds
the cases it referred, a branch the cases it holds, HQ every case.

A search takes a part of a case number (the agency's or the branch's), an obligor's ID (through
the blind index), or a person's name with their birth date (through a second blind index of the
two together; the index holds neither). Results are paged and counted. The obligor comes back
masked unless the caller may unmask and asks to; an unmasked answer is audited with its cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from aedx.errors import Invalid, NotFound
from aedx.exchange import cases, obligors
from aedx.exchange.searching import contains
from aedx.storage.tables import Case, CaseEvent, Delivery, Organisation
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.trust.vault import Keyring

MAX_ROWS = 10_000  # an export's rows at most


@dataclass(frozen=True)
class Criteria:
    """What a person typed; every part given must match."""

    number: str = ""  # a part of the agency's or the branch's case number
    obligor_id: str = ""
    name: str = ""  # with birth_date: the obligor's full name
    birth_date: dt.date | None = None

    def given(self) -> list[str]:
        return [k for k, v in vars(self).items() if v]


@dataclass(frozen=True)
class Found:
    rows: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class CaseFile:
    """A case with its history: the referral, its receipt by the branch, each reported event."""

    case: dict[str, Any]
    received_at: dt.datetime | None  # the branch took the referral's package
    events: list[dict[str, Any]] = field(default_factory=list)


def search(
    session: Session, caller: Caller, criteria: Criteria, *, keyring: Keyring, index_key: bytes,
    unmask: bool = False, offset: int = 0, limit: int = 25,
) -> Found:  # fmt: skip
    """The caller's cases matching the criteria, newest first, and how many match in all."""
    cases.allow(session, caller, unmask=unmask)
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise Invalid(f"筆數須介於 1 至 {MAX_ROWS}", f"limit must be within 1..{MAX_ROWS}")
    stmt = _matching(cases.scoped(caller), criteria, index_key)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    found = [
        dict(row._mapping)
        for row in session.execute(stmt.order_by(Case.id.desc()).offset(offset).limit(limit))
    ]
    rows = cases.obligors_of(found, keyring, masked=not unmask)
    if unmask and rows:
        _audit_unmask(session, caller, rows, criteria.given())
    return Found(rows, total)


def _matching(stmt: Select[Any], criteria: Criteria, index_key: bytes) -> Select[Any]:
    if criteria.number:
        stmt = stmt.where(or_(contains(Case.agency_case_no, criteria.number),
                              contains(Case.branch_case_no, criteria.number)))  # fmt: skip
    if criteria.obligor_id:
        stmt = stmt.where(Case.obligor_key == cases.blind_index(criteria.obligor_id, index_key))
    if criteria.name or criteria.birth_date:
        stmt = stmt.where(Case.obligor_person_key == person_key(criteria, index_key))
    return stmt


def person_key(criteria: Criteria, index_key: bytes) -> int:
    """The blind index of a name with a birth date; both are needed (neither alone is searched:
    the index is of the two together)."""
    if not criteria.name.strip() or criteria.birth_date is None:
        raise Invalid("請同時輸入義務人姓名及出生日期", "give the obligor's name and birth date together")
    keys = obligors.person_keys(pl.Series([criteria.name]), pl.Series([criteria.birth_date]), index_key)
    return int(keys[0])


def history(
    session: Session, caller: Caller, case_id: int, *, keyring: Keyring, unmask: bool = False
) -> CaseFile:
    """One of the caller's cases with its history; any other case is 'not found'."""
    cases.allow(session, caller, unmask=unmask)
    row = session.execute(cases.scoped(caller).where(Case.id == case_id)).first()
    if row is None:
        audit.by_caller(session, caller, "case.read", outcome="denied", object_type="case",
                        object_id=str(case_id))  # fmt: skip
        audit.refuse(session, NotFound("查無此案件", "no such case"))
    case = cases.obligors_of([dict(row._mapping)], keyring, masked=not unmask)[0]
    if unmask:
        _audit_unmask(session, caller, [case], ["case"])
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.event_date, CaseEvent.id)
    )
    return CaseFile(case, _received(session, case), [_event(e) for e in events])


def _received(session: Session, case: dict[str, Any]) -> dt.datetime | None:
    taken: dt.datetime | None = session.scalar(
        select(Delivery.acknowledged_at)
        .join(Organisation, Organisation.id == Delivery.recipient_id)
        .where(Delivery.submission_id == case["submission_id"], Organisation.code == case["branch_code"])
    )
    return taken


def _event(e: CaseEvent) -> dict[str, Any]:
    return {
        "event": e.event, "event_date": e.event_date, "amount": e.amount, "close_reason": e.close_reason,
        "branch_case_no": e.branch_case_no, "officer": e.officer, "submission_id": e.submission_id,
    }  # fmt: skip


def _audit_unmask(session: Session, caller: Caller, rows: list[dict[str, Any]], used: list[str]) -> None:
    audit.by_caller(
        session, caller, "personal_data.unmask", object_type="case",
        detail={"cases": [r["id"] for r in rows], "criteria": sorted(used)},
    )  # fmt: skip

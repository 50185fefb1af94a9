"""The audit log: HQ sees every organisation's events, others their own."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from aedx.api.deps import AuditReader, PlatformDep
from aedx.api.schemas import DATE_TIME_PATTERN, ERRORS, AuditEventOut
from aedx.errors import Invalid
from aedx.trust import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERRORS)
DATE_TIME = Query(
    pattern=DATE_TIME_PATTERN,
    description="RFC 3339 date-time with its offset (2026-12-05T08:00:00+08:00)",
    json_schema_extra={"format": "date-time"},
)


def date_time(value: str | None) -> dt.datetime | None:
    """A strict RFC 3339 date-time (the pattern holds its form; this, its calendar)."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"時間 {value} 不存在", f"{value} is not a date and time that exists") from None


@router.get("", response_model=list[AuditEventOut], summary="稽核紀錄 Audit log")
def events(
    p: PlatformDep,
    caller: AuditReader,
    since: Annotated[str | None, DATE_TIME] = None,
    until: Annotated[str | None, DATE_TIME] = None,
    kind: str | None = None,
    organisation: Annotated[
        str | None, Query(description="organisation code; HQ only (403 when another names one not its own)")
    ] = None,
    submission_id: str | None = None,
    action: str | None = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="page on from this event id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    f = audit.Filter(
        date_time(since), date_time(until), kind, organisation, submission_id, action, after, limit
    )
    with p.db.transaction() as session:
        return audit.query(session, caller, f)

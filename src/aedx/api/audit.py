"""The audit log: HQ sees every organisation's events, others their own."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from aedx.api.deps import AuditReader, PlatformDep
from aedx.api.schemas import ERRORS, AuditEventOut
from aedx.trust import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERRORS)


@router.get("", response_model=list[AuditEventOut], summary="稽核紀錄 Audit log")
def events(
    p: PlatformDep,
    caller: AuditReader,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    kind: str | None = None,
    organisation: Annotated[
        str | None, Query(description="organisation code; HQ only (403 when another names one not its own)")
    ] = None,
    submission_id: str | None = None,
    action: str | None = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="page on from this event id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    f = audit.Filter(since, until, kind, organisation, submission_id, action, after, limit)
    with p.db.transaction() as session:
        return audit.query(session, caller, f)

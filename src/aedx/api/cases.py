"""The case index: an organisation's cases, with the obligor masked."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from aedx.api.deps import CasesReader, PlatformDep
from aedx.api.schemas import ERRORS, OBLIGOR_ID_PATTERN
from aedx.exchange import cases

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERRORS)


class CaseOut(BaseModel):
    id: int
    agency_code: str
    agency_case_no: str
    branch_code: str
    branch_case_no: str | None
    obligor_type: str
    obligor_id: str | None = Field(description="masked (A12****789) unless unmasked")
    obligor_name: str | None = Field(description="masked (陳○文) unless unmasked")
    masked: bool
    amount_due: int
    collected: int
    referral_date: dt.date
    due_date: dt.date
    enforcement_deadline: dt.date
    status: str
    close_reason: str | None
    last_event_date: dt.date
    submission_id: str


@router.get("", response_model=list[CaseOut], summary="案件查詢 Look up cases")
def lookup(
    p: PlatformDep,
    caller: CasesReader,
    agency_code: Annotated[str | None, Query(max_length=10)] = None,
    agency_case_no: Annotated[str | None, Query(max_length=30)] = None,
    branch_case_no: Annotated[str | None, Query(max_length=60)] = None,
    obligor_id: Annotated[
        str | None,
        Query(
            pattern=OBLIGOR_ID_PATTERN, description="the full ID, found by its keyed hash; not the masked one"
        ),
    ] = None,
    unmask: Annotated[bool, Query(description="needs personal_data.unmask; every use is audited")] = False,
    limit: Annotated[int, Query(ge=1, le=cases.MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    """An agency's referred cases, a branch's held cases, every case for HQ; newest first. The
    obligor's ID and name are masked unless ``unmask`` is asked by a caller who may."""
    with p.db.transaction() as session:
        return cases.lookup(
            session,
            caller,
            keyring=p.keyring,
            index_key=p.settings.index_key,
            agency_code=agency_code,
            agency_case_no=agency_case_no,
            branch_case_no=branch_case_no,
            obligor_id=obligor_id,
            unmask=unmask,
            limit=limit,
        )

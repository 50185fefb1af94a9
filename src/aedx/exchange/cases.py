"""Looking up cases in the case index, scoped to the caller, with the obligor masked.

An agency sees the cases it referred, a branch the cases it holds, HQ every case. An obligor is
found through the blind index (the keyed hash of the ID given), never by decrypting rows. The
obligor's ID and name come back masked unless the caller asks to unmask and holds
``personal_data.unmask``; an unmasked answer is audited with the ids of its cases, never the
values, and a refused one is audited as denied.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid
from aedx.exchange import obligors, registry
from aedx.storage.tables import Case
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.trust.vault import Keyring
from aedx.validation.masking import mask_ids, mask_names

MAX_LIMIT = 1000
SHOWN = (
    "id", "agency_code", "agency_case_no", "branch_code", "branch_case_no", "obligor_type",
    "amount_due", "collected", "referral_date", "due_date", "enforcement_deadline", "status",
    "close_reason", "last_event_date", "submission_id",
)  # fmt: skip


def lookup(
    session: Session,
    caller: Caller,
    *,
    keyring: Keyring,
    index_key: bytes,
    agency_code: str | None = None,
    agency_case_no: str | None = None,
    branch_case_no: str | None = None,
    obligor_id: str | None = None,
    unmask: bool = False,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The caller's cases matching every criterion given, newest first."""
    allow(session, caller, unmask=unmask)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"筆數須介於 1 至 {MAX_LIMIT}", f"limit must be within 1..{MAX_LIMIT}")
    stmt = scoped(caller).order_by(Case.id.desc()).limit(limit)
    if agency_code:
        stmt = stmt.where(Case.agency_code == agency_code)
    if agency_case_no:
        stmt = stmt.where(Case.agency_case_no == agency_case_no)
    if branch_case_no:
        stmt = stmt.where(Case.branch_case_no == branch_case_no)
    if obligor_id:
        stmt = stmt.where(Case.obligor_key == blind_index(obligor_id, index_key))
    found = [dict(row._mapping) for row in session.execute(stmt)]
    rows = obligors_of(found, keyring, masked=not unmask)
    if unmask:
        criteria = {
            "agency_code": agency_code, "agency_case_no": agency_case_no,
            "branch_case_no": branch_case_no, "obligor_id": obligor_id,
        }  # fmt: skip
        used = sorted(k for k, v in criteria.items() if v)
        audit.by_caller(
            session, caller, "personal_data.unmask", object_type="case",
            detail={"cases": [r["id"] for r in rows], "criteria": used},
        )  # fmt: skip
    return rows


def allow(session: Session, caller: Caller, *, unmask: bool) -> None:
    """Refused (and audited) unless the caller may read cases, and unmask when asking to."""
    if not caller.may(Permission.CASES_READ):
        audit.by_caller(session, caller, "case.read", outcome="denied", detail={"reason": "permission"})
        audit.refuse(session, Denied("您無權查詢案件", "you may not look up cases"))
    if unmask and not caller.may(Permission.PERSONAL_DATA_UNMASK):
        audit.by_caller(
            session, caller, "personal_data.unmask", outcome="denied", object_type="case",
            detail={"reason": "permission"},
        )  # fmt: skip
        audit.refuse(session, Denied("您無權檢視未遮蔽之個人資料", "you may not see personal data unmasked"))


def blind_index(obligor_id: str, index_key: bytes) -> int:
    """The obligor key of an ID, as the case index holds it."""
    normalised = obligor_id.strip().upper()
    if not normalised.isascii() or not normalised.isalnum() or not 8 <= len(normalised) <= 10:
        raise Invalid(
            "義務人身分證統一編號格式不符", "the obligor ID is not a national, resident or business ID"
        )
    key = obligors.obligor_keys(pl.Series([normalised]), index_key)[0]
    return int(key)


def scoped(caller: Caller) -> Select[Any]:
    stmt = select(*(getattr(Case, c) for c in SHOWN), Case.obligor_sealed)
    if caller.is_hq:
        return stmt
    if caller.role == "branch":
        return stmt.where(Case.branch_code == caller.code)
    return stmt.where(Case.agency_code == caller.code)


def obligors_of(found: list[dict[str, Any]], keyring: Keyring, *, masked: bool) -> list[dict[str, Any]]:
    if not found:
        return []
    frame = pl.DataFrame(found, infer_schema_length=None)
    opened = registry.open_obligors(frame.filter(pl.col("obligor_sealed").is_not_null()), keyring)
    frame = frame.join(
        opened.select("id", "obligor_id", "obligor_name"), on="id", how="left", maintain_order="left"
    )
    if masked:
        frame = frame.with_columns(
            mask_ids(pl.col("obligor_id")).alias("obligor_id"),
            mask_names(pl.col("obligor_name")).alias("obligor_name"),
        )
    return [
        {k: v for k, v in row.items() if k != "obligor_sealed"} | {"masked": masked}
        for row in frame.to_dicts()
    ]

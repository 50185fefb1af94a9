"""The case index: one row per referred case, written in bulk and looked up in bulk.

Referrals open cases; status feedback moves them (assigned, collected, pending, closed); payments
only read them. Obligors are kept as a keyed hash of their ID, never in clear.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from aedx.formats import ROW
from aedx.storage import bulk

KEY_TYPES = {"row_no": "BIGINT", "agency_code": "VARCHAR(10)", "agency_case_no": "VARCHAR(30)"}
FOUND = {
    "row_no": pl.Int64(),
    "case_id": pl.Int64(),
    "branch_code": pl.String(),
    "agency_code": pl.String(),
    "is_open": pl.Boolean(),
    "opened_by": pl.String(),
}
LOOKUP = """
SELECT k.row_no, c.id, c.branch_code, c.agency_code, c.is_open, c.submission_id
FROM case_keys k JOIN cases c ON c.agency_code = k.agency_code AND c.agency_case_no = k.agency_case_no
"""
UPDATE_TYPES = {
    "case_id": "BIGINT",
    "status": "VARCHAR(10)",
    "close_reason": "VARCHAR(12)",
    "branch_case_no": "VARCHAR(60)",
    "last_event_date": "DATE",
    "collected_add": "BIGINT",
}
APPLY_STATUS = """
UPDATE cases SET
    status = u.status,
    is_open = CASE WHEN u.status = 'CLOSED' THEN NULL ELSE TRUE END,
    close_reason = u.close_reason,
    branch_case_no = COALESCE(u.branch_case_no, cases.branch_case_no),
    last_event_date = u.last_event_date,
    collected = cases.collected + u.collected_add,
    last_submission_id = :submission
FROM status_updates u WHERE cases.id = u.case_id
"""


def lookup(session: Session, records: pl.DataFrame) -> pl.DataFrame:
    """For each record (``ROW``, agency_code, agency_case_no), its case: the open one if any, else
    the latest. Records without a case are absent from the result."""
    keys = records.select(pl.col(ROW).alias("row_no"), "agency_code", "agency_case_no").drop_nulls()
    bulk.stage(session, "case_keys", keys, KEY_TYPES)
    found = bulk.select(session, LOOKUP, FOUND).with_columns(pl.col("is_open").fill_null(False))
    return (
        found.sort(["row_no", "is_open", "case_id"], descending=[False, True, True])
        .unique("row_no", keep="first", maintain_order=True)
        .rename({"row_no": ROW})
    )


def obligor_keys(ids: pl.Series, key: bytes) -> pl.Series:
    """Keyed BLAKE2b of each obligor ID, 64 bits: the same obligor matches across files, the ID
    stays out of the index."""
    digests = b"".join(hashlib.blake2b(v.encode(), key=key, digest_size=8).digest() for v in ids.to_list())
    return pl.Series(np.frombuffer(digests, dtype=">i8").astype(np.int64))


def open_cases(session: Session, submission_id: str, routed: pl.DataFrame, key: bytes) -> int:
    """Index every referred case of an accepted referral file."""
    rows = routed.select(
        "agency_code",
        "agency_case_no",
        pl.col("#recipient").alias("branch_code"),
        obligor_keys(routed["obligor_id"], key).alias("obligor_key"),
        "obligor_type",
        pl.col("amount_due#n").alias("amount_due"),
        pl.lit(0, pl.Int64).alias("collected"),
        pl.col("referral_date#date").alias("referral_date"),
        pl.col("due_date#date").alias("due_date"),
        pl.col("enforcement_deadline#date").alias("enforcement_deadline"),
        pl.lit("REFERRED").alias("status"),
        pl.lit(True).alias("is_open"),
        pl.col("referral_date#date").alias("last_event_date"),
        pl.lit(submission_id).alias("submission_id"),
    )
    bulk.insert(session, "cases", rows)
    return rows.height


def apply_status(session: Session, submission_id: str, routed: pl.DataFrame) -> int:
    """Move each case to its latest reported status; collected amounts add up."""
    collected = pl.when(pl.col("event") == "COLLECTED").then(pl.col("amount#n")).otherwise(0)
    updates = (
        routed.sort("event_date#date", ROW)
        .group_by("#case_id", maintain_order=True)
        .agg(
            pl.col("event").last().alias("status"),
            pl.col("close_reason").last(),
            pl.col("branch_case_no").drop_nulls().last(),
            pl.col("event_date#date").last().alias("last_event_date"),
            collected.fill_null(0).sum().alias("collected_add"),
        )
        .rename({"#case_id": "case_id"})
    )
    bulk.stage(session, "status_updates", updates, UPDATE_TYPES)
    session.execute(text(APPLY_STATUS), {"submission": submission_id})
    return updates.height

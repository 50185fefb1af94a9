"""The case index: one row per referred case, written in bulk and looked up in bulk.

Referrals open cases; status feedback moves them (assigned, collected, pending, closed); payments
only read them. Obligors are found through a keyed hash of their ID (``obligors``, the blind
index); the ID and the name are sealed together (``aedx.trust.vault``), never kept in clear.
"""

from __future__ import annotations

import queue
import threading

import polars as pl
import polars.selectors as cs
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aedx.exchange import obligors
from aedx.formats import ROW
from aedx.storage import bulk
from aedx.trust.vault import SEPARATOR, Keyring

RECIPIENT = "#recipient"  # the column routing adds: who receives the record
CASE_ID = "#case_id"  # and, for case routing, the case in the index
CASE_COLUMNS = (
    "agency_code", "agency_case_no", "branch_code", "obligor_key", "obligor_type", "amount_due",
    "collected", "referral_date", "due_date", "enforcement_deadline", "status", "is_open",
    "last_event_date", "submission_id", "obligor_sealed", "data_key_version", "obligor_person_key",
)  # fmt: skip
EVENT_COLUMNS = {  # a case event: from the feedback record's column
    "case_id": CASE_ID, "event": "event", "event_date": "event_date#date", "amount": "amount#n",
    "close_reason": "close_reason", "branch_case_no": "branch_case_no", "officer": "officer",
}  # fmt: skip
OBLIGOR = b"case.obligor"  # the purpose the sealed obligor is bound to, with its row's
OBLIGOR_CONTEXT = ("agency_code", "agency_case_no", "submission_id")
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


def seal_obligors(rows: pl.DataFrame, keyring: Keyring) -> pl.DataFrame:
    """The rows with the obligor's ID and name (columns ``obligor_id``, ``obligor_name``) sealed
    into ``obligor_sealed`` in their place, bound to each row's case and referral."""
    plain = rows.select(pl.concat_str(["obligor_id", "obligor_name"], separator=SEPARATOR)).to_series()
    contexts = rows.select(pl.concat_str(OBLIGOR_CONTEXT, separator=SEPARATOR)).to_series()
    return rows.drop("obligor_id", "obligor_name").with_columns(
        keyring.seal_column(plain, contexts, OBLIGOR).alias("obligor_sealed"),
        pl.lit(keyring.current, pl.Int16).alias("data_key_version"),
    )


def open_obligors(rows: pl.DataFrame, keyring: Keyring) -> pl.DataFrame:
    """``obligor_id`` and ``obligor_name`` of rows read with ``obligor_sealed`` and their context."""
    contexts = rows.select(pl.concat_str(OBLIGOR_CONTEXT, separator=SEPARATOR)).to_series()
    both = keyring.open_column(rows["obligor_sealed"].cast(pl.String), contexts, OBLIGOR).str.split_exact(
        SEPARATOR, 1
    )
    return rows.with_columns(
        both.struct.field("field_0").alias("obligor_id"), both.struct.field("field_1").alias("obligor_name")
    )


def case_rows(submission_id: str, routed: pl.DataFrame, key: bytes, keyring: Keyring) -> pl.DataFrame:
    """The index rows of referred cases; records missing a part the index needs are left out
    (they carry error findings, so their file is rejected)."""
    rows = routed.select(
        "agency_code",
        "agency_case_no",
        pl.col(RECIPIENT).alias("branch_code"),
        obligors.obligor_keys(routed["obligor_id"], key).alias("obligor_key"),
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
        "obligor_id",
        "obligor_name",
        obligors.person_keys(routed["obligor_name"], routed["obligor_birth_date#date"], key).alias(
            "obligor_person_key"
        ),
    ).drop_nulls(cs.exclude("obligor_person_key"))  # a company has no person key
    return seal_obligors(rows, keyring)


def open_cases(
    session: Session, submission_id: str, routed: pl.DataFrame, key: bytes, keyring: Keyring
) -> int:
    """Index every referred case of an accepted referral file."""
    rows = case_rows(submission_id, routed, key, keyring)
    bulk.insert(session, "cases", rows)
    return rows.height


class CaseStream:
    """Referred cases written while their file is still being validated: batches go to one COPY
    on a thread of its own, in the caller's transaction, which commits them only if the file is
    accepted. A case already open stops the stream and is reported by ``close``."""

    def __init__(
        self, session: Session, submission_id: str, key: bytes, keyring: Keyring, recipient: pl.Expr
    ) -> None:
        self.session = session
        self.submission_id = submission_id
        self.key = key
        self.keyring = keyring
        self.recipient = recipient
        self.queue: queue.Queue[pl.DataFrame | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="aedx-case-stream", daemon=True)
        self.thread.start()

    def put(self, batch: pl.DataFrame) -> None:
        if self.error is None:
            self.queue.put(batch)

    def _run(self) -> None:
        ended = False
        try:
            with bulk.copy_in(self.session, "cases", CASE_COLUMNS) as write:
                while (batch := self.queue.get()) is not None:
                    routed = batch.with_columns(self.recipient.alias(RECIPIENT))
                    write(case_rows(self.submission_id, routed, self.key, self.keyring))
                ended = True
        except BaseException as e:  # handed to the caller by close()
            self.error = e
            while not ended and self.queue.get() is not None:  # let the producer finish
                pass

    def close(self) -> bool:
        """Wait for the stream; False when a case was already open (or repeated in the file)."""
        self.queue.put(None)
        self.thread.join()
        if isinstance(self.error, IntegrityError):
            return False
        if self.error is not None:
            raise self.error
        return True


def apply_status(session: Session, submission_id: str, routed: pl.DataFrame) -> int:
    """Move each case to its latest reported status; collected amounts add up."""
    collected = pl.when(pl.col("event") == "COLLECTED").then(pl.col("amount#n")).otherwise(0)
    updates = (
        routed.sort("event_date#date", ROW)
        .group_by(CASE_ID, maintain_order=True)
        .agg(
            pl.col("event").last().alias("status"),
            pl.col("close_reason").last(),
            pl.col("branch_case_no").drop_nulls().last(),
            pl.col("event_date#date").last().alias("last_event_date"),
            collected.fill_null(0).sum().alias("collected_add"),
        )
        .rename({CASE_ID: "case_id"})
    )
    bulk.stage(session, "status_updates", updates, UPDATE_TYPES)
    session.execute(text(APPLY_STATUS), {"submission": submission_id})
    record_events(session, submission_id, routed)
    return updates.height


def record_events(session: Session, submission_id: str, routed: pl.DataFrame) -> None:
    """Keep each reported event as the case's history (the case index keeps only the latest)."""
    events = routed.filter(pl.col(CASE_ID).is_not_null()).select(
        *(pl.col(source).alias(name) for name, source in EVENT_COLUMNS.items()),
        pl.lit(submission_id).alias("submission_id"),
    )
    bulk.insert(session, "case_events", events)

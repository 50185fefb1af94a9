"""The branch system: imports deliveries, assigns case numbers and officers, reports status."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl

from aedx import refdata
from aedx.kinds import get_kind
from aedx.sim import people
from aedx.sim.branch import lifecycle, numbers
from aedx.sim.branch.store import connect, get_meta, set_meta, transaction
from aedx.validation.dates import ROC_OFFSET, format_roc, parse_roc

OFFICERS = 12
TRUTH = (
    "agency_code", "agency_case_no", "branch_case_no", "status", "collected", "paid_to_agency",
    "amount_due", "close_reason", "is_open", "received",
)  # fmt: skip


class BranchSystem:
    """One branch's case-management system on its own database file (``CaseSystem``)."""

    def __init__(self, path: Path, code: str, *, seed: int = 0) -> None:
        self.branch = next(b for b in refdata.branches() if b.code == code)
        self.conn = connect(path)
        self.day = dt.date.today()
        with transaction(self.conn):
            known = get_meta(self.conn, "branch")
            if known is not None and known != code:
                raise ValueError(f"{path} is the database of branch {known}, not {code}")
            if known is None:
                set_meta(self.conn, "branch", code)
                set_meta(self.conn, "seed", str(seed))
                self._hire(seed)
        self.seed = int(get_meta(self.conn, "seed") or 0)

    def close(self) -> None:
        self.conn.close()

    def _hire(self, seed: int) -> None:
        rng = np.random.default_rng([seed, sum(self.branch.code.encode())])
        names = people.person_names(rng, OFFICERS, big5_only=True)
        for i, name in enumerate(names):
            self.conn.execute(
                "INSERT INTO officers (name, section) VALUES (?, ?)",
                (str(name), numbers.SECTIONS[i % len(numbers.SECTIONS)]),
            )

    # -- CaseSystem ---------------------------------------------------------------------------

    def accepts(self) -> tuple[str, ...]:
        return ("case_referral", "payment")

    def imported(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM imported WHERE name = ?", (name,)).fetchone() is not None

    def take(self, name: str, kind: str, records: pl.DataFrame) -> int:
        with transaction(self.conn):
            if self.imported(name):
                return 0
            rng = random.Random(f"{self.seed}|{self.branch.code}|{name}")
            for record in records.iter_rows(named=True):
                if kind == "case_referral":
                    self.receive(record, rng, name)
                else:
                    lifecycle.agency_payment(self.conn, record, self.day, name)
            self.conn.execute(
                "INSERT INTO imported (name, kind, records, day) VALUES (?, ?, ?, ?)",
                (name, kind, records.height, self.day.isoformat()),
            )
        return records.height

    def receive(self, r: dict[str, str | None], rng: random.Random, source: str) -> int:
        """收案、分案: a new case gets a branch case number and an officer; the agency is told."""
        officers = self.conn.execute("SELECT id, section FROM officers ORDER BY id").fetchall()
        officer = officers[rng.randrange(len(officers))]
        due = int(r["amount_due"] or 0)
        kind = numbers.case_type(r["debt_category"] or "", r["debt_type"] or "", due)
        year = self.day.year - ROC_OFFSET
        row = self.conn.execute(
            "INSERT INTO serials (roc_year, case_type, last) VALUES (?, ?, 1)"
            " ON CONFLICT (roc_year, case_type) DO UPDATE SET last = last + 1 RETURNING last",
            (year, kind),
        ).fetchone()
        no = numbers.branch_case_no(self.branch.abbreviation, officer["section"], self.day, kind, row["last"])
        deadline = parse_roc(r["enforcement_deadline"] or "") or self.day
        day = self.day.isoformat()
        case_id = self.conn.execute(
            "INSERT INTO cases (agency_code, agency_case_no, branch_case_no, officer_id, obligor_id,"
            " debt_category, debt_type, amount_due, received, enforcement_deadline, stage, stage_day,"
            " status, is_open, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'assigned', ?, 'ASSIGNED', 1, ?)"
            " RETURNING id",
            (
                r["agency_code"], r["agency_case_no"], no, officer["id"], r["obligor_id"],
                r["debt_category"], r["debt_type"], due, day, deadline.isoformat(), day, source,
            ),
        ).fetchone()["id"]  # fmt: skip
        lifecycle.record(self.conn, case_id, "ASSIGNED", self.day)
        return int(case_id)

    def pending_files(self) -> list[tuple[str, str, pl.DataFrame]]:
        with transaction(self.conn):
            if self.conn.execute("SELECT 1 FROM events WHERE batch IS NULL LIMIT 1").fetchone():
                n = self.conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0] + 1
                stem = f"status_feedback-{self.branch.code}-{self.day:%Y%m%d}-{n:05d}"
                batch = self.conn.execute(
                    "INSERT INTO batches (day, stem) VALUES (?, ?) RETURNING id", (self.day.isoformat(), stem)
                ).fetchone()["id"]
                self.conn.execute("UPDATE events SET batch = ? WHERE batch IS NULL", (batch,))
        batches = self.conn.execute("SELECT id, stem FROM batches WHERE written = 0 ORDER BY id").fetchall()
        return [(b["stem"], "status_feedback", self.feedback(b["id"])) for b in batches]

    def written(self, stem: str) -> None:
        with transaction(self.conn):
            self.conn.execute("UPDATE batches SET written = 1 WHERE stem = ?", (stem,))

    # -- reading --------------------------------------------------------------------------------

    def feedback(self, batch: int) -> pl.DataFrame:
        """The status_feedback records of one batch, in the order they happened."""
        rows = self.conn.execute(
            "SELECT c.branch_case_no, c.agency_code, c.agency_case_no, e.event, e.event_date, e.amount,"
            " e.close_reason, o.name AS officer FROM events e JOIN cases c ON c.id = e.case_id"
            " JOIN officers o ON o.id = c.officer_id WHERE e.batch = ? ORDER BY e.id",
            (batch,),
        ).fetchall()
        records = [
            {
                "branch_code": self.branch.code,
                "branch_case_no": r["branch_case_no"],
                "agency_code": r["agency_code"],
                "agency_case_no": r["agency_case_no"],
                "event": r["event"],
                "event_date": format_roc(dt.date.fromisoformat(r["event_date"])),
                "amount": None if r["amount"] is None else str(r["amount"]),
                "close_reason": r["close_reason"],
                "officer": r["officer"],
            }
            for r in rows
        ]
        return pl.DataFrame(records, schema={n: pl.String for n in get_kind("status_feedback").names})

    def cases(self) -> pl.DataFrame:
        """The system's own truth per case."""
        rows = self.conn.execute(
            "SELECT agency_code, agency_case_no, branch_case_no, status, collected, paid_to_agency,"
            " amount_due, close_reason, is_open, received FROM cases ORDER BY id"
        ).fetchall()
        schema = {n: pl.Int64 if n in ("collected", "paid_to_agency", "amount_due", "is_open") else pl.String
                  for n in TRUTH}  # fmt: skip
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def events(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM events ORDER BY id").fetchall()

    def advance(self, day: dt.date) -> int:
        """Play one day of enforcement on every open case; returns the events it made. A day is
        played once: running it again (after a crash, or by mistake) changes nothing."""
        with transaction(self.conn):
            played = get_meta(self.conn, "played")
            if played is not None and day <= dt.date.fromisoformat(played):
                return 0
            set_meta(self.conn, "played", day.isoformat())
            return lifecycle.play_day(self.conn, day, random.Random(f"{self.seed}|{self.branch.code}|{day}"))

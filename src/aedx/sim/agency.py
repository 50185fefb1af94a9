"""The reference agency: each day it refers new cases and sends the payments it received for its
earlier cases into its outbox, now and then a file with mistakes (rejected by the platform with
its report), and reads the status feedback in its inbox into its own view of its cases, and what the
exchange client filed under ``rejected/``: the cases of a rejected referral file are marked rejected
(退件), to be corrected and referred again.

Its database (SQLite, its own file) keeps each case as the agency knows it: referred, then what
the branch reported (branch, branch case number, status, collected), and the payments it took
itself. A day is produced once: the day's files and its record of them are kept together.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from aedx.client.exchange import RECEIPT, REFUSAL, REPORT
from aedx.formats import Format
from aedx.kinds import get_kind
from aedx.sim.adapter import EXTENSIONS, FolderAdapter, encode_file, read_delivery, records_of, write_durably
from aedx.sim.branch.store import get_meta, set_meta, transaction
from aedx.sim.generate import Request, generate
from aedx.sim.records import MAKERS, Setting
from aedx.validation.dates import format_roc

DATABASE = "agency.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, referrals INTEGER, payments INTEGER, mistakes INTEGER);
CREATE TABLE IF NOT EXISTS imported (name TEXT PRIMARY KEY, records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejections (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, records INTEGER NOT NULL, findings INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    agency_case_no TEXT PRIMARY KEY, obligor_id TEXT NOT NULL, amount_due INTEGER NOT NULL,
    referred_on TEXT NOT NULL, branch_code TEXT, branch_case_no TEXT, status TEXT NOT NULL,
    close_reason TEXT, collected INTEGER NOT NULL DEFAULT 0, paid_here INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payments (
    receipt_no TEXT PRIMARY KEY, agency_case_no TEXT NOT NULL, day TEXT NOT NULL, amount INTEGER NOT NULL
);
"""
CVS_LIMIT = 20_000
ATTACHED = (RECEIPT, REPORT, REFUSAL)  # beside each file the exchange client filed


@dataclass(frozen=True)
class AgencyDay:
    day: dt.date
    referrals: int
    payments: int
    mistakes: int
    feedback: int
    rejected: int  # files the exchange client filed under rejected/, newly read


class AgencySystem:
    """One agency's own records (``CaseSystem`` for its inbox of status feedback)."""

    def __init__(
        self,
        folder: Path,
        code: str,
        *,
        seed: int = 0,
        volume: int = 40,
        fmt: Format = Format.CSV,
        encoding: str = "utf-8",
    ) -> None:
        """``fmt`` and ``encoding``: how the agency's own system writes its files."""
        self.code = code
        self.format = fmt
        self.encoding = encoding
        self.big5_only = encoding != "utf-8"
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(folder / DATABASE, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)
        with transaction(self.conn):
            if get_meta(self.conn, "agency") is None:
                set_meta(self.conn, "agency", code)
                set_meta(self.conn, "seed", str(seed))
                set_meta(self.conn, "next_case", "1")
        if get_meta(self.conn, "agency") != code:
            raise ValueError(f"{folder} holds agency {get_meta(self.conn, 'agency')}, not {code}")
        self.seed = int(get_meta(self.conn, "seed") or 0)
        self.volume = volume
        self.adapter = FolderAdapter(self, folder / "inbox", folder / "outbox")

    def close(self) -> None:
        self.conn.close()

    # -- the inbox: status feedback -------------------------------------------------------------

    def accepts(self) -> tuple[str, ...]:
        return ("status_feedback",)

    def imported(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM imported WHERE name = ?", (name,)).fetchone() is not None

    def take(self, name: str, kind: str, records: pl.DataFrame) -> int:
        with transaction(self.conn):
            if self.imported(name):
                return 0
            for r in records.iter_rows(named=True):
                amount = int(r["amount"]) if r["event"] == "COLLECTED" and r["amount"] else 0
                self.conn.execute(
                    "UPDATE cases SET branch_code = ?, branch_case_no = ?, status = ?, close_reason = ?,"
                    " collected = collected + ? WHERE agency_case_no = ?",
                    (r["branch_code"], r["branch_case_no"], r["event"], r["close_reason"], amount,
                     r["agency_case_no"]),
                )  # fmt: skip
            self.conn.execute("INSERT INTO imported (name, records) VALUES (?, ?)", (name, records.height))
        return records.height

    def pending_files(self) -> list[tuple[str, str, pl.DataFrame]]:
        return []  # the day's files are written by ``produce``

    def written(self, stem: str) -> None:
        pass

    # -- rejected files ---------------------------------------------------------------------------

    def note_rejections(self, folder: Path) -> int:
        """Read what the exchange client filed under ``folder`` (``rejected/``): each file with the
        platform's report (``NAME.report.csv``) or its refusal (``NAME.refused.txt``) is noted once;
        the cases of a rejected referral file (matched by case number and obligor) become
        ``REJECTED``. Returns the files newly noted."""
        if not folder.exists():
            return 0
        noted = 0
        for path in sorted(folder.iterdir()):
            report, refusal = (path.with_name(path.name + s) for s in (REPORT, REFUSAL))
            filed = report.exists() or refusal.exists()
            if not path.is_file() or path.name.endswith(ATTACHED) or not filed:
                continue
            if self.conn.execute("SELECT 1 FROM rejections WHERE name = ?", (path.name,)).fetchone():
                continue
            delivery = read_delivery(path, ("case_referral", "payment"))
            records = records_of(delivery)
            if report.exists():
                lines = csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig", errors="replace")))
                findings, reason = max(0, sum(1 for _ in lines) - 1), "rejected"
            else:
                findings, reason = 0, refusal.read_text(encoding="utf-8", errors="replace").strip()[:500]
            with transaction(self.conn):
                if delivery.kind.name == "case_referral":
                    self.conn.executemany(
                        "UPDATE cases SET status = 'REJECTED' WHERE agency_case_no = ? AND obligor_id = ?"
                        " AND status = 'REFERRED'",
                        records.select("agency_case_no", "obligor_id").iter_rows(),
                    )
                self.conn.execute(
                    "INSERT INTO rejections (name, kind, records, findings, reason) VALUES (?, ?, ?, ?, ?)",
                    (path.name, delivery.kind.name, records.height, findings, reason),
                )
            noted += 1
        return noted

    def rejections(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM rejections ORDER BY name").fetchall()

    # -- the outbox: referrals and payments -----------------------------------------------------

    def produce(self, day: dt.date, *, mistake_rate: float = 0.1) -> tuple[int, int, int]:
        """The day's referral and payment files (once a day); returns referrals, payments, mistakes."""
        if self.conn.execute("SELECT 1 FROM days WHERE day = ?", (day.isoformat(),)).fetchone():
            return 0, 0, 0
        rng = np.random.default_rng([self.seed, day.toordinal(), sum(self.code.encode())])
        rnd = random.Random(f"{self.seed}|{self.code}|{day}")
        outbox = self.folder / "outbox"
        stamp = f"{self.code}-{day:%Y%m%d}"
        n = max(5, int(rng.lognormal(np.log(self.volume), 0.5)))
        kind = get_kind("case_referral")
        first = int(get_meta(self.conn, "next_case") or 1)
        frame = MAKERS[kind.name](kind, rng, first, n, Setting(day, self.code, big5_only=self.big5_only))
        frame = pl.concat([frame, self._re_referrals(day, rng, rnd)])
        mistakes = 0
        if rnd.random() < mistake_rate:  # a file with mistakes: the platform rejects it whole
            request = Request(
                kind, max(50, n), self.format.value, self.encoding, error_rate=0.05,
                seed=rnd.randrange(1 << 30), today=day, sender=self.code, control=True,
            )  # fmt: skip
            data = b"".join(p.data for p in generate(request))
            write_durably(outbox, f"case_referral-{stamp}-x.{self.extension}", data)
            mistakes = request.records
        paid = self._payments(day, rnd)
        write_durably(outbox, f"case_referral-{stamp}.{self.extension}", self._encode(frame, kind.name))
        if paid.height:
            write_durably(outbox, f"payment-{stamp}.{self.extension}", self._encode(paid, "payment"))
        with transaction(self.conn):
            for r in frame.iter_rows(named=True):
                self.conn.execute(
                    "INSERT INTO cases (agency_case_no, obligor_id, amount_due, referred_on, status)"
                    " VALUES (?, ?, ?, ?, 'REFERRED') ON CONFLICT (agency_case_no) DO UPDATE SET"
                    " obligor_id = excluded.obligor_id, amount_due = excluded.amount_due,"
                    " referred_on = excluded.referred_on, status = 'REFERRED', close_reason = NULL,"
                    " branch_code = NULL, branch_case_no = NULL, collected = 0, paid_here = 0",
                    (r["agency_case_no"], r["obligor_id"], int(r["amount_due"]), day.isoformat()),
                )
            for r in paid.iter_rows(named=True):
                self.conn.execute(
                    "INSERT INTO payments (receipt_no, agency_case_no, day, amount) VALUES (?, ?, ?, ?)",
                    (r["receipt_no"], r["agency_case_no"], day.isoformat(), int(r["paid_amount"])),
                )
                self.conn.execute(
                    "UPDATE cases SET paid_here = paid_here + ? WHERE agency_case_no = ?",
                    (int(r["paid_amount"]), r["agency_case_no"]),
                )
            set_meta(self.conn, "next_case", str(first + n))
            self.conn.execute(
                "INSERT INTO days (day, referrals, payments, mistakes) VALUES (?, ?, ?, ?)",
                (day.isoformat(), n, paid.height, mistakes),
            )
        return n, paid.height, mistakes

    def _re_referrals(self, day: dt.date, rng: np.random.Generator, rnd: random.Random) -> pl.DataFrame:
        """執行憑證再移送: cases closed with an execution certificate, referred again now and then
        for what is still owed (assets have been found)."""
        closed = self.conn.execute(
            "SELECT * FROM cases WHERE status = 'CLOSED' AND close_reason = 'CERTIFICATE'"
            " ORDER BY agency_case_no"
        ).fetchall()
        again = [c for c in closed if rnd.random() < 0.3]
        kind = get_kind("case_referral")
        if not again:
            return pl.DataFrame(schema={n: pl.String for n in kind.names})
        frame = MAKERS[kind.name](kind, rng, 1, len(again), Setting(day, self.code, big5_only=self.big5_only))
        left = [str(c["amount_due"] - c["collected"] - c["paid_here"]) for c in again]
        return frame.with_columns(
            pl.Series("agency_case_no", [c["agency_case_no"] for c in again], pl.String),
            pl.Series("principal", left, pl.String),
            pl.Series("amount_due", left, pl.String),
            pl.lit("0").alias("interest"),
            pl.lit("0").alias("late_fee"),
            pl.lit("Y").alias("re_referral"),
        )

    def _payments(self, day: dt.date, rnd: random.Random) -> pl.DataFrame:
        """Payments obligors made here, for cases the branch has taken and not closed."""
        open_cases = self.conn.execute(
            "SELECT * FROM cases WHERE status NOT IN ('REFERRED', 'REJECTED', 'CLOSED')"
            " AND amount_due > collected + paid_here ORDER BY agency_case_no"
        ).fetchall()
        rows: list[dict[str, str]] = []
        for case in open_cases:
            if rnd.random() >= 0.03:
                continue
            left = case["amount_due"] - case["collected"] - case["paid_here"]
            channel = rnd.choice(["AGENCY_COUNTER", "BANK", "POST", "CVS"])
            amount = left if rnd.random() < 0.4 else max(1, int(left * rnd.uniform(0.1, 0.7)))
            if channel == "CVS":
                amount = min(amount, CVS_LIMIT)
            rows.append({
                "agency_code": self.code, "agency_case_no": case["agency_case_no"],
                "obligor_id": case["obligor_id"], "receipt_no": f"R{day:%Y%m%d}{len(rows) + 1:06d}",
                "paid_date": format_roc(day), "paid_amount": str(amount), "channel": channel,
                "full_payment": "Y" if amount == left else "N", "remaining_amount": str(left - amount),
            })  # fmt: skip
        return pl.DataFrame(rows, schema={n: pl.String for n in get_kind("payment").names})

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    def _encode(self, frame: pl.DataFrame, kind: str) -> bytes:
        return encode_file(frame, get_kind(kind), self.format, self.encoding)

    def cases(self) -> pl.DataFrame:
        rows = self.conn.execute("SELECT * FROM cases ORDER BY agency_case_no").fetchall()
        return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def run_days(folder: Path, code: str, first: dt.date, days: int = 1, *, seed: int = 0,
             volume: int = 40, mistake_rate: float = 0.1, fmt: Format = Format.CSV,
             encoding: str = "utf-8") -> list[AgencyDay]:  # fmt: skip
    """Each day: read the feedback that came in and the files that were rejected, then write the
    day's referrals and payments."""
    agency = AgencySystem(folder, code, seed=seed, volume=volume, fmt=fmt, encoding=encoding)
    done = []
    try:
        for i in range(days):
            day = first + dt.timedelta(days=i)
            feedback = agency.adapter.import_inbox()
            rejected = agency.note_rejections(folder / "rejected")
            referrals, payments, mistakes = agency.produce(day, mistake_rate=mistake_rate)
            done.append(AgencyDay(day, referrals, payments, mistakes, feedback, rejected))
    finally:
        agency.close()
    return done

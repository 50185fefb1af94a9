"""``aedx demo`` (what ``make run`` starts): the agencies' and the 13 branches' servers, each its
reference system with aedx-client, exchange a scaled-down national day through the platform on
their own; a second run of the same days only exchanges what still waits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select
from tests.client.support import free_port
from typer.testing import CliRunner

from aedx import refdata
from aedx.cli import app
from aedx.exchange.platform import Platform
from aedx.settings import Settings
from aedx.sim.agencies import DEMO_AGENCIES_CSV
from aedx.storage.tables import Case


def count(database: Path, sql: str) -> int:
    conn = sqlite3.connect(database)
    try:
        return int(conn.execute(sql).fetchone()[0] or 0)
    finally:
        conn.close()


@pytest.mark.slow
def test_the_demonstration_days_flow_through_every_branch_on_their_own(tmp_path: Path) -> None:
    run = ["demo", "--days", "1", "--cases", "600", "--data-dir", str(tmp_path), "--port", str(free_port())]
    result = CliRunner().invoke(app, run)
    assert result.exit_code == 0, result.output
    offices = tmp_path / "offices"
    agencies = pl.read_csv(DEMO_AGENCIES_CSV.encode()).filter(pl.col("role") == "agency")["code"]
    branch_cases = {
        b.code: count(offices / b.code / "branch.db", "SELECT COUNT(*) FROM cases")
        for b in refdata.branches()
    }
    assert all(n > 0 for n in branch_cases.values()), branch_cases  # every branch took cases
    for b in refdata.branches():  # and its status feedback was delivered, with the receipt
        assert list((offices / b.code / "sent").glob("status_feedback-*.csv.receipt.p7s"))
    for code in agencies:  # each agency referred, and read the feedback of its cases
        folder = offices / code
        assert list((folder / "sent").glob("case_referral-*.receipt.p7s")), code
        assert count(folder / "agency.db", "SELECT COUNT(*) FROM imported") > 0, code
        assert not [p for p in (folder / "outbox").iterdir() if p.is_file()], code
    noted = sum(count(offices / c / "agency.db", "SELECT COUNT(*) FROM rejections") for c in agencies)
    rejected = [p for c in agencies for p in (offices / c / "rejected").glob("*.report.csv")]
    assert noted == len(rejected)

    platform = Platform(Settings.from_env(tmp_path, None))
    try:
        with platform.db.transaction() as session:
            indexed = dict(
                session.execute(select(Case.branch_code, func.count()).group_by(Case.branch_code)).all()
            )
    finally:
        platform.close()
    assert indexed == branch_cases  # the case index holds what the branches' own systems hold

    again = CliRunner().invoke(app, run)
    assert again.exit_code == 0, again.output
    assert "referrals 0, payments 0, status events 0; files delivered 0" in again.output

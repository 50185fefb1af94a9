"""What the reference loop's tests compare: the platform's case index against the branch systems'
own databases case by case, and the agency's view against both."""

from __future__ import annotations

import polars as pl
from tests.exchange.hub import Hub

from aedx.sim.agency import AgencySystem
from aedx.sim.branch.system import BranchSystem


def compare(hub: Hub, agency: AgencySystem, branches: dict[str, BranchSystem]) -> pl.DataFrame:
    """The case index against the branches' own databases, case by case, and the agency's view
    against each case's latest referral; returns the branches' truth."""
    truth = pl.concat([b.cases().with_columns(pl.lit(c).alias("branch_code")) for c, b in branches.items()])
    columns = ["agency_code", "agency_case_no", "branch_code", "branch_case_no", "status", "collected",
               "close_reason"]  # fmt: skip
    key = ["agency_code", "agency_case_no", "branch_case_no"]
    index = hub.cases().select(columns).sort(key)
    assert index.to_dicts() == truth.select(columns).sort(key).to_dicts()

    latest = truth.sort("received").unique("agency_case_no", keep="last")
    seen = agency.cases().filter(pl.col("status") != "REFERRED")
    mine = latest.join(seen, on="agency_case_no", suffix="_agency")
    assert mine.height == latest.height
    assert (mine["status"] == mine["status_agency"]).all()
    assert (mine["collected"] == mine["collected_agency"]).all()
    assert (mine["branch_case_no"] == mine["branch_case_no_agency"]).all()
    paid = sum(
        b.conn.execute("SELECT SUM(paid_to_agency) FROM cases").fetchone()[0] or 0 for b in branches.values()
    )
    assert paid > 0  # payments the agency took reached the branches
    return truth

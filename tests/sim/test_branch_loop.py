"""The reference loop through the platform: agency → platform → branches → platform → agency for
several simulated days; the case index then agrees with the branches' own databases case by case,
and the agency's view with both. Files move between folders and the API as the exchange client
moves them (upload from the outbox, download into the inbox, acknowledge after the write)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from tests.builders import TODAY
from tests.exchange.hub import Hub

from aedx import refdata
from aedx.exchange.delivery import EXTENSIONS
from aedx.sim.adapter import FORMATS, PART, write_durably
from aedx.sim.agency import AgencySystem
from aedx.sim.branch.run import DATABASE, adapter_for, run_day
from aedx.sim.branch.system import BranchSystem

AGENCY = "A383000000"
DAYS = 6


def push(hub: Hub, org: str, folder: Path) -> list[str]:
    """Upload each complete outbox file and move it to sent/."""
    ids = []
    sent = folder / "sent"
    sent.mkdir(parents=True, exist_ok=True)
    (folder / "outbox").mkdir(exist_ok=True)
    for path in sorted((folder / "outbox").iterdir()):
        if path.name.endswith(PART):
            continue
        kind = path.name.split("-")[0]
        fmt = FORMATS[path.suffix.lstrip(".")].value
        response = hub.upload(org, kind, path.read_bytes(), fmt=fmt, key=f"{org}-{path.name}")
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
        path.replace(sent / path.name)
    return ids


def pull(hub: Hub, org: str, folder: Path) -> int:
    """Download each waiting package into the inbox, then acknowledge it."""
    waiting = hub.inbox(org)
    for d in waiting:
        response = hub.get(org, f"/api/v1/deliveries/{d['id']}/content")
        assert response.status_code == 200, response.text
        write_durably(
            folder / "inbox", f"{d['id']}.{EXTENSIONS[d['format']]}", hub.open(org, response.content)
        )
        assert hub.post(org, f"/api/v1/deliveries/{d['id']}/ack").status_code == 200
    return len(waiting)


def states(hub: Hub, org: str, ids: list[str]) -> list[str]:
    return [hub.get(org, f"/api/v1/submissions/{i}").json()["state"] for i in ids]


@pytest.mark.slow
def test_the_reference_loop_agrees_with_the_case_index_case_by_case(
    database_url: str, tmp_path: Path
) -> None:
    hub = Hub(database_url, tmp_path / "platform")
    agency = AgencySystem(tmp_path / AGENCY, AGENCY, seed=3, volume=30)
    codes = [b.code for b in refdata.branches()]
    branches = {c: BranchSystem(tmp_path / c / DATABASE, c, seed=5) for c in codes}
    try:
        first = TODAY - dt.timedelta(days=DAYS - 1)
        for i in range(DAYS):
            day = first + dt.timedelta(days=i)
            agency.adapter.import_inbox()
            agency.produce(day, mistake_rate=0.3)
            sent = push(hub, AGENCY, tmp_path / AGENCY)
            hub.worker.drain()
            assert "delivered" in states(hub, AGENCY, sent) or "acknowledged" in states(hub, AGENCY, sent)
            feedback: list[tuple[str, str]] = []
            for code, branch in branches.items():
                pull(hub, code, tmp_path / code)
                run_day(branch, adapter_for(tmp_path / code, branch), day)
                feedback += [(code, s) for s in push(hub, code, tmp_path / code)]
            hub.worker.drain()
            for code, sid in feedback:  # every status file the branches sent is accepted
                assert states(hub, code, [sid]) != ["rejected"], hub.codes(code, sid)
            pull(hub, AGENCY, tmp_path / AGENCY)
        agency.adapter.import_inbox()

        truth = pl.concat(
            [b.cases().with_columns(pl.lit(c).alias("branch_code")) for c, b in branches.items()]
        )
        index = hub.cases().select(
            "agency_code",
            "agency_case_no",
            "branch_code",
            "branch_case_no",
            "status",
            "collected",
            "close_reason",
        )
        assert truth.height > 100
        assert truth["branch_code"].n_unique() >= 8  # referrals reach most of the island
        columns = ["agency_code", "agency_case_no", "branch_code", "branch_case_no", "status", "collected",
                   "close_reason"]  # fmt: skip
        key = ["agency_code", "agency_case_no"]
        assert index.sort(key).select(columns).to_dicts() == truth.sort(key).select(columns).to_dicts()
        assert set(truth["status"]) >= {"CLOSED", "PENDING", "COLLECTED"}

        seen = agency.cases().filter(pl.col("status") != "REFERRED")  # the agency's own view
        mine = truth.join(seen, on="agency_case_no", suffix="_agency")
        assert mine.height == truth.height
        assert (mine["status"] == mine["status_agency"]).all()
        assert (mine["collected"] == mine["collected_agency"]).all()
        assert (mine["branch_case_no"] == mine["branch_case_no_agency"]).all()
        paid = sum(
            b.conn.execute("SELECT SUM(paid_to_agency) FROM cases").fetchone()[0] or 0
            for b in branches.values()
        )
        assert paid > 0  # payments the agency took reached the branches
    finally:
        agency.close()
        for b in branches.values():
            b.close()
        hub.close()

"""The reference loop with the systems stopped mid-day: agency → platform → branches → platform →
agency for several simulated days on both databases, two branch systems stopping once after an
import and after writing their feedback, then running the day again; the case index then agrees
with the branches' own databases case by case, and the agency's view with both. Files move between
folders and the API step by step, as the exchange client moves them (``test_network.py`` runs the
month with the client itself)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import update
from tests.builders import TODAY
from tests.exchange.hub import Hub
from tests.sim.loops import compare

from aedx import refdata
from aedx.exchange.delivery import EXTENSIONS
from aedx.sim.adapter import FORMATS, PART, FolderAdapter, write_durably
from aedx.sim.agency import AgencySystem
from aedx.sim.branch.run import DATABASE, adapter_for, run_day
from aedx.sim.branch.system import BranchSystem
from aedx.storage.tables import Organisation

AGENCY = "A383000000"
PREFERENCES = [("tpy", "fixed", "cp950"), ("pcy", "jsonl", "utf-8"), ("ksy", "csv", "cp950"),
               ("tcy", "fixed", "utf-8"), (AGENCY, "fixed", "cp950")]  # fmt: skip


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


class Interrupted(Exception):
    pass


class StopBeforeMarker(FolderAdapter):
    """Stops after a delivery's import committed, before the file leaves the inbox."""

    def _done(self, path: Path) -> None:
        raise Interrupted


class StopBeforeWritten:
    """A branch system that stops after its feedback file is in the outbox, before noting it."""

    def __init__(self, system: BranchSystem) -> None:
        self.system = system

    def accepts(self) -> tuple[str, ...]:
        return self.system.accepts()

    def imported(self, name: str) -> bool:
        return self.system.imported(name)

    def take(self, name: str, kind: str, records: pl.DataFrame) -> int:
        return self.system.take(name, kind, records)

    def pending_files(self) -> list[tuple[str, str, pl.DataFrame]]:
        return self.system.pending_files()

    def written(self, stem: str) -> None:
        raise Interrupted


CRASHES: dict[str, Callable[[BranchSystem, Path], FolderAdapter]] = {
    "sly": lambda s, folder: StopBeforeMarker(s, folder / "inbox", folder / "outbox"),
    "tcy": lambda s, folder: FolderAdapter(StopBeforeWritten(s), folder / "inbox", folder / "outbox"),
}


def play(hub: Hub, folder: Path, days: int, volume: int) -> tuple[AgencySystem, dict[str, BranchSystem]]:
    """The loop, one simulated day after another, ending on the platform's day."""
    agency = AgencySystem(folder / AGENCY, AGENCY, seed=3, volume=volume)
    branches = {b.code: BranchSystem(folder / b.code / DATABASE, b.code, seed=5) for b in refdata.branches()}
    first = TODAY - dt.timedelta(days=days - 1)
    for i in range(days):
        day = first + dt.timedelta(days=i)
        agency.adapter.import_inbox()
        agency.produce(day, mistake_rate=0.3)
        sent = push(hub, AGENCY, folder / AGENCY)
        hub.worker.drain()
        assert {"delivered", "acknowledged"} & set(states(hub, AGENCY, sent))
        feedback: list[tuple[str, str]] = []
        for code, branch in branches.items():
            pull(hub, code, folder / code)
            if i == 2 and code in CRASHES:  # the system stops once mid-day, then runs the day again
                with pytest.raises(Interrupted):
                    run_day(branch, CRASHES[code](branch, folder / code), day)
            run_day(branch, adapter_for(folder / code, branch), day)
            feedback += [(code, s) for s in push(hub, code, folder / code)]
        hub.worker.drain()
        for code, sid in feedback:  # every status file the branches sent is accepted, warnings and all
            assert states(hub, code, [sid]) != ["rejected"], hub.codes(code, sid)
        pull(hub, AGENCY, folder / AGENCY)
    agency.adapter.import_inbox()
    return agency, branches


@pytest.mark.slow
def test_the_reference_loop_agrees_with_the_case_index_case_by_case(
    database_url: str, tmp_path: Path
) -> None:
    hub = Hub(database_url, tmp_path / "platform")
    with hub.platform.db.transaction() as session:  # packages in every format the platform writes
        for code, fmt, encoding in PREFERENCES:
            session.execute(
                update(Organisation)
                .where(Organisation.code == code)
                .values(preferred_format=fmt, preferred_encoding=encoding)
            )
    agency, branches = play(hub, tmp_path, 6, 30)
    try:
        truth = compare(hub, agency, branches)
        assert truth.height > 100
        assert truth["branch_code"].n_unique() >= 8  # referrals reach most of the island
        assert set(truth["status"]) >= {"CLOSED", "PENDING", "COLLECTED"}
    finally:
        agency.close()
        for b in branches.values():
            b.close()
        hub.close()

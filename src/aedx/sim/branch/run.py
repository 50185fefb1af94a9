"""A branch's working days: take the inbox, play the day, send the status events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from aedx.formats import Format
from aedx.sim.adapter import FolderAdapter
from aedx.sim.branch.system import BranchSystem

DATABASE = "branch.db"


@dataclass(frozen=True)
class Day:
    day: dt.date
    imported: int
    events: int
    files: int


def adapter_for(folder: Path, system: BranchSystem) -> FolderAdapter:
    return FolderAdapter(system, folder / "inbox", folder / "outbox")


def run_day(
    system: BranchSystem,
    adapter: FolderAdapter,
    day: dt.date,
    fmt: Format = Format.CSV,
    encoding: str = "utf-8",
) -> Day:
    """Import what waits, play the day, export its status feedback. Safe to run again after a
    crash: what was imported is not imported twice, what was exported is not exported twice."""
    system.day = day
    imported = adapter.import_inbox()
    events = system.advance(day)
    files = adapter.export_outbox(fmt, encoding)
    return Day(day, imported, events, len(files))


def run_days(
    folder: Path,
    code: str,
    first: dt.date,
    days: int = 1,
    *,
    seed: int = 0,
    fmt: Format = Format.CSV,
    encoding: str = "utf-8",
) -> list[Day]:
    system = BranchSystem(folder / DATABASE, code, seed=seed)
    try:
        adapter = adapter_for(folder, system)
        return [run_day(system, adapter, first + dt.timedelta(days=i), fmt, encoding) for i in range(days)]
    finally:
        system.close()

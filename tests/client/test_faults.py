"""Faults on loopback: connections dropped at chosen byte offsets by a proxy, the platform's server
stopped and started again in the middle of uploads and downloads, and the client itself stopped
between its steps. Every file ends submitted exactly once, every package written exactly once."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aedx import client as aedx_client
from aedx.client.exchange import Client, Quiet
from aedx.storage.tables import Delivery, Submission
from tests.client.support import Proxy, Server, client_folder
from tests.client.test_exchange import AGENCY, recipients, referral
from tests.exchange.hub import Hub

FILES = 16


class Crash(BaseException):
    """The client's process ending at this point (nothing catches it)."""


class CrashAt(Quiet):
    """Ends the run at the n-th event of that name; counts every event."""

    def __init__(self, name: str | None = None, n: int = 1) -> None:
        self.name, self.n = name, n
        self.seen: dict[str, int] = {}

    def event(self, name: str, **fields: Any) -> None:
        self.seen[name] = self.seen.get(name, 0) + 1
        if name == self.name and self.seen[name] == self.n:
            raise Crash(name)


def cuts(seed: int, n: int, low: int, high: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(low, high) for _ in range(n)]


def run_until_done(config: aedx_client.Config, what: str, events: list[CrashAt], rounds: int = 10) -> int:
    """Runs of push or pull, each a new client as a new process would be, the first ones ended by
    their crash; returns the events of the last, whole run's kind summed over all runs."""
    total: dict[str, int] = {}
    for i in range(rounds):
        watcher = events[i] if i < len(events) else CrashAt()
        c = Client(config, events=watcher)
        try:
            counts = c.push() if what == "push" else c.pull()
        except Crash:
            continue
        finally:
            c.close()
            for k, v in watcher.seen.items():
                total[k] = total.get(k, 0) + v
        if not counts.failed and not counts.pending and i >= len(events):
            return total.get("pull.written", 0) if what == "pull" else total.get("push.filed", 0)
    raise AssertionError(f"{what} did not finish in {rounds} runs")


def test_drops_restarts_and_crashes_leave_every_file_submitted_once(
    hub: Hub, server: Server, tmp_path: Path
) -> None:
    proxy = Proxy(server.port, cuts(1, 40, 150, 12_000), restart_at={3, 9, 15}, on_restart=server.restart)
    config = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", proxy.url))
    config.make_folders()
    files = sorted(referral(config.outbox, i).name for i in range(FILES))
    # the client ends right after an upload, right after filing a file, and again after an upload
    crashes = [CrashAt("push.sent", 2), CrashAt("push.filed", 3), CrashAt("push.sent", 5)]
    filed = run_until_done(config, "push", crashes)
    proxy.close()
    assert proxy.dropped >= 20 and proxy.restarts == 3  # the faults did happen
    assert filed >= FILES
    assert sorted(p.name for p in config.sent.iterdir() if p.suffix == ".csv") == files
    assert len(list(config.sent.glob("*.receipt.p7s"))) == FILES
    assert list(config.outbox.iterdir()) == []
    with hub.platform.db.transaction() as session:
        names = session.scalars(select(Submission.filename)).all()
    assert sorted(str(n) for n in names) == files  # each exactly once


def test_drops_restarts_and_crashes_leave_every_package_written_once(
    hub: Hub, server: Server, tmp_path: Path
) -> None:
    agency = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", server.url))
    agency.make_folders()
    for i in range(FILES):
        referral(agency.outbox, i)
    pusher = Client(agency)
    assert pusher.push().accepted == FILES
    pusher.close()
    branch, made = max(recipients(hub).items(), key=lambda kv: kv[1])
    proxy = Proxy(server.port, cuts(2, 40, 150, 20_000), restart_at={4, 9}, on_restart=server.restart)
    config = aedx_client.load(client_folder(hub, branch, tmp_path / "branch", proxy.url))
    # the client ends right after writing a package (before its journal or the platform knew) and
    # right after an acknowledgement
    crashes = [CrashAt("pull.written", 2), CrashAt("pull.acknowledged", 3), CrashAt("pull.written", 1)]
    written = run_until_done(config, "pull", crashes)
    proxy.close()
    assert proxy.dropped >= 10 and proxy.restarts == 2
    assert written == made  # each package written exactly once, over all runs
    names = sorted(p.name for p in config.inbox.iterdir())
    assert len(names) == made and not [n for n in names if n.startswith(".")]
    with hub.platform.db.transaction() as session:
        acknowledged = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.acknowledged_at.is_not(None))
        )
    assert acknowledged == made

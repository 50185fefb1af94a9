"""A simulated month of the reference loop as the organisations' servers run it: the reference
agency and the 13 reference branch systems on their folders, each with ``aedx-client`` pushing and
pulling over HTTP to the platform served on loopback. The case index then agrees with the branch
systems' own databases case by case, the agency's view with both, and every file the agency's
client filed under ``rejected/`` is one it wrote with mistakes, read back by the agency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import update
from tests.builders import TODAY
from tests.client.support import Server, install_keys
from tests.exchange.hub import Hub
from tests.sim.loops import compare

from aedx import refdata
from aedx.formats import Format
from aedx.sim.network import Network, Office
from aedx.storage.tables import Organisation

AGENCY = "A383000000"
WRITES = {AGENCY: (Format.FIXED, "cp950"), "tcy": (Format.JSONL, "utf-8"), "ksy": (Format.CSV, "cp950")}
RECEIVES = [("tpy", "fixed", "cp950"), ("pcy", "jsonl", "utf-8"), (AGENCY, "csv", "cp950")]


@contextmanager
def serving(database_url: str, folder: Path) -> Iterator[tuple[Hub, Server]]:
    hub = Hub(database_url, folder)
    with hub.platform.db.transaction() as session:  # packages in the formats the systems read
        for code, fmt, encoding in RECEIVES:
            session.execute(
                update(Organisation)
                .where(Organisation.code == code)
                .values(preferred_format=fmt, preferred_encoding=encoding)
            )
    server = Server(hub)
    server.start()
    try:
        yield hub, server
    finally:
        server.stop()
        hub.close()


def offices(hub: Hub, url: str, root: Path, volume: int) -> list[Office]:
    """The agency and the 13 branches, some writing fixed-width, JSON Lines or CP950 files."""
    made = [Office(AGENCY, "agency", root / AGENCY, volume=volume, seed=3)]
    made += [Office(b.code, "branch", root / b.code, seed=5) for b in refdata.branches()]
    made = [
        Office(o.code, o.role, o.folder, *WRITES.get(o.code, (Format.CSV, "utf-8")), o.volume, o.seed)
        for o in made
    ]
    for o in made:
        o.install(install_keys(hub, o.code, o.folder / "keys"), url, retry={"base_seconds": 0.05})
    return made


def play(network: Network, days: int) -> int:
    """The days up to the platform's; each ends with nothing failed or left waiting. Returns the
    files delivered."""
    first, sent = TODAY - dt.timedelta(days=days - 1), 0
    for i in range(days):
        report = network.day(first + dt.timedelta(days=i))
        assert report.errors == [] and report.failed == 0 and report.pending == 0, report
        sent += report.accepted
    return sent


def agrees(hub: Hub, network: Network) -> pl.DataFrame:
    """The case index against the offices' own databases (``compare``); the agency read exactly the
    files it wrote with mistakes back from ``rejected/``, each with its findings; every file left
    the outbox with the platform's receipt. Returns the branches' truth."""
    agency_office, *branch_offices = network.agencies + network.branches
    with ExitStack() as stack:
        agency = stack.enter_context(agency_office.agency())
        branches = {o.code: stack.enter_context(o.branch()) for o in branch_offices}
        truth = compare(hub, agency, branches)
        rejected = agency.rejections()
    mistaken = sorted(p.name for p in (agency_office.folder / "rejected").glob("*-x.txt"))
    assert mistaken and [r["name"] for r in rejected] == mistaken
    assert all(r["findings"] > 0 and r["kind"] == "case_referral" for r in rejected)
    for o in network.agencies + network.branches:
        assert not [p for p in (o.folder / "outbox").iterdir() if p.is_file()]
        filed = [p for p in (o.folder / "sent").iterdir() if not p.name.endswith(".receipt.p7s")]
        assert all(p.with_name(p.name + ".receipt.p7s").exists() for p in filed)
    return truth


def test_a_few_days_through_the_client_on_both_databases(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "platform") as (hub, server):
        network = Network(offices(hub, server.url, tmp_path, 25), mistake_rate=0.7)
        assert play(network, 3) >= 3 + 2 * 13
        truth = agrees(hub, network)
    assert truth["branch_code"].n_unique() >= 8


@pytest.mark.soak
def test_a_simulated_month_through_the_client_agrees_case_by_case(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "platform") as (hub, server):
        network = Network(offices(hub, server.url, tmp_path, 12), mistake_rate=0.3)
        assert play(network, 31) > 31 * 2
        again = network.day(TODAY)  # a further run of the day only exchanges what still waits
        assert (again.referrals, again.events, again.accepted, again.packages) == (0, 0, 0, 0)
        truth = agrees(hub, network)
    assert {"PAID_IN_FULL", "CERTIFICATE"} <= set(truth["close_reason"].drop_nulls())
    again_referred = truth.group_by("agency_case_no").len().filter(pl.col("len") > 1)
    assert again_referred.height > 0  # cases closed with a certificate were referred again

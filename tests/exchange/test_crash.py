"""Workers killed with SIGKILL at random points of their work, over and over, while N of them share
the queue on PostgreSQL: every submission still ends processed exactly once, with no duplicate index
rows and no lost or duplicated delivery."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.sim.records import MAKERS, Setting
from aedx.storage.localpg import LocalPostgres
from aedx.storage.tables import AuditEvent, Case, Delivery, Job, Organisation, Submission
from tests.conftest import _empty, soak_size
from tests.exchange.hub import Hub

FILES, RECORDS = soak_size(40, 100), soak_size(3_000, 6_000)
KILLS, MAX_RUNS = soak_size(4, 20), soak_size(20, 60)
AGENCY = "A383000000"


@pytest.fixture
def hub(postgres: LocalPostgres, tmp_path: Path) -> Iterator[Hub]:
    _empty(postgres.url)
    h = Hub(postgres.url, tmp_path)
    yield h
    h.close()


def _workers(hub: Hub, n: int) -> list[subprocess.Popen[bytes]]:
    env = os.environ | {
        "AEDX_DATABASE_URL": str(hub.platform.settings.database_url),
        "AEDX_DATA_DIR": str(hub.platform.settings.data_dir),
        "AEDX_INDEX_KEY": hub.platform.settings.index_key.hex(),
    }
    command = [sys.executable, "-m", "aedx", "worker"]
    return [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(n)
    ]


def _kill_repeatedly(hub: Hub, kills: int, rnd: random.Random) -> int:
    """Start one or two workers and kill them at a random moment once they are at work (a job has
    finished since they started), until ``kills`` runs were killed with work still waiting; a last
    worker then finishes. Returns those runs."""
    busy = runs = 0
    while busy < kills and runs < MAX_RUNS and (waiting := hub.count(Job)):
        procs = _workers(hub, rnd.choice([1, 1, 2]))
        started = time.monotonic()
        while hub.count(Job) == waiting and time.monotonic() - started < 60:
            time.sleep(0.05)
        time.sleep(rnd.uniform(0.0, 0.6))
        busy += hub.count(Job) > 0
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        runs += 1
    leftover = _workers(hub, 1)[0]
    deadline = time.monotonic() + 300
    while hub.count(Job) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover.send_signal(signal.SIGKILL)
    leftover.wait()
    assert hub.count(Job) == 0
    return busy


def _check_exactly_once(hub: Hub, expected: dict[str, pl.DataFrame]) -> None:
    with hub.platform.db.transaction() as session:
        subs = {s.id: s for s in session.scalars(select(Submission))}
        deliveries = session.scalars(select(Delivery)).all()
        codes = {o.id: o.code for o in session.scalars(select(Organisation))}
        events = session.execute(select(AuditEvent.submission_id, AuditEvent.action)).all()
    for sub_id, sent in expected.items():
        sub = subs[sub_id]
        assert (sub.state, sub.records) == ("delivered", sent.height)
        mine = [d for d in deliveries if d.submission_id == sub_id]
        assert len({d.recipient_id for d in mine}) == len(mine)
        assert sum(d.records for d in mine) == sent.height
        delivered = []
        column = get_kind(sub.kind).names.index("agency_case_no")
        for d in mine:
            blob = hub.platform.blobs.path(d.blob_key).read_bytes()
            assert hashlib.sha256(blob).hexdigest() == d.sha256 and len(blob) == d.size
            package = hub.open(codes[d.recipient_id], blob)
            delivered += [line.split(b",")[column].decode() for line in package.splitlines()[1:-1]]
        assert sorted(delivered) == sorted(sent["agency_case_no"].to_list())
        for action in (
            "submission.validating",
            "submission.accepted",
            "submission.routed",
            "submission.delivered",
        ):
            assert events.count((sub_id, action)) == 1, (sub_id, action)


@pytest.mark.slow
def test_killed_workers_leave_every_submission_processed_exactly_once(hub: Hub) -> None:
    rnd = random.Random(20261125)
    rng = np.random.default_rng(7)
    today = dt.date.today()
    kind = get_kind("case_referral")
    referrals = {}
    for i in range(FILES):
        frame = MAKERS[kind.name](
            kind, rng, 1 + i * RECORDS, RECORDS, Setting(today, AGENCY, big5_only=False)
        )
        response = hub.upload(AGENCY, kind.name, encode_records(frame, kind, "csv", "utf-8"))
        referrals[response.json()["id"]] = frame
    rejected = hub.upload(
        AGENCY, kind.name, encode_records(frame.head(10), kind, "csv", "utf-8") + b"x,y\r\n"
    )

    busy = _kill_repeatedly(hub, KILLS, rnd)
    assert busy >= KILLS, f"only {busy} runs were killed with work waiting"
    _check_exactly_once(hub, referrals)
    assert hub.get(AGENCY, f"/api/v1/submissions/{rejected.json()['id']}").json()["state"] == "rejected"
    index = hub.cases()
    assert index.height == FILES * RECORDS
    assert index.select("agency_code", "agency_case_no").n_unique() == index.height

    # Status feedback from every branch moves the cases; collections must add up once.
    status_kind = get_kind("status_feedback")
    feedback, collected = {}, {}
    for branch, cases in index.group_by("branch_code"):
        head = cases.head(3000)
        amounts = pl.Series(np.arange(1, head.height + 1) * 10).cast(pl.String)
        frame = pl.DataFrame({
            "branch_code": head["branch_code"], "branch_case_no": [f"士執午113年稅執專字第{i:08d}號" for i in range(head.height)],
            "agency_code": head["agency_code"], "agency_case_no": head["agency_case_no"],
            "event": ["COLLECTED"] * head.height, "event_date": [f"{today.year - 1911:03d}{today:%m%d}"] * head.height,
            "amount": amounts, "close_reason": [None] * head.height, "officer": [None] * head.height,
        }, schema=dict.fromkeys(status_kind.names, pl.String))  # fmt: skip
        response = hub.upload(
            str(branch[0]), status_kind.name, encode_records(frame, status_kind, "csv", "utf-8")
        )
        feedback[response.json()["id"]] = frame
        collected |= dict(zip(frame["agency_case_no"], frame["amount"].cast(pl.Int64), strict=True))

    assert _kill_repeatedly(hub, soak_size(3, 5), rnd) >= 1
    _check_exactly_once(hub, feedback)
    index = hub.cases()
    moved = index.filter(pl.col("status") == "COLLECTED")
    assert moved.height == len(collected)
    assert dict(zip(moved["agency_case_no"], moved["collected"], strict=True)) == collected
    assert hub.count(Case) == FILES * RECORDS

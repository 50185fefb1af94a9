"""Fifty clients of two agencies push a few hundred files between them at the same time, some files
held by two clients of the same agency: none lost, none submitted twice. The clients, the server
and its worker share one process here, so the worker's pace bounds the run; ``make soak`` runs a
thousand files, and ``AEDX_CONCURRENT_FILES`` sets another number."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from aedx import client as aedx_client
from aedx.client.exchange import Client, Counts
from aedx.storage.tables import Organisation, Submission
from tests.builders import records, write
from tests.client.support import Server, client_folder
from tests.conftest import soak_size
from tests.exchange.hub import AGENCIES, Hub

CLIENTS, SHARED, ROUNDS = 50, 2, 20
FILES = int(os.environ.get("AEDX_CONCURRENT_FILES", soak_size(100, 1000)))


@pytest.mark.slow
def test_fifty_clients_push_hundreds_of_files_none_lost_none_twice(
    hub: Hub, server: Server, tmp_path: Path
) -> None:
    configs: list[aedx_client.Config] = []
    for n in range(CLIENTS):
        org = AGENCIES[n % 2].code
        hub.enrol(org)  # a client of its own, with its own key
        configs.append(aedx_client.load(client_folder(hub, org, tmp_path / f"client-{n}", server.url)))
    expected: dict[str, set[str]] = {a.code: set() for a in AGENCIES}  # content digests per agency
    for i in range(FILES):
        config = configs[i % CLIENTS]
        config.make_folders()
        frame = records(
            "case_referral", {"agency_code": config.organisation, "agency_case_no": f"113C{i:08d}"}
        )
        path = write(config.outbox / f"referral-{i:05d}.csv", "case_referral", frame)
        expected[config.organisation].add(hashlib.sha256(path.read_bytes()).hexdigest())
        if i % CLIENTS < SHARED * 2:  # the same file in another client of the same agency too
            twin = configs[(i + 2) % CLIENTS]
            twin.make_folders()
            (twin.outbox / path.name).write_bytes(path.read_bytes())
    totals: list[Counts] = []
    failures: list[BaseException] = []

    def work(config: aedx_client.Config) -> None:
        c = Client(config)
        try:
            for _ in range(ROUNDS):  # until nothing waits, bounded
                counts = c.push()
                totals.append(counts)
                if not counts.pending and not counts.failed:
                    return
        except BaseException as e:
            failures.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(config,)) for config in configs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert failures == [] and not any(t.is_alive() for t in threads)
    for config in configs:
        assert [p.name for p in config.outbox.iterdir()] == []
    sent = {
        (c.organisation, hashlib.sha256(p.read_bytes()).hexdigest())
        for c in configs
        for p in c.sent.glob("*.csv")
    }
    assert sent == {(org, d) for org, digests in expected.items() for d in digests}  # none lost
    with hub.platform.db.transaction() as session:
        rows = session.execute(
            select(Organisation.code, Submission.sha256, Submission.state).join(
                Organisation, Organisation.id == Submission.sender_id
            )
        ).all()
    assert len(rows) == FILES  # none twice
    assert {(code, sha) for code, sha, _ in rows} == sent
    assert {state for *_, state in rows} <= {"delivered", "acknowledged"}

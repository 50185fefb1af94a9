"""The tamper-evident audit log on both databases: a sealed log verifies; every kind of tampering
with the events, the checkpoints or the checkpoint file is found and named; concurrent writers and
sealers end with one valid chain; checkpoint signatures verify with the openssl command line."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from typer.testing import CliRunner

from aedx.cli import app
from aedx.exchange.platform import Platform
from aedx.settings import Settings
from aedx.storage.tables import AuditCheckpoint, AuditEvent, utcnow
from aedx.trust import audit, ledger
from aedx.trust.ledger import CHECKPOINTS, EVENTS, Tampering
from aedx.trust.pki import Authority, Usage


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA with the platform's signing key for the module: keys take seconds to make."""
    folder = tmp_path_factory.mktemp("ledger-ca") / "pki"
    Authority.create(folder).identity(Usage.SIGNING)
    return folder


def make_platform(database_url: str, folder: Path) -> Platform:
    return Platform(Settings(folder, database_url, 1 << 30, b"k" * 32))


@pytest.fixture
def platform(database_url: str, tmp_path: Path, pki: Path) -> Iterator[Platform]:
    shutil.copytree(pki, tmp_path / "pki")
    p = make_platform(database_url, tmp_path)
    yield p
    p.close()


def write(platform: Platform, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with platform.db.transaction() as session:
            audit.record(
                session,
                actor=f"token:{i:04d}",
                action="submission.received" if i % 2 else "delivery.download",
                outcome="ok" if i % 3 else "denied",
                object_type="submission",
                object_id=f"obj{i}",
                submission_id=f"sub{i}",
                kind="case_referral",
                detail={"n": i, "名稱": "臺北"},
            )


@pytest.fixture
def sealed(platform: Platform) -> Platform:
    """30 events sealed in three runs: checkpoints at seq 10, 20 and 30."""
    for run in range(3):
        write(platform, 10, run * 10)
        done = ledger.seal(platform)
        assert done is not None and done.events == 10
    return platform


def execute(platform: Platform, statement: Any, params: dict[str, Any] | None = None) -> None:
    with platform.db.transaction() as session:
        session.execute(statement, params or {})


def event_id(platform: Platform, seq: int) -> int:
    with platform.db.transaction() as session:
        return int(session.execute(select(EVENTS.c.id).where(EVENTS.c.seq == seq)).scalar_one())


def first(platform: Platform) -> ledger.Finding:
    verdict = ledger.verify(platform)
    assert not verdict.ok
    finding = verdict.first
    assert finding is not None
    return finding


def test_a_sealed_log_verifies_and_unsealed_events_are_information(sealed: Platform) -> None:
    verdict = ledger.verify(sealed)
    assert verdict.ok, [f.one_line() for f in verdict.findings]
    assert (verdict.events, verdict.checkpoints, verdict.unsealed) == (30, 3, 0)
    with sealed.db.transaction() as session:
        seqs = session.execute(select(EVENTS.c.seq).order_by(EVENTS.c.id)).scalars().all()
    assert seqs == list(range(1, 31))
    lines = (sealed.settings.data_dir / "audit" / "checkpoints.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"seq":30' in lines[-1]

    write(sealed, 2, 100)
    verdict = ledger.verify(sealed)
    assert verdict.ok and verdict.unsealed == 2 and verdict.oldest_unsealed is not None
    assert ledger.seal(sealed, wait=False) is not None
    assert ledger.verify(sealed).events == 32
    empty = ledger.seal(sealed)
    assert empty is not None and empty.events == 0 and empty.checkpoints == []


def test_the_canonical_form_covers_every_column() -> None:
    columns = {c.name for c in AuditEvent.__table__.columns} - {"chain_hash"}
    assert set(ledger.EVENT_FIELDS) == columns


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"n":15,"名稱":"新北"}'),
        ("outcome", "failed"),
        ("actor", "token:9999"),
        ("action", "submission.deleted"),
        ("object_id", "other"),
        ("kind", "payment"),
        ("at", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_an_edited_column_is_named(sealed: Platform, column: str, value: object) -> None:
    victim = event_id(sealed, 15)
    if column == "kind":  # as raw SQL would
        execute(sealed, text("UPDATE audit_events SET kind = :k WHERE seq = :s"), {"k": value, "s": 15})
    else:
        execute(sealed, update(EVENTS).where(EVENTS.c.seq == 15).values({column: value}))
    finding = first(sealed)
    assert (finding.kind, finding.seq, finding.event_id) == (Tampering.EDITED, 15, victim)
    assert "15" in finding.message_en and str(victim) in finding.message_zh


def test_an_edited_chain_hash_is_named(sealed: Platform) -> None:
    execute(sealed, update(EVENTS).where(EVENTS.c.seq == 12).values(chain_hash="0" * 64))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.EDITED, 12) and "chain hash" in finding.message_en


def test_a_deleted_middle_event_is_named(sealed: Platform) -> None:
    execute(sealed, delete(EVENTS).where(EVENTS.c.seq == 15))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.DELETED, 15)


def test_deleted_last_events_are_named(sealed: Platform) -> None:
    execute(sealed, delete(EVENTS).where(EVENTS.c.seq > 27))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.DELETED, 28)


def test_deleted_last_events_with_their_checkpoint_are_found_through_the_file(sealed: Platform) -> None:
    execute(sealed, delete(EVENTS).where(EVENTS.c.seq > 20))
    execute(sealed, delete(CHECKPOINTS).where(CHECKPOINTS.c.seq == 30))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.DELETED, 21) and "30" in finding.message_en
    # and the sealer will not carry on over the gap
    write(sealed, 1, 200)
    with pytest.raises(ledger.LedgerBroken):
        ledger.seal(sealed)


def test_deleted_events_in_the_middle_of_a_run_with_its_checkpoint(sealed: Platform) -> None:
    execute(sealed, delete(EVENTS).where(EVENTS.c.seq > 25))
    execute(sealed, delete(CHECKPOINTS).where(CHECKPOINTS.c.seq == 30))
    kinds = {f.kind for f in ledger.verify(sealed).findings}
    assert kinds == {Tampering.DELETED, Tampering.CHECKPOINT_MISSING}  # sealed after the last checkpoint


def test_a_forged_event_inserted_between_two_is_named(sealed: Platform) -> None:
    with sealed.db.transaction() as session:  # make room at seq 16, as a forger would
        session.execute(text("UPDATE audit_events SET seq = -seq WHERE seq >= 16"))
        session.execute(text("UPDATE audit_events SET seq = 1 - seq WHERE seq < 0"))
        forged = session.execute(
            insert(EVENTS)
            .values(
                at=utcnow(),
                actor="token:0000",
                action="submission.received",
                outcome="ok",
                seq=16,
                chain_hash=hashlib.sha256(b"made up").hexdigest(),
            )
            .returning(EVENTS.c.id)
        ).scalar_one()
    finding = first(sealed)
    assert (finding.kind, finding.seq, finding.event_id) == (Tampering.INSERTED, 16, forged)


def test_two_swapped_events_are_named(sealed: Platform) -> None:
    a, b = event_id(sealed, 15), event_id(sealed, 16)
    with sealed.db.transaction() as session:
        for seq, eid in [(-1, a), (15, b), (16, a)]:
            session.execute(text("UPDATE audit_events SET seq = :s WHERE id = :i"), {"s": seq, "i": eid})
    verdict = ledger.verify(sealed)
    assert [(f.kind, f.seq, f.event_id) for f in verdict.findings] == [(Tampering.REORDERED, 15, b)]


def test_a_chain_rewritten_after_an_edit_is_found_by_its_checkpoint(sealed: Platform) -> None:
    execute(sealed, update(EVENTS).where(EVENTS.c.seq == 15).values(outcome="rewritten"))
    with sealed.db.transaction() as session:
        rows = session.execute(select(*ledger.EVENT_COLUMNS).order_by(EVENTS.c.seq)).mappings().all()
    h = ledger.GENESIS
    with sealed.db.transaction() as session:
        for row in rows:
            h = ledger.link(h, row)
            session.execute(update(EVENTS).where(EVENTS.c.id == row["id"]).values(chain_hash=h.hex()))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.REWRITTEN, 11) and "20" in finding.message_en


def test_a_forged_checkpoint_signature_is_named(sealed: Platform) -> None:
    with sealed.db.transaction() as session:
        signature = session.execute(select(CHECKPOINTS.c.signature).where(CHECKPOINTS.c.seq == 20)).scalar()
    raw = bytearray(base64.b64decode(str(signature)))
    raw[10] ^= 1
    forged = base64.b64encode(bytes(raw)).decode()
    execute(sealed, update(CHECKPOINTS).where(CHECKPOINTS.c.seq == 20).values(signature=forged))
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.CHECKPOINT_FORGED, 20)


def test_a_truncated_checkpoint_file_is_named_and_the_sealer_restores_the_signed_copy(
    sealed: Platform,
) -> None:
    book = sealed.settings.data_dir / "audit" / "checkpoints.jsonl"
    lines = book.read_text().splitlines(keepends=True)
    book.write_text(lines[0])
    finding = first(sealed)
    assert (finding.kind, finding.seq) == (Tampering.CHECKPOINT_MISSING, 20)
    # The table's checkpoints are signed: the next sealing run copies them back (as after a crash
    # between its commit and its append), and leaves a trace in the log.
    done = ledger.seal(sealed)
    assert done is not None and done.events == 1  # the audit.checkpoints_restored event
    assert book.read_text().splitlines(keepends=True)[:3] == lines
    assert ledger.verify(sealed).ok


def test_checkpoint_signatures_verify_with_openssl(sealed: Platform, tmp_path: Path) -> None:
    with sealed.db.transaction() as session:
        row = session.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.seq == 30)).mappings().one()
    checkpoint = ledger.Checkpoint.from_row(row)
    certificate = ledger.platform_certificate(sealed)
    assert certificate is not None
    (tmp_path / "pub.pem").write_bytes(ledger.public_key_pem(certificate))
    (tmp_path / "sig").write_bytes(checkpoint.signature)
    (tmp_path / "data").write_bytes(checkpoint.payload())
    args = ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr
    (tmp_path / "data").write_bytes(checkpoint.payload().replace(b'"seq":30', b'"seq":31'))
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_writers_and_sealers_at_once_end_with_one_valid_chain(
    database_url: str, tmp_path: Path, pki: Path
) -> None:
    shutil.copytree(pki, tmp_path / "pki")
    writers_platform = make_platform(database_url, tmp_path)
    sealers = [make_platform(database_url, tmp_path) for _ in range(2)]  # their own Database each
    writing = threading.Event()
    writing.set()
    failures: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(25):
                with writers_platform.db.transaction() as session:  # several events per transaction
                    for j in range(3):
                        audit.record(session, actor=f"w{w}", action="test.write", detail={"i": i, "j": j})
        except BaseException as e:  # reported by the test
            failures.append(e)

    def sealer(p: Platform, wait: bool) -> None:
        try:
            while writing.is_set():
                ledger.seal(p, wait=wait, batch=7)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    seal_threads = [
        threading.Thread(target=sealer, args=(p, wait))
        for p, wait in zip(sealers, (True, False), strict=True)
    ]
    for t in [*threads, *seal_threads]:
        t.start()
    for t in threads:
        t.join()
    writing.clear()
    for t in seal_threads:
        t.join()
    assert failures == []
    ledger.seal(sealers[0])
    verdict = ledger.verify(writers_platform)
    assert verdict.ok, [f.one_line() for f in verdict.findings]
    assert verdict.unsealed == 0 and verdict.events == 4 * 25 * 3
    with writers_platform.db.transaction() as session:
        seqs = session.execute(select(EVENTS.c.seq)).scalars().all()
        checkpoints = session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar()
    assert sorted(s for s in seqs if s is not None) == list(range(1, 301))
    assert checkpoints is not None and checkpoints > 1
    for p in [writers_platform, *sealers]:
        p.close()


def test_the_verify_and_seal_commands(database_url: str, tmp_path: Path, pki: Path) -> None:
    shutil.copytree(pki, tmp_path / "pki")
    runner = CliRunner()
    where = ["--data-dir", str(tmp_path), "--database", database_url]
    platform = make_platform(database_url, tmp_path)
    platform.db.migrate()
    write(platform, 5)
    sealed = runner.invoke(app, ["audit", "seal", *where])
    assert sealed.exit_code == 0, sealed.output
    assert "sealed 5 events" in sealed.output
    clean = runner.invoke(app, ["audit", "verify", *where])
    assert clean.exit_code == 0, clean.output
    assert "稽核紀錄完整" in clean.output and "audit log intact" in clean.output
    assert "1 events not yet sealed" in clean.output  # the audit.seal event itself
    execute(platform, update(EVENTS).where(EVENTS.c.seq == 3).values(detail='{"n":0}'))
    tampered = runner.invoke(app, ["audit", "verify", *where])
    assert tampered.exit_code == 1, tampered.output
    assert "edited" in tampered.output and "seq 3" in tampered.output
    platform.close()


def test_verify_streams_in_batches_and_reports_progress(sealed: Platform) -> None:
    calls: list[tuple[int, int]] = []
    verdict = ledger.verify(sealed, progress=lambda done, total: calls.append((done, total)), batch=7)
    assert verdict.ok and calls == [(7, 30), (14, 30), (21, 30), (28, 30), (30, 30)]
    execute(sealed, update(EVENTS).where(EVENTS.c.seq == 22).values(detail=None))  # starts the 4th batch
    finding = ledger.verify(sealed, batch=7).first
    assert finding is not None and (finding.kind, finding.seq) == (Tampering.EDITED, 22)


def test_a_running_worker_seals_and_seals_once_more_when_it_stops(platform: Platform) -> None:
    from aedx.exchange.worker import Worker

    write(platform, 5)
    worker = Worker(platform, "worker:test")
    thread = threading.Thread(target=worker.run_forever, kwargs={"poll": 0.01})
    thread.start()
    write(platform, 5, 5)
    worker.stop()
    thread.join()
    verdict = ledger.verify(platform)
    assert verdict.ok and (verdict.events, verdict.unsealed) == (10, 0)

"""The reference branch system: case numbers, lifecycle invariants, valid feedback, exactly-once
import across a crash, and determinism with a seed."""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from aedx.formats import Format
from aedx.kinds import get_kind
from aedx.sim.adapter import FolderAdapter, encode_file, write_durably
from aedx.sim.branch import numbers
from aedx.sim.branch.run import DATABASE, adapter_for, run_day, run_days
from aedx.sim.branch.system import BranchSystem
from aedx.sim.records import MAKERS, Setting
from aedx.validation import Options, validate_file

FIRST = dt.date(2024, 10, 1)
SENDER = "A383000000"


def referrals(folder: Path, n: int, *, seed: int = 1, name: str = "d1.csv") -> Path:
    kind = get_kind("case_referral")
    frame = MAKERS[kind.name](
        kind, np.random.default_rng(seed), 1, n, Setting(FIRST, SENDER, big5_only=False)
    )
    return write_durably(folder / "inbox", name, encode_file(frame, kind))


def system(folder: Path, seed: int = 7) -> BranchSystem:
    return BranchSystem(folder / DATABASE, "sly", seed=seed)


def test_branch_case_numbers_take_the_real_form() -> None:
    day = dt.date(2015, 3, 2)
    no = numbers.branch_case_no(
        "士", "午", day, numbers.case_type("TAX", "營利事業所得稅", 12_000_000), 27350
    )
    assert no == "士執午104年營所稅執特專字第00027350號"
    assert numbers.case_type("NHI", "勞工保險費", 500) == "勞保執"
    assert numbers.case_type("FINE", "交通違規罰鍰", 1_500_000) == "交罰執專"


def test_each_case_gets_its_own_number_serial_by_year_and_type(tmp_path: Path) -> None:
    referrals(tmp_path, 300)
    run_days(tmp_path, "sly", FIRST, 1, seed=3)
    s = system(tmp_path)
    cases = s.cases()
    assert cases["branch_case_no"].n_unique() == 300
    form = re.compile(r"^士執[甲乙丙丁戊己庚辛壬癸子丑]113年[\u4e00-\u9fff]+字第[0-9]{8}號$")
    assert all(form.match(no) for no in cases["branch_case_no"])
    serials = cases.select(
        cases["branch_case_no"].str.extract(r"年(.+)字第").alias("type"),
        cases["branch_case_no"].str.extract(r"字第([0-9]+)號").cast(int).alias("serial"),
    )
    for _, part in serials.group_by("type"):
        assert sorted(part["serial"]) == list(range(1, part.height + 1))


def test_lifecycle_keeps_its_invariants_over_two_months(tmp_path: Path) -> None:
    referrals(tmp_path, 400)
    days = run_days(tmp_path, "sly", FIRST, 60, seed=5)
    assert sum(d.events for d in days) > 400
    s = system(tmp_path)
    cases = {r["id"]: r for r in s.conn.execute("SELECT * FROM cases")}
    reasons = set()
    for case in cases.values():
        assert 0 <= case["collected"] + case["paid_to_agency"] <= case["amount_due"]
    by_case: dict[int, list[sqlite3.Row]] = {}
    for e in s.events():
        by_case.setdefault(e["case_id"], []).append(e)
    for case_id, events in by_case.items():
        kinds = [e["event"] for e in events]
        assert kinds[0] == "ASSIGNED" and kinds.count("ASSIGNED") == 1
        assert "CLOSED" not in kinds[:-1]  # a closed case stays closed
        assert [e["event_date"] for e in events] == sorted(e["event_date"] for e in events)
        keys = [(e["event"], e["event_date"], e["amount"]) for e in events]
        assert len(keys) == len(set(keys))
        collected = sum(e["amount"] for e in events if e["event"] == "COLLECTED")
        assert collected == cases[case_id]["collected"]
        assert cases[case_id]["status"] == kinds[-1]
        if kinds[-1] == "CLOSED":
            reasons.add(events[-1]["close_reason"])
            assert cases[case_id]["is_open"] is None
            if events[-1]["close_reason"] == "PAID_IN_FULL":
                assert cases[case_id]["collected"] == cases[case_id]["amount_due"]
    assert {"PAID_IN_FULL", "CERTIFICATE", "WITHDRAWN"} <= reasons
    channels = {
        r[0] for r in s.conn.execute("SELECT DISTINCT channel FROM actions WHERE action = 'collection'")
    }
    assert {"SEIZURE", "CVS", "BANK"} <= channels


def test_feedback_files_pass_validation_without_a_finding(tmp_path: Path) -> None:
    referrals(tmp_path, 300)
    run_days(tmp_path, "sly", FIRST, 30, seed=9)
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 30
    kind = get_kind("status_feedback")
    for path in files:
        report = validate_file(
            path, kind, Format.CSV, "utf-8", Options(sender="sly", today=FIRST + dt.timedelta(30))
        )
        assert report.records > 0
        assert report.findings.height == 0, (path.name, report.findings.to_dicts()[:3])


class Interrupted(Exception):
    pass


class FailingBranch(BranchSystem):
    """Fails part-way through a file, as a crash would."""

    def receive(self, r: dict[str, str | None], rng: random.Random, source: str) -> int:
        if r["agency_case_no"] and self.conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 5:
            raise Interrupted
        return super().receive(r, rng, source)


class FailingAdapter(FolderAdapter):
    """Stops after the import committed, before the file leaves the inbox."""

    def _done(self, path: Path) -> None:
        raise Interrupted


def test_a_crash_in_the_middle_of_an_import_imports_nothing_and_the_rerun_everything(tmp_path: Path) -> None:
    referrals(tmp_path, 20)
    failing = FailingBranch(tmp_path / DATABASE, "sly", seed=1)
    with pytest.raises(Interrupted):
        run_day(failing, adapter_for(tmp_path, failing), FIRST)
    assert failing.cases().height == 0
    failing.close()
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    assert system(tmp_path).cases().height == 20
    assert not list((tmp_path / "inbox").glob("*.csv"))


def test_a_crash_between_import_and_marker_does_not_import_twice(tmp_path: Path) -> None:
    referrals(tmp_path, 20)
    s = system(tmp_path)
    with pytest.raises(Interrupted):
        run_day(s, FailingAdapter(s, tmp_path / "inbox", tmp_path / "outbox"), FIRST)
    assert (tmp_path / "inbox" / "d1.csv").exists()
    s.close()
    run_days(tmp_path, "sly", FIRST, 2, seed=7)
    s = system(tmp_path)
    assert s.cases().height == 20
    assigned = [e for e in s.events() if e["event"] == "ASSIGNED"]
    assert len(assigned) == 20
    assert (tmp_path / "inbox" / "done" / "d1.csv").exists()


def test_feedback_is_exported_once_even_when_the_export_is_repeated(tmp_path: Path) -> None:
    referrals(tmp_path, 10)
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    s = system(tmp_path)
    s.day = FIRST
    assert adapter_for(tmp_path, s).export_outbox() == []
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_the_same_seed_plays_the_same_days(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        referrals(tmp_path / name, 150)
    run_days(tmp_path / "a", "sly", FIRST, 20, seed=11)
    run_days(tmp_path / "b", "sly", FIRST, 20, seed=11)
    run_days(tmp_path / "c", "sly", FIRST, 20, seed=12)
    a, b, c = (system(tmp_path / n).cases() for n in ("a", "b", "c"))
    assert a.equals(b)
    assert not a.equals(c)
    outbox_a = {p.name: p.read_bytes() for p in (tmp_path / "a" / "outbox").iterdir()}
    outbox_b = {p.name: p.read_bytes() for p in (tmp_path / "b" / "outbox").iterdir()}
    assert outbox_a == outbox_b


def test_payments_the_agency_took_reduce_and_close_cases(tmp_path: Path) -> None:
    referrals(tmp_path, 5)
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    s = system(tmp_path)
    first, second = s.cases().head(2).iter_rows(named=True)
    kind = get_kind("payment")
    rows = [
        {"agency_code": SENDER, "agency_case_no": c["agency_case_no"], "obligor_id": "A123456789",
         "receipt_no": f"R{i}", "paid_date": "1131001", "paid_amount": str(paid), "channel": "BANK",
         "full_payment": "Y" if paid == c["amount_due"] else "N", "remaining_amount": str(c["amount_due"] - paid)}
        for i, (c, paid) in enumerate([(first, first["amount_due"]), (second, 1)])
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema={n: pl.String for n in kind.names})
    write_durably(tmp_path / "inbox", "p1.csv", encode_file(frame, kind))
    s.close()
    run_days(tmp_path, "sly", FIRST + dt.timedelta(1), 1, seed=1)
    cases = system(tmp_path).cases()
    one = cases.filter(pl.col("agency_case_no") == first["agency_case_no"]).row(0, named=True)
    two = cases.filter(pl.col("agency_case_no") == second["agency_case_no"]).row(0, named=True)
    assert (one["status"], one["close_reason"], one["paid_to_agency"]) == (
        "CLOSED",
        "PAID_IN_FULL",
        one["amount_due"],
    )
    assert two["paid_to_agency"] == 1


class CrashAfterWriting(BranchSystem):
    """Stops after the file is in the outbox, before the system notes it."""

    def written(self, stem: str) -> None:
        raise Interrupted


def test_a_crash_after_writing_feedback_writes_the_same_file_again_and_no_other(tmp_path: Path) -> None:
    referrals(tmp_path, 10)
    s = CrashAfterWriting(tmp_path / DATABASE, "sly", seed=1)
    with pytest.raises(Interrupted):
        run_day(s, adapter_for(tmp_path, s), FIRST)
    before = {p.name: p.read_bytes() for p in (tmp_path / "outbox").iterdir()}
    s.close()
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    after = {p.name: p.read_bytes() for p in (tmp_path / "outbox").iterdir()}
    assert len(before) == 1
    assert after == before  # same name, same bytes: the client sends it once
    assert system(tmp_path).cases().height == 10


def test_a_payment_for_a_closed_or_unknown_case_is_kept_but_changes_nothing(tmp_path: Path) -> None:
    referrals(tmp_path, 3)
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    s = system(tmp_path)
    case = s.cases().row(0, named=True)
    s.conn.execute(
        "UPDATE cases SET status = 'CLOSED', close_reason = 'WITHDRAWN', is_open = NULL WHERE id = 1"
    )
    kind = get_kind("payment")
    rows = [
        {"agency_code": SENDER, "agency_case_no": no, "obligor_id": "A123456789", "receipt_no": f"R{i}",
         "paid_date": "1131001", "paid_amount": "100", "channel": "BANK", "full_payment": "N",
         "remaining_amount": "1"}
        for i, no in enumerate([case["agency_case_no"], "UNKNOWN1"])
    ]  # fmt: skip
    write_durably(tmp_path / "inbox", "p1.csv", encode_file(pl.DataFrame(rows), kind))
    s.close()
    run_days(tmp_path, "sly", FIRST + dt.timedelta(1), 1, seed=1)
    s = system(tmp_path)
    assert s.cases().row(0, named=True)["paid_to_agency"] == 0
    kept = s.conn.execute("SELECT case_id, amount FROM actions WHERE action = 'agency_payment_unapplied'")
    assert [tuple(r) for r in kept] == [(1, 100), (None, 100)]


def test_a_closed_case_referred_again_is_a_new_case_and_the_old_one_stays_closed(tmp_path: Path) -> None:
    kind = get_kind("case_referral")
    frame = MAKERS[kind.name](kind, np.random.default_rng(1), 1, 1, Setting(FIRST, SENDER, big5_only=False))
    write_durably(tmp_path / "inbox", "d1.csv", encode_file(frame, kind))
    run_days(tmp_path, "sly", FIRST, 1, seed=1)
    s = system(tmp_path)
    s.conn.execute("UPDATE cases SET stage = 'seized', received = '2024-01-01'")
    s.close()
    day = FIRST
    for _ in range(100):  # bounded: the case closes within a few days at these odds
        day += dt.timedelta(1)
        run_days(tmp_path, "sly", day, 1, seed=1)
        if system(tmp_path).cases()["status"][0] == "CLOSED":
            break
    closed = system(tmp_path).cases().row(0, named=True)
    assert closed["status"] == "CLOSED"
    again = frame.with_columns(pl.lit("Y").alias("re_referral"))
    write_durably(tmp_path / "inbox", "d2.csv", encode_file(again, kind))
    run_days(tmp_path, "sly", day + dt.timedelta(1), 1, seed=1)
    cases = system(tmp_path).cases()
    assert cases.height == 2
    assert cases.row(0, named=True) == closed
    assert cases["branch_case_no"].n_unique() == 2
    assert cases.row(1, named=True)["status"] == "ASSIGNED"


def test_a_day_played_again_changes_nothing(tmp_path: Path) -> None:
    referrals(tmp_path, 100)
    run_days(tmp_path, "sly", FIRST, 5, seed=2)
    before = system(tmp_path).cases()
    events = len(system(tmp_path).events())
    again = run_days(tmp_path, "sly", FIRST + dt.timedelta(2), 3, seed=2)
    assert [d.events for d in again] == [0, 0, 0]
    assert system(tmp_path).cases().equals(before)
    assert len(system(tmp_path).events()) == events

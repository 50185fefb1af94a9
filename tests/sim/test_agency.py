"""The reference agency: its files validate (but for the planted mistakes), a day is produced once,
payments stay within what is owed, and the same seed gives the same files."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from aedx.cli import app
from aedx.formats import Format
from aedx.kinds import get_kind
from aedx.sim.adapter import EXTENSIONS, FORMATS, encode_file, write_durably
from aedx.sim.agency import AgencySystem, run_days
from aedx.validation import Options, validate_file

CODE = "A383000000"
FIRST = dt.date(2024, 11, 1)


def report(path: Path, day: dt.date, encoding: str = "utf-8") -> tuple[int, int]:
    kind = get_kind(path.name.split("-")[0])
    found = validate_file(path, kind, FORMATS[path.suffix[1:]], encoding, Options(sender=CODE, today=day))
    return found.records, found.error_rows


@pytest.mark.parametrize(
    ("fmt", "encoding"), [(Format.CSV, "utf-8"), (Format.FIXED, "cp950"), (Format.JSONL, "utf-8")]
)
def test_the_agency_files_validate_and_only_the_mistaken_ones_carry_errors(
    tmp_path: Path, fmt: Format, encoding: str
) -> None:
    days = run_days(tmp_path, CODE, FIRST, 5, seed=2, mistake_rate=0.5, fmt=fmt, encoding=encoding)
    files = sorted((tmp_path / "outbox").iterdir())
    assert sum(d.mistakes for d in days) > 0
    assert {p.suffix[1:] for p in files} == {EXTENSIONS[fmt]}
    for path in files:
        records, errors = report(path, FIRST + dt.timedelta(days=5), encoding)
        assert records > 0
        assert (errors > 0) == path.stem.endswith("-x"), path.name


def test_payments_follow_feedback_and_stay_within_what_is_owed(tmp_path: Path) -> None:
    run_days(tmp_path, CODE, FIRST, 1, seed=4, volume=200)
    agency = AgencySystem(tmp_path, CODE)
    cases = agency.cases()
    feedback = get_kind("status_feedback")
    rows = [
        {"branch_code": "sly", "branch_case_no": f"士執甲113年罰執字第{i:08d}號", "agency_code": CODE,
         "agency_case_no": no, "event": "ASSIGNED", "event_date": "1131101", "amount": None,
         "close_reason": None, "officer": None}
        for i, no in enumerate(cases["agency_case_no"], 1)
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema={n: pl.String for n in feedback.names})
    write_durably(tmp_path / "inbox", "d1.csv", encode_file(frame, feedback))
    agency.close()
    days = run_days(tmp_path, CODE, FIRST + dt.timedelta(days=1), 10, seed=4, volume=200)
    assert days[0].feedback == cases.height
    agency = AgencySystem(tmp_path, CODE)
    seen = agency.cases()
    assert (seen["paid_here"] <= seen["amount_due"]).all()
    assert seen["paid_here"].sum() > 0
    for path in (tmp_path / "outbox").glob("payment-*.csv"):
        assert report(path, FIRST + dt.timedelta(days=11))[1] == 0


def test_a_day_is_produced_once_and_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    run_days(tmp_path / "a", CODE, FIRST, 3, seed=8)
    run_days(tmp_path / "a", CODE, FIRST, 3, seed=8)
    run_days(tmp_path / "b", CODE, FIRST, 3, seed=8)
    a = {p.name: p.read_bytes() for p in (tmp_path / "a" / "outbox").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b" / "outbox").iterdir()}
    assert a == b
    assert (
        AgencySystem(tmp_path / "a", CODE).cases().height == AgencySystem(tmp_path / "b", CODE).cases().height
    )


def test_the_commands_play_days_on_folders(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["sim", "agency", "--code", CODE, "--folder", str(tmp_path / "a"),
                               "--day", "2024-11-01", "--days", "2"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "referrals" in done.output
    (tmp_path / "b" / "inbox").mkdir(parents=True)
    for path in (tmp_path / "a" / "outbox").glob("case_referral-*.csv"):
        if not path.stem.endswith("-x"):
            path.replace(tmp_path / "b" / "inbox" / path.name)
    done = runner.invoke(app, ["sim", "branch", "--code", "sly", "--folder", str(tmp_path / "b"),
                               "--day", "2024-11-03", "--days", "3", "--seed", "1"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "b" / "outbox").glob("status_feedback-sly-*.csv"))) == 3


def test_the_agency_reads_what_its_client_filed_as_rejected(tmp_path: Path) -> None:
    """A rejected referral file (with the platform's report) marks its cases rejected; a file refused
    before it was taken is noted with the platform's answer; each is read once; rejected cases are
    not paid."""
    agency = AgencySystem(tmp_path, CODE, seed=4, volume=30)
    try:
        agency.produce(FIRST, mistake_rate=0.0)
        rejected = tmp_path / "rejected"
        rejected.mkdir()
        referral = next((tmp_path / "outbox").glob("case_referral-*.csv"))
        referral.replace(rejected / referral.name)  # as the client files it: the file, receipt, report
        (rejected / f"{referral.name}.receipt.p7s").write_bytes(b"signed")
        (rejected / f"{referral.name}.report.csv").write_text(
            'row,field,code,message\n1,obligor_id,ID_CHECKSUM,"bad, very"\n2,amount_due,NOT_NUMBER,x\n',
            encoding="utf-8-sig",
        )
        stray = rejected / "case_referral-A383000000-20241101-x.csv"
        stray.write_bytes((rejected / referral.name).read_bytes())
        (rejected / f"{stray.name}.refused.txt").write_text("403 auth.denied: not granted\n")
        (rejected / "half-written.csv.part").write_bytes(b"")  # not filed: no report beside it
        referred = agency.cases().height
        assert agency.note_rejections(rejected) == 2
        assert agency.note_rejections(rejected) == 0
        noted = {
            r["name"]: (r["kind"], r["records"], r["findings"], r["reason"]) for r in agency.rejections()
        }
        assert noted[referral.name] == ("case_referral", referred, 2, "rejected")
        assert noted[stray.name][3].startswith("403 auth.denied")
        assert set(agency.cases()["status"]) == {"REJECTED"}
        agency.conn.execute("UPDATE cases SET branch_code = 'sly'")  # even once a branch were known
        assert agency._payments(FIRST + dt.timedelta(days=1), random.Random(1)).height == 0
    finally:
        agency.close()

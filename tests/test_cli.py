"""The ``aedx`` command as an officer or a script uses it: exit codes, JSON, samples, specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AEDX = [sys.executable, "-m", "aedx"]


def aedx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*AEDX, *args], capture_output=True, cwd=cwd, timeout=120, check=False)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "referrals.csv"
    truth = str(folder / "truth.csv")
    done = aedx(
        "sim", "generate", "--kind", "case_referral", "--records", "2000", "--error-rate", "0.05",
        "--seed", "9", "--out", str(out), "--truth", truth, "--today", "2026-11-25",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return out


def test_validate_json_lists_every_finding_with_its_row(sample: Path) -> None:
    done = aedx(
        "validate", "--kind", "case_referral", str(sample), "--json", "--today", "2026-11-25",
        "--sender", "A383000000",
    )  # fmt: skip
    assert done.returncode == 1
    report = json.loads(done.stdout)
    truth = (sample.parent / "truth.csv").read_text().splitlines()[1:]
    assert report["kind"] == "case_referral"
    assert report["rows"] == 2000
    assert report["error_rows"] >= len({line.split(",")[0] for line in truth}) - 10  # a few are warnings
    finding = report["findings"][0]
    assert set(finding) >= {"row", "field", "code", "severity", "message_zh", "message_en"}
    planted = {(int(r), c) for r, c, _ in (line.split(",") for line in truth)}
    found = {(f["row"], f["code"]) for f in report["findings"]}
    assert planted <= found


def test_validate_exit_codes(tmp_path: Path) -> None:
    valid = tmp_path / "valid.csv"
    valid.write_bytes(aedx("kinds", "sample", "payment", "--records", "20").stdout)
    assert aedx("validate", "--kind", "payment", str(valid)).returncode == 0
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    done = aedx("validate", "--kind", "payment", str(empty))
    assert done.returncode == 2
    assert len(done.stderr.decode().splitlines()) == 1  # one line, however narrow the terminal
    assert "file.empty" in done.stderr.decode()
    assert aedx("validate", "--kind", "no_such_kind", str(valid)).returncode == 2
    assert aedx("validate", "--kind", "payment", str(tmp_path / "missing.csv")).returncode == 2


def test_validate_writes_reports(sample: Path, tmp_path: Path) -> None:
    for suffix in ("json", "csv", "xlsx", "ods"):
        report = tmp_path / f"report.{suffix}"
        done = aedx("validate", "--kind", "case_referral", str(sample), "--report", str(report))
        assert done.returncode == 1, done.stderr.decode()
        assert report.stat().st_size > 1000


def test_sender_mismatch_needs_the_sender(tmp_path: Path) -> None:
    sample = tmp_path / "sample.csv"
    sample.write_bytes(aedx("kinds", "sample", "case_referral").stdout)
    assert aedx("validate", "--kind", "case_referral", str(sample), "--sender", "A383000000").returncode == 0
    done = aedx("validate", "--kind", "case_referral", str(sample), "--sender", "B100000000", "--json")
    assert done.returncode == 1
    assert {f["code"] for f in json.loads(done.stdout)["findings"]} == {"sender.mismatch"}


@pytest.mark.parametrize(
    ("fmt", "encoding"), [("csv", "utf-8"), ("csv", "big5"), ("fixed", "cp950"), ("jsonl", "utf-8")]
)
def test_samples_are_valid_in_every_format(tmp_path: Path, fmt: str, encoding: str) -> None:
    sample = tmp_path / f"sample.{fmt}"
    done = aedx("kinds", "sample", "status_feedback", "--format", fmt, "--encoding", encoding)
    sample.write_bytes(done.stdout)
    check = aedx("validate", "--kind", "status_feedback", str(sample), "-f", fmt, "-e", encoding)
    assert check.returncode == 0, check.stdout.decode()


def test_kinds_list_and_spec() -> None:
    listing = aedx("kinds", "list").stdout.decode()
    assert "case_referral" in listing and "status_feedback" in listing
    spec = aedx("kinds", "spec", "case_referral").stdout.decode()
    assert spec.startswith("# 移送案件 `case_referral`")
    assert "| 5 | `obligor_id` |" in spec
    assert "`amount.sum_mismatch`" in spec and "```csv" in spec

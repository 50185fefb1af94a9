"""Every error the generator plants is found, and no valid record is flagged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from aedx.formats import Format
from aedx.kinds import KINDS, get_kind
from aedx.sim.generate import Request, generate
from aedx.sim.records import DEFAULT_SENDERS
from aedx.validation import Options, validate_file

TODAY = dt.date(2026, 11, 25)


def write(tmp_path: Path, request: Request) -> tuple[Path, pl.DataFrame]:
    path = tmp_path / f"{request.kind.name}.{request.fmt}"
    truths = []
    with path.open("wb") as out:
        for piece in generate(request):
            out.write(piece.data)
            truths.append(piece.truth)
    return path, pl.concat(truths)


def compare(path: Path, truth: pl.DataFrame, request: Request) -> tuple[list[tuple[int, str]], list[int]]:
    sender = request.sender or DEFAULT_SENDERS[request.kind.name]
    report = validate_file(
        path, request.kind, Format(request.fmt), request.encoding, Options(sender=sender, today=TODAY)
    )
    found = set(report.findings.select("row", "code").iter_rows())
    missed = [
        (row, code) for row, code in truth.select("row", "code").iter_rows() if (row, code) not in found
    ]
    planted_rows = set(truth["row"].to_list())
    flagged = sorted({r for r in report.findings["row"].drop_nulls().to_list() if r not in planted_rows})
    assert report.findings.filter(pl.col("row").is_null()).height == 0  # control record agrees
    return missed, flagged


@pytest.mark.slow
def test_every_planted_error_is_found_in_100000_referrals(tmp_path: Path) -> None:
    request = Request(get_kind("case_referral"), 100_000, error_rate=0.02, seed=11, today=TODAY, control=True)
    path, truth = write(tmp_path, request)
    assert truth.height == 2_000
    planted_codes = set(truth["code"])
    assert len(planted_codes) >= 25  # every rule of the kind, not a few favourites
    missed, flagged = compare(path, truth, request)
    assert missed == []
    assert flagged == []


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    ("fmt", "encoding"), [("csv", "cp950"), ("fixed", "utf-8"), ("fixed", "cp950"), ("jsonl", "utf-8")]
)
def test_planted_errors_in_every_format(tmp_path: Path, kind: str, fmt: str, encoding: str) -> None:
    request = Request(
        get_kind(kind), 3_000, fmt, encoding, 0.1, seed=3, today=TODAY, control=True, chunk_records=1_000
    )
    path, truth = write(tmp_path, request)
    assert truth.height == 300
    missed, flagged = compare(path, truth, request)
    assert missed == []
    assert flagged == []


def test_planted_codes_cover_the_declared_rules() -> None:
    """A kind's checks and field types each have an injection, so a new rule cannot go untested."""
    request = Request(get_kind("payment"), 2_000, error_rate=0.5, seed=1, today=TODAY)
    codes = set(pl.concat([p.truth for p in generate(request)])["code"])
    assert {
        "required", "code.format", "id.format", "id.checksum", "ubn.checksum", "date.format",
        "date.invalid", "date.future", "amount.format", "amount.not_positive", "enum.invalid",
        "payment.full_mismatch", "payment.channel_limit", "sender.mismatch", "record.duplicate",
    } <= codes  # fmt: skip


def test_a_valid_file_has_no_findings(tmp_path: Path) -> None:
    for name in KINDS:
        request = Request(get_kind(name), 5_000, seed=5, today=TODAY)
        path, truth = write(tmp_path, request)
        assert truth.height == 0
        report = validate_file(path, request.kind, Format.CSV, "utf-8", Options(today=TODAY))
        assert report.findings.height == 0, report.findings.head()
        assert report.records == 5_000

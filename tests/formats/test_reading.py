"""Readers: the same records give the same findings in every encoding, line end and format."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from tests.builders import VALID, check, flat, records, unusable, write

from aedx.formats import Limits

C, P = "case_referral", "payment"
PLANTED = [{"obligor_id": "A123456788"}, {}, {"due_date": "1120229"}, {}, {"debt_category": "X"}]
EXPECTED = [
    (1, "obligor_id", "id.checksum"),
    (3, "due_date", "date.invalid"),
    (5, "debt_category", "enum.invalid"),
]


@pytest.mark.parametrize(
    ("fmt", "encoding", "transform"),
    [
        ("csv", "utf-8", lambda b: b),
        ("csv", "utf-8", lambda b: codecs.BOM_UTF8 + b),
        ("csv", "utf-8", lambda b: b.replace(b"\r\n", b"\n")),
        ("csv", "cp950", lambda b: b),
        ("csv", "big5", lambda b: b.replace(b"\r\n", b"\n") + b"\n\n"),
        ("fixed", "utf-8", lambda b: b),
        ("fixed", "cp950", lambda b: b.replace(b"\r\n", b"\n")),
        ("jsonl", "utf-8", lambda b: b),
        ("jsonl", "cp950", lambda b: b),
    ],
)
def test_same_findings_everywhere(tmp_path: Path, fmt: str, encoding: str, transform: object) -> None:
    source = write(
        tmp_path / "src", C, records(C, *PLANTED), fmt, "cp950" if encoding == "big5" else encoding
    )
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(transform(source.read_bytes()))  # type: ignore[operator]
    report = check(path, C, fmt, encoding)
    assert flat(report) == EXPECTED
    assert report.records == len(PLANTED)


def test_fixed_width_counts_bytes_and_strips_padding(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", C, records(C), "fixed", "cp950")
    line = path.read_bytes().rstrip(b"\r\n")
    assert len(line) == sum(f.width for f in __import__("aedx.kinds", fromlist=["x"]).get_kind(C).fields)
    assert b"000000054910" in line  # amounts right-aligned, zero-padded
    assert flat(check(path, C, "fixed", "cp950")) == []
    short = tmp_path / "short.txt"
    short.write_bytes(path.read_bytes() + line[:-3] + b"\r\n")
    assert flat(check(short, C, "fixed", "cp950")) == [(2, None, "record.length")]


def test_json_lines_take_numbers_for_amounts_and_report_broken_lines(tmp_path: Path) -> None:
    valid = VALID[P] | {"paid_amount": 12000, "remaining_amount": 42910}
    import json

    good = json.dumps(valid, ensure_ascii=False)
    second = json.dumps(valid | {"receipt_no": "R2"}, ensure_ascii=False)
    path = tmp_path / "f.jsonl"
    path.write_text(f"{good}\n{{broken\n{second}\n", encoding="utf-8")
    assert flat(check(path, P, "jsonl")) == [(2, None, "record.json")]


def test_malformed_csv_rows(tmp_path: Path) -> None:
    text = write(tmp_path / "s.csv", P, records(P, {}, {}, {}, {})).read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]  # one field short
    lines[3] = lines[3] + ",extra"  # one field too many
    lines[4] = '"' + lines[4].replace(",", '","') + '"'  # every field quoted: fine
    path = tmp_path / "f.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    assert flat(check(path, P)) == [(2, None, "record.malformed"), (3, None, "record.malformed")]


def test_row_numbers_hold_across_chunks(tmp_path: Path) -> None:
    overrides = [{} for _ in range(600)]
    for row in (1, 137, 299, 300, 301, 599, 600):
        overrides[row - 1] = {"paid_date": "1130230"}
    path = write(tmp_path / "f.csv", P, records(P, *overrides))
    small = Limits(chunk_bytes=4096)
    report = check(path, P, limits=small)
    assert [r for r, _, _ in flat(report)] == [1, 137, 299, 300, 301, 599, 600]
    assert report.records == 600
    fixed = write(tmp_path / "f.txt", P, records(P, *overrides), "fixed", "cp950")
    assert [r for r, _, _ in flat(check(fixed, P, "fixed", "cp950", limits=small))] == [
        1,
        137,
        299,
        300,
        301,
        599,
        600,
    ]


def test_missing_optional_columns_are_allowed(tmp_path: Path) -> None:
    frame = records(C).drop("remarks", "representative_id")
    path = tmp_path / "f.csv"
    path.write_bytes(frame.write_csv().encode())
    assert flat(check(path, C)) == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "file.empty"),
        (codecs.BOM_UTF8 + b"\r\n\r\n", "file.empty"),
        (b"PK\x03\x04\x00\x00binary", "file.binary"),
        (b"agency_code,agency_case_no,obligr_id\nA1,B2,C3\n", "header.unknown"),
        (b"agency_code,agency_case_no\nA1,B2\n", "header.missing"),
        (b"agency_code,agency_code\nA1,A1\n", "header.duplicate"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert unusable(path, P) == code


def test_unknown_column_message_suggests_the_name(tmp_path: Path) -> None:
    from aedx.findings import UnusableInput

    header = ",".join(VALID[P]).replace("receipt_no", "reciept_no")
    path = tmp_path / "f.csv"
    path.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(UnusableInput, match=r"reciept_no（receipt_no\?）"):
        check(path, P)


def test_size_limit_encoding_and_control_record(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", P, records(P, {}, {}))
    assert unusable(path, P, limits=Limits(max_bytes=100)) == "file.too_large"
    assert unusable(path, P, encoding="shift_jis") == "file.encoding"
    broken = tmp_path / "c.csv"
    broken.write_bytes(path.read_bytes() + b"#CONTROL,two,100\r\n")
    assert unusable(broken, P) == "control.malformed"
    assert unusable(tmp_path / "absent.csv", P) == "file.missing"

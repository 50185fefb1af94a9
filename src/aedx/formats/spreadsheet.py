"""Cells of the spreadsheets and CSV files people open: never a live formula.

A value an agency sent (or a refused caller typed) may begin with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return; Excel and LibreOffice read such a cell of a CSV file as a formula
(``=HYPERLINK(...)`` leaks data or runs commands). Every CSV or spreadsheet the platform writes for
people goes through this module: in CSV such text gets a leading apostrophe (OWASP, CSV injection);
in XLSX every text is written as a string cell, numbers stay numbers. The exchange files themselves
(``formats.writers``) are data for machines and keep the values as sent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise(text: str) -> str:
    """Text a spreadsheet would read as a formula, with a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: object) -> object:
    """A CSV cell: None as empty, text neutralised, numbers as they are."""
    if value is None:
        return ""
    return neutralise(value) if isinstance(value, str) else value


def csv_row(values: Iterable[object]) -> list[object]:
    return [csv_cell(v) for v in values]


def csv_writer(handle: IO[str], **options: Any) -> Any:
    """A ``csv.writer`` whose rows are neutralised cell by cell."""
    return _SafeWriter(csv.writer(handle, **options))


class _SafeWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow(csv_row(row))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of a frame neutralised, for ``DataFrame.write_csv``."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def write_xlsx_row(sheet: Any, row: int, values: Iterable[object], cell_format: Any = None) -> None:
    """One row of an XlsxWriter sheet: text always as a string cell (``write_row`` would turn
    ``=...`` into a formula), numbers as numbers, None as an empty cell."""
    for column, value in enumerate(values):
        write_xlsx_cell(sheet, row, column, value, cell_format)


def write_xlsx_cell(sheet: Any, row: int, column: int, value: object, cell_format: Any = None) -> None:
    if value is None:
        sheet.write_blank(row, column, None, cell_format)
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value, cell_format)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value, cell_format)
    else:
        sheet.write_string(row, column, str(value), cell_format)

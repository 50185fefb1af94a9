"""Tables for people to open in Excel: CSV in UTF-8 with a byte-order mark (so Excel reads the
Chinese text) and XLSX, headed by labels in words. Every cell is written as text, and a value that
a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) is neutralised
with a leading apostrophe (OWASP CSV injection), numbers excepted."""

from __future__ import annotations

import io

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
SHEET_ROWS = 1_048_575  # one row is the heading
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class TooManyRows(ValueError):
    """More rows than one XLSX sheet holds."""


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, formula-like values neutralised."""

    def neutral(c: str) -> pl.Expr:
        text = pl.col(c).cast(pl.String)
        risky = text.str.contains(FORMULA_START) & ~text.str.contains(NUMBER)
        return pl.when(risky).then(pl.lit("'") + text).otherwise(text).alias(c)

    return frame.select(neutral(c) for c in frame.columns)


def csv_bytes(frame: pl.DataFrame, headers: list[str]) -> bytes:
    out = io.BytesIO()
    out.write("\ufeff".encode())
    as_text(frame).rename(dict(zip(frame.columns, headers, strict=True))).write_csv(out)
    return out.getvalue()


def xlsx_bytes(frame: pl.DataFrame, headers: list[str], sheet: str) -> bytes:
    import xlsxwriter

    if frame.height > SHEET_ROWS:
        raise TooManyRows(frame.height)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True})
    bold = book.add_format({"bold": True})
    page = book.add_worksheet(sheet)
    page.write_row(0, 0, headers, bold)
    for r, row in enumerate(as_text(frame).iter_rows(), start=1):
        for c, value in enumerate(row):
            if value is not None:
                page.write_string(r, c, value)
    page.set_column(0, max(len(headers) - 1, 0), 18)
    page.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def attachment(name: str) -> dict[str, str]:
    """The headers of a download of ours, saved under ``name``."""
    return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{name}"'}  # fmt: skip

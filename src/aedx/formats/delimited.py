"""Delimited text: CSV with a header row, and fixed-width records once split into fields."""

from __future__ import annotations

import csv
import io

import polars as pl

from aedx import findings
from aedx.formats.records import MALFORMED, ROW

_END = "__end"  # a sentinel column appended to every line: a short or long line loses it
_SENTINEL = b"\x01"


def whole_lines(data: bytes) -> bytes:
    """The chunk without trailing blank lines, ending in one line end (copies only when needed)."""
    if data.endswith(b"\n") and not data.endswith((b"\n\n", b"\n\r\n")):
        return data
    data = data.rstrip(b"\r\n")
    return data + b"\n" if data else b""


def parse(
    data: bytes,
    names: list[str],
    first_row: int,
    *,
    separator: str = ",",
    quoting: bool = True,
    skip_lines: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """Split UTF-8 lines (LF or CRLF) into String columns ``names``.

    Returns the well-formed records (with ``__row``), findings for the malformed ones, and
    whether invalid UTF-8 had to be replaced; ``skip_lines`` (0 or 1) skips a header line. A
    sentinel field appended to every line shows which lines had too few or too many fields,
    without a second pass over the text.
    """
    data = whole_lines(data)
    if skip_lines and data.find(b"\n") + 1 == len(data):  # a header and no records
        data = b""
    if not data:
        empty = pl.DataFrame(schema={**{n: pl.String for n in names}, ROW: pl.Int64})
        return empty, findings.empty(), False
    marked = data.replace(b"\n", separator.encode() + _SENTINEL + b"\n")
    lossy = False
    try:
        frame = _read(marked, names, separator, quoting, "utf8", skip_lines)
    except pl.exceptions.ComputeError as error:
        if "utf-8" not in str(error).lower():
            return _parse_slowly(data, names, first_row, separator, quoting, skip_lines)
        frame, lossy = _read(marked, names, separator, quoting, "utf8-lossy", skip_lines), True
    if frame.height != data.count(b"\n") - skip_lines:
        return _parse_slowly(data, names, first_row, separator, quoting, skip_lines)
    frame = frame.with_columns(pl.int_range(first_row, first_row + frame.height).alias(ROW))
    well_formed = (pl.col(_END) == _SENTINEL.decode()).fill_null(False)
    if frame.select(well_formed.all()).item():
        return frame.drop(_END), findings.empty(), lossy
    bad = frame.filter(~well_formed)
    problems = findings.frame(MALFORMED, bad[ROW].to_list(), expected=len(names))
    return frame.filter(well_formed).drop(_END), problems, lossy


def _read(
    data: bytes, names: list[str], sep: str, quoting: bool, encoding: str, skip_lines: int
) -> pl.DataFrame:
    columns = [*names, _END]
    return pl.read_csv(
        data,
        has_header=False,
        skip_lines=skip_lines,
        new_columns=columns,
        schema=dict.fromkeys(columns, pl.String),
        separator=sep,
        quote_char='"' if quoting else None,
        encoding=encoding,  # type: ignore[arg-type,unused-ignore]
        truncate_ragged_lines=True,
        raise_if_empty=False,
    )


def _parse_slowly(
    data: bytes, names: list[str], first_row: int, separator: str, quoting: bool, skip_lines: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """Line by line, for the rare chunk the fast reader cannot split (stray quotes)."""
    if skip_lines:
        data = data[data.find(b"\n") + 1 :]
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=separator,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        strict=False,
    )
    good: list[list[str]] = []
    rows: list[int] = []
    bad: list[int | None] = []
    for number, record in enumerate(reader, start=first_row):
        if len(record) == len(names):
            good.append(record)
            rows.append(number)
        else:
            bad.append(number)
    frame = pl.DataFrame(
        [list(column) for column in zip(*good, strict=True)] if good else [[]] * len(names),
        schema=dict.fromkeys(names, pl.String),
        orient="col",
    ).with_columns(pl.Series(ROW, rows, dtype=pl.Int64))
    return frame, findings.frame(MALFORMED, bad, expected=len(names)), "\ufffd" in text

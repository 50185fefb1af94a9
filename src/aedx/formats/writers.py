"""Writing records of a kind as CSV, fixed-width or JSON Lines in a given encoding."""

from __future__ import annotations

import io
import json

import polars as pl

from aedx.formats.source import ControlRecord, canonical_encoding
from aedx.schema import FieldType, Kind

CRLF = "\r\n"
NON_ASCII = r"[^\x00-\x7F]"


def encode_records(
    frame: pl.DataFrame,
    kind: Kind,
    fmt: str,
    encoding: str,
    *,
    header: bool = True,
    errors: str = "strict",
) -> bytes:
    """The records as bytes of the file format; ``header`` for a file's first chunk."""
    encoding = canonical_encoding(encoding)
    frame = frame.select(kind.names)
    if fmt == "csv" and encoding == "utf-8":  # straight to bytes, no text in between
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=header, null_value="", line_terminator=CRLF)
        return buffer.getvalue()
    if fmt == "csv":
        text = frame.write_csv(include_header=header, null_value="", line_terminator=CRLF)
    elif fmt == "fixed":
        text = _fixed_lines(frame, kind, encoding)
    elif fmt == "jsonl":
        text = frame.write_ndjson()
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return text.encode(encoding, errors=errors)


def _fixed_lines(frame: pl.DataFrame, kind: Kind, encoding: str) -> str:
    """Each field padded to its byte width: text with spaces, amounts with leading zeros."""
    if frame.height == 0:
        return ""
    padded, overflow = [], []
    for f in kind.fields:
        col = pl.col(f.name).fill_null("")
        if f.type is FieldType.AMOUNT:
            col = pl.when(col == "").then(col).otherwise(col.str.zfill(f.width))
        size = col.str.len_bytes()
        if encoding == "cp950":  # one byte for ASCII, two for every other character
            size = col.str.len_chars() + col.str.count_matches(NON_ASCII)
        pad = pl.lit(f.width, pl.Int64) - size.cast(pl.Int64)
        padded.append(pl.concat_str([col, pl.lit(" " * f.width).str.slice(0, pad.clip(0))]))
        overflow.append(pad < 0)
    lines = frame.select(pl.concat_str(padded).alias("line"), pl.any_horizontal(overflow).alias("over"))
    if lines["over"].any():
        first = int(lines["over"].arg_true()[0]) + 1
        raise ValueError(f"record {first} does not fit the fixed widths of {kind.name}")
    return CRLF.join(lines["line"].to_list()) + CRLF


def control_line(fmt: str, control: ControlRecord) -> bytes:
    """The trailer that declares the record count and amount total."""
    if fmt == "jsonl":
        body = {"records": control.records, "amount_total": control.amount_total}
        return (json.dumps({"#control": body}) + "\n").encode()
    return f"#CONTROL,{control.records},{control.amount_total}{CRLF}".encode()


def amount_total(frame: pl.DataFrame, kind: Kind) -> int:
    """The control total of well-formed amounts, as the engine computes it."""
    if kind.control_amount is None:
        return 0
    values = frame[kind.control_amount].str.strip_chars()
    return int(values.filter(values.str.contains(r"^[0-9]+$")).str.to_integer().sum() or 0)

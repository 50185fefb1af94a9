"""What every reader yields: batches of records as text columns, with their record numbers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from aedx import findings
from aedx.findings import UnusableInput
from aedx.schema import Kind, Severity

ROW = "__row"  # the 1-based record number, header not counted

MALFORMED = findings.define(
    "record.malformed",
    Severity.ERROR,
    "此列欄位數不符，應為 {expected} 欄",
    "this record has the wrong number of fields; expected {expected}",
)
WRONG_LENGTH = findings.define(
    "record.length",
    Severity.ERROR,
    "此列長度不符，固定長度格式每列應為 {expected} 位元組",
    "this record has the wrong length; fixed-width records are {expected} bytes",
)
NOT_AN_OBJECT = findings.define(
    "record.json",
    Severity.ERROR,
    "此列不是合法的 JSON 物件，或含有非字串、非數字之值",
    "this line is not a valid JSON object, or holds a value that is not a string or number",
)


@dataclass
class Batch:
    """Records of one chunk: a String column per field of the kind, plus ``__row``."""

    frame: pl.DataFrame
    lossy: bool  # some bytes could not be decoded and stand as U+FFFD
    problems: pl.DataFrame  # findings the reader raised for records it could not split


def check_columns(kind: Kind, columns: list[str], *, where_zh: str, where_en: str) -> None:
    """Unknown, duplicate and missing required columns make a file unusable."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise UnusableInput(
                "header.duplicate",
                f"{where_zh}欄位 {name} 重複",
                f"column {name} appears twice in the {where_en}",
            )
        seen.add(name)
    unknown = [c for c in columns if c not in kind.names]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, kind.names, n=1)
            hints.append(f"{name}（{close[0]}?）" if close else name)
        raise UnusableInput(
            "header.unknown",
            f"{where_zh}有 {kind.name} 未定義之欄位：{', '.join(hints)}",
            f"the {where_en} has columns {kind.name} does not define: {', '.join(hints)}",
        )
    missing = [f.name for f in kind.fields if f.required and f.name not in seen]
    if missing:
        raise UnusableInput(
            "header.missing",
            f"{where_zh}缺少必要欄位：{', '.join(missing)}",
            f"the {where_en} lacks required columns: {', '.join(missing)}",
        )


BLANKS = " \t\u3000"


def blank_to_null(frame: pl.DataFrame, *, strip: bool) -> pl.DataFrame:
    """Empty values become missing ones; ``strip`` also drops padding (fixed-width files)."""
    columns = []
    for name in frame.columns:
        if name == ROW:
            continue
        col = pl.col(name).str.strip_chars(BLANKS) if strip else pl.col(name)
        columns.append(pl.when(col.str.len_bytes() > 0).then(col).alias(name))
    return frame.with_columns(columns)


def complete(kind: Kind, frame: pl.DataFrame) -> pl.DataFrame:
    """The kind's columns in declared order (absent optional ones null), plus ``__row``."""
    return frame.select(
        [
            pl.col(f.name) if f.name in frame.columns else pl.lit(None, pl.String).alias(f.name)
            for f in kind.fields
        ]
        + [pl.col(ROW)]
    )

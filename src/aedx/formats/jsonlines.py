"""JSON Lines: one object per line; keys are the canonical field names, scalar values."""

from __future__ import annotations

import json

import polars as pl

from aedx import findings
from aedx.formats import delimited
from aedx.formats.records import NOT_AN_OBJECT, ROW, Batch, blank_to_null, check_columns, complete
from aedx.schema import Kind

_SCALAR = (str, int, float, type(None))


class JsonLinesReader:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def batch(self, chunk: bytes, first_row: int, lossy: bool) -> Batch:
        data = delimited.whole_lines(chunk)
        try:
            frame = pl.read_ndjson(data, infer_schema_length=None) if data else pl.DataFrame()
            frame = frame.select(pl.all().cast(pl.String))
            problems = findings.empty()
            if frame.height != data.count(b"\n"):
                raise ValueError("blank or broken lines")
            frame = frame.with_columns(pl.int_range(first_row, first_row + frame.height).alias(ROW))
        except (pl.exceptions.PolarsError, ValueError):
            frame, problems = self._slowly(data, first_row)
        check_columns(
            self.kind,
            [c for c in frame.columns if c != ROW],
            where_zh="JSON 鍵",
            where_en="JSON keys",
        )
        frame = complete(self.kind, blank_to_null(frame, strip=False))
        replaced = any(frame.select(pl.exclude(ROW).str.contains("\ufffd").any()).row(0))
        return Batch(frame, lossy or replaced, problems)

    def _slowly(self, data: bytes, first_row: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Line by line, to find the broken lines by number."""
        records: list[dict[str, str | int | None]] = []
        bad: list[int | None] = []
        for number, line in enumerate(data.splitlines(), start=first_row):
            try:
                obj = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                obj = None
            if not isinstance(obj, dict) or not all(isinstance(v, _SCALAR) for v in obj.values()):
                bad.append(number)
                continue
            records.append({k: None if v is None else str(v) for k, v in obj.items()} | {ROW: number})
        frame = pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()
        if ROW in frame.columns:
            frame = frame.with_columns(pl.exclude(ROW).cast(pl.String), pl.col(ROW).cast(pl.Int64))
        else:
            frame = pl.DataFrame(schema={ROW: pl.Int64})
        return frame, findings.frame(NOT_AN_OBJECT, bad)

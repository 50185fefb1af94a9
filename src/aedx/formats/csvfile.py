"""CSV with a header row of canonical field names."""

from __future__ import annotations

import csv
import io

from aedx.findings import UnusableInput
from aedx.formats import delimited
from aedx.formats.records import Batch, blank_to_null, check_columns, complete
from aedx.schema import Kind


class CsvReader:
    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.columns: list[str] | None = None

    def batch(self, data: bytes, first_row: int, lossy: bool) -> Batch:
        skip = 0
        if self.columns is None:
            self.columns = self._header(data[: data.find(b"\n") + 1 or len(data)])
            skip = 1
        frame, problems, replaced = delimited.parse(data, self.columns, first_row, skip_lines=skip)
        if b'"' in data and b'""' in data:  # a quoted empty value is as missing as an unquoted one
            frame = blank_to_null(frame, strip=False)
        return Batch(complete(self.kind, frame), lossy or replaced, problems)

    def _header(self, line: bytes) -> list[str]:
        text = line.decode("utf-8", errors="replace").strip()
        columns = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
        if not any(columns):
            raise UnusableInput(
                "header.missing", "第一列應為欄位名稱", "the first line must name the columns"
            )
        check_columns(self.kind, columns, where_zh="標題列", where_en="header row")
        return columns

"""Fixed-width records: every field a declared number of bytes in the file's encoding.

The bytes are cut into fields *before* decoding (a CJK character is 2 bytes in CP950 and 3 in
UTF-8), by copying the field slices into a buffer with a unit separator between them; the result
is then decoded once and split by the same fast reader as CSV.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from aedx import findings
from aedx.formats import delimited
from aedx.formats.records import ROW, WRONG_LENGTH, Batch, blank_to_null
from aedx.formats.source import to_utf8
from aedx.schema import Kind

_SEP = 0x1F  # ASCII unit separator: never a CP950 trail byte, never inside UTF-8 text


class FixedReader:
    def __init__(self, kind: Kind, encoding: str) -> None:
        self.kind = kind
        self.encoding = encoding
        self.widths = [f.width for f in kind.fields]

    def split_fields(self, chunk: bytes, first_row: int) -> tuple[bytes, pl.DataFrame, list[int]]:
        """Delimited bytes of the well-formed lines, findings for the others, and their rows."""
        lines = delimited.whole_lines(chunk).splitlines()
        width = sum(self.widths)
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        bad = np.flatnonzero(lengths != width)
        rows = list(range(first_row, first_row + len(lines)))
        problems = findings.empty()
        if bad.size:
            problems = findings.frame(WRONG_LENGTH, [rows[i] for i in bad.tolist()], expected=width)
            keep = np.flatnonzero(lengths == width).tolist()
            lines = [lines[i] for i in keep]
            rows = [rows[i] for i in keep]
        if not lines:
            return b"", problems, rows
        grid = np.frombuffer(b"".join(lines), dtype=np.uint8).reshape(len(lines), width)
        out = np.empty((len(lines), width + len(self.widths)), dtype=np.uint8)
        src = dst = 0
        for w in self.widths:
            out[:, dst : dst + w] = grid[:, src : src + w]
            out[:, dst + w] = _SEP
            src, dst = src + w, dst + w + 1
        out[:, -1] = ord("\n")
        return out.tobytes(), problems, rows

    def batch(self, chunk: bytes, first_row: int) -> Batch:
        data, problems, rows = self.split_fields(chunk, first_row)
        text, lossy = to_utf8(data, self.encoding)
        names = list(self.kind.names)
        frame, more, replaced = delimited.parse(text, names, 1, separator="\x1f", quoting=False)
        frame = frame.with_columns(pl.Series(ROW, rows, dtype=pl.Int64).gather(frame[ROW] - 1))
        return Batch(blank_to_null(frame, strip=True), lossy or replaced, pl.concat([problems, more]))

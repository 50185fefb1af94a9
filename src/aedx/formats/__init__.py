"""Readers: CSV, fixed-width and JSON Lines, in UTF-8 or CP950/Big5, streamed in chunks.

``read_batches`` is the single entry: it enforces the size limit, refuses empty and binary files,
decodes (undecodable bytes become findings, not crashes), takes off the optional control record,
and yields ``Batch`` objects of text columns with their record numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from aedx.findings import UnusableInput
from aedx.formats.csvfile import CsvReader
from aedx.formats.fixedwidth import FixedReader
from aedx.formats.jsonlines import JsonLinesReader
from aedx.formats.records import ROW, Batch
from aedx.formats.source import (
    ControlRecord,
    Limits,
    byte_chunks,
    canonical_encoding,
    mapped,
    split_control,
    to_utf8,
)
from aedx.schema import Kind

__all__ = ["ROW", "Batch", "ControlRecord", "Format", "Limits", "RecordStream", "read_batches"]


class Format(StrEnum):
    CSV = "csv"
    FIXED = "fixed"
    JSONL = "jsonl"

    @classmethod
    def parse(cls, name: str) -> Format:
        try:
            return cls(name.lower())
        except ValueError:
            raise UnusableInput(
                "file.format",
                f"不支援的格式 {name}；可用 csv、fixed、jsonl",
                f"unsupported format {name}; use csv, fixed or jsonl",
            ) from None


def guess_format(path: Path) -> Format:
    suffix = path.suffix.lower().lstrip(".")
    return {"txt": Format.FIXED, "dat": Format.FIXED, "jsonl": Format.JSONL}.get(suffix, Format.CSV)


@dataclass
class RecordStream:
    """The batches of one file; ``control`` and ``records`` are known once they are consumed."""

    kind: Kind
    format: Format
    encoding: str
    control: ControlRecord | None = None
    records: int = 0
    _batches: Iterator[Batch] = field(default_factory=lambda: iter(()))

    def __iter__(self) -> Iterator[Batch]:
        return self._batches


def read_batches(
    path: Path | memoryview, kind: Kind, fmt: Format, encoding: str, limits: Limits | None = None
) -> RecordStream:
    limits = limits or Limits()
    stream = RecordStream(kind, fmt, canonical_encoding(encoding))
    stream._batches = _batches(stream, path, limits)
    return stream


def _batches(stream: RecordStream, path: Path | memoryview, limits: Limits) -> Iterator[Batch]:
    encoding = stream.encoding
    csv_reader = CsvReader(stream.kind)
    json_reader = JsonLinesReader(stream.kind)
    fixed_reader = FixedReader(stream.kind, encoding)
    with mapped(path, limits) as data:
        chunks = byte_chunks(data, limits)
        pending = next(chunks, None)
        while pending is not None:
            chunk, pending = pending, next(chunks, None)
            if pending is None:
                chunk, stream.control = split_control(chunk, jsonl=stream.format is Format.JSONL)
            first_row = stream.records + 1
            if stream.format is Format.FIXED:
                batch = fixed_reader.batch(chunk, first_row)
            else:
                text, lossy = to_utf8(chunk, encoding)
                reader = csv_reader if stream.format is Format.CSV else json_reader
                batch = reader.batch(text, first_row, lossy)
            stream.records += batch.frame.height + batch.problems.height
            yield batch

"""Recognising a file from its first lines: its format, its encoding, and which kinds of exchange
its columns (a CSV header, JSON keys) or its record length (fixed width) fit.

Used to propose the format, encoding and kind of a file before it is sent, and to tell a sender
in one sentence that a file is of another kind than the one chosen."""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from aedx.formats import Format
from aedx.formats.source import CONTROL_MARK
from aedx.kinds import KINDS
from aedx.schema import Kind

SAMPLE_BYTES = 1 << 20  # of the file's start
LINES = 50  # records looked at, at most


def head(content: Path | memoryview | bytes, size: int = SAMPLE_BYTES) -> bytes:
    """The file's first bytes, cut after a line end when there are more (no character in two)."""
    if isinstance(content, Path):
        try:
            with content.open("rb") as f:
                sample = f.read(size)
        except OSError:
            return b""  # a file that is not there says nothing
    else:
        sample = bytes(content[:size])
    if len(sample) == size and b"\n" in sample:
        sample = sample[: sample.rfind(b"\n") + 1]
    return sample


@dataclass(frozen=True)
class Detected:
    format: Format | None  # None: not recognised
    encoding: str | None  # None: plain ASCII (either would do) or neither
    kinds: tuple[Kind, ...]  # every kind the file fits


def encoding_of(sample: bytes) -> str | None:
    sample = sample.removeprefix(codecs.BOM_UTF8)
    if sample.isascii():
        return None
    for encoding in ("utf-8", "cp950"):
        try:
            sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _lines(sample: bytes) -> list[bytes]:
    """The sample's non-blank lines, without a control record."""
    lines = [line for line in sample.removeprefix(codecs.BOM_UTF8).splitlines() if line.strip()]
    return [line for line in lines if not line.startswith((CONTROL_MARK, b'{"#control"'))][: LINES + 1]


def _fits(kind: Kind, columns: list[str]) -> bool:
    """Every column is the kind's, and every required field of the kind is there."""
    return set(columns) <= set(kind.names) and all(f.name in columns for f in kind.fields if f.required)


def _json_keys(lines: list[bytes]) -> list[str] | None:
    keys: dict[str, None] = {}
    for line in lines[:LINES]:
        try:
            obj = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        keys |= dict.fromkeys(obj)
    return list(keys)


def kinds_of(lines: list[bytes], fmt: Format) -> tuple[Kind, ...]:
    if not lines:
        return ()
    if fmt is Format.FIXED:
        lengths = {len(line.rstrip(b"\r")) for line in lines[:LINES]}
        return tuple(k for k in KINDS.values() if lengths == {k.record_width})
    if fmt is Format.JSONL:
        columns = _json_keys(lines)
    else:
        header = lines[0].decode("utf-8", errors="replace")
        columns = [c.strip() for c in next(csv.reader(io.StringIO(header)), [])]
    if not columns:
        return ()
    return tuple(k for k in KINDS.values() if _fits(k, columns))


def detect(sample: bytes) -> Detected:
    """What the file's first lines say of it; a format only when some kind fits it."""
    lines = _lines(sample)
    encoding = encoding_of(sample)
    formats = (
        (Format.JSONL, Format.CSV) if lines and lines[0].startswith(b"{") else (Format.CSV, Format.FIXED)
    )
    for fmt in formats:
        kinds = kinds_of(lines, fmt)
        if kinds:
            return Detected(fmt, encoding, kinds)
    return Detected(None, encoding, ())


def other_kind(kind: Kind, fmt: Format, content: Path | memoryview | bytes) -> Kind | None:
    """The one other kind a file in the format clearly is, when the chosen kind does not fit it."""
    kinds = kinds_of(_lines(head(content)), fmt)
    return kinds[0] if len(kinds) == 1 and kinds[0] is not kind else None

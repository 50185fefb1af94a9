"""Synthetic exchange files: valid records, planted errors, and the truth about them.

``generate`` yields the file a chunk at a time (so a caller can show progress and memory stays
flat) together with the truth: which records carry which planted error.
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from aedx.formats.source import ControlRecord, canonical_encoding
from aedx.formats.writers import amount_total, control_line, encode_records
from aedx.schema import Kind
from aedx.sim.inject import UNDECODABLE_MARK, Injection, injections
from aedx.sim.records import DEFAULT_SENDERS, MAKERS, Setting

DUPLICATE = "record.duplicate"
TRUTH_SCHEMA = {"row": pl.Int64, "code": pl.String, "field": pl.String}


def _user_defined_area(error: UnicodeError) -> tuple[bytes, int]:
    """Big5 user-defined characters (造字) map to the private use area; CP950 cannot decode them."""
    if isinstance(error, UnicodeEncodeError) and error.object[error.start] == UNDECODABLE_MARK:
        return b"\xfa\x40", error.start + 1
    raise error


codecs.register_error("aedx-user-defined", _user_defined_area)


@dataclass(frozen=True)
class Request:
    kind: Kind
    records: int
    fmt: str = "csv"
    encoding: str = "utf-8"
    error_rate: float = 0.0
    seed: int = 0
    today: dt.date | None = None
    sender: str | None = None
    control: bool = False
    chunk_records: int = 100_000


@dataclass(frozen=True)
class Piece:
    data: bytes
    records: int
    truth: pl.DataFrame  # row, code, field of every planted error in this piece


def generate(req: Request) -> Iterator[Piece]:
    encoding = canonical_encoding(req.encoding)
    today = req.today or dt.date.today()
    sender = req.sender or DEFAULT_SENDERS[req.kind.name]
    setting = Setting(today=today, sender=sender, big5_only=encoding == "cp950")
    rng = np.random.default_rng(req.seed)
    rnd = random.Random(req.seed)
    planted = injections(req.kind, today=today, sender=sender, fixed_width=req.fmt == "fixed")
    slots: list[Injection | None] = [*planted, None] if req.kind.unique_key else [*planted]
    errors_due = round(req.records * req.error_rate)
    errors_made = 0
    total = 0
    for start in range(0, req.records, req.chunk_records):
        n = min(req.chunk_records, req.records - start)
        frame = MAKERS[req.kind.name](req.kind, rng, start + 1, n, setting)
        quota = round((start + n) * req.error_rate) - errors_made if errors_due else 0
        frame, truth = _plant(frame, req.kind, slots, errors_made, quota, rnd)
        errors_made += quota
        total += amount_total(frame, req.kind)
        truth = truth.with_columns(pl.col("row") + start)
        yield Piece(_encode(frame, req, encoding, header=start == 0), n, truth)
    if req.control:
        control = control_line(req.fmt, ControlRecord(req.records, total))
        yield Piece(control, 0, pl.DataFrame(schema=TRUTH_SCHEMA))


def _encode(frame: pl.DataFrame, req: Request, encoding: str, *, header: bool) -> bytes:
    if encoding == "cp950":
        return encode_records(frame, req.kind, req.fmt, encoding, header=header, errors="aedx-user-defined")
    data = encode_records(frame, req.kind, req.fmt, encoding, header=header)
    return data.replace(UNDECODABLE_MARK.encode(), b"\xff\xff\xff")  # three bytes, width kept


def _plant(
    frame: pl.DataFrame,
    kind: Kind,
    slots: list[Injection | None],
    offset: int,
    quota: int,
    rnd: random.Random,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plant ``quota`` errors, cycling through every injection so each rule is exercised."""
    if quota <= 0 or frame.height == 0:
        return frame, pl.DataFrame(schema=TRUTH_SCHEMA)
    used: set[int] = set()
    changes: dict[int, dict[str, str | None]] = {}
    truth: list[tuple[int, str, str]] = []
    masks: dict[int, np.ndarray] = {}
    for k in range(quota):
        slot = (offset + k) % len(slots)
        injection = slots[slot]
        if injection is None:
            pair = _duplicate_pair(frame.height, used, rnd)
            if pair is None:
                continue
            first, again = pair
            source = frame.row(first, named=True)
            changes[again] = {name: source[name] for name in kind.unique_key}
            used.update(pair)
            truth.append((again + 1, DUPLICATE, kind.unique_key[0]))
            continue
        if slot not in masks:
            masks[slot] = (
                np.ones(frame.height, dtype=bool)
                if injection.applies is None
                else frame.select(injection.applies.fill_null(False)).to_series().to_numpy()
            )
        candidates = np.flatnonzero(masks[slot])
        row = _free(candidates, used, rnd)
        if row is None:
            continue
        record = frame.row(row, named=True)
        injection.mutate(record, rnd)
        changes[row] = record
        used.add(row)
        truth.append((row + 1, injection.code, injection.field))
    return _apply(frame, changes), pl.DataFrame(truth, schema=TRUTH_SCHEMA, orient="row")


def _free(candidates: np.ndarray, used: set[int], rnd: random.Random) -> int | None:
    for _ in range(20):
        if candidates.size == 0:
            return None
        row = int(candidates[rnd.randrange(candidates.size)])
        if row not in used:
            return row
    free = [int(c) for c in candidates if int(c) not in used]
    return rnd.choice(free) if free else None


def _duplicate_pair(height: int, used: set[int], rnd: random.Random) -> tuple[int, int] | None:
    for _ in range(50):
        first, again = sorted(rnd.sample(range(height), 2)) if height > 1 else (0, 0)
        if first != again and first not in used and again not in used:
            return first, again
    return None


def _apply(frame: pl.DataFrame, changes: dict[int, dict[str, str | None]]) -> pl.DataFrame:
    if not changes:
        return frame
    rows = list(changes)
    columns = {name for change in changes.values() for name in change}
    updates = []
    for name in columns:
        values = [changes[r].get(name, frame[name][r]) for r in rows]
        updates.append(frame[name].scatter(rows, pl.Series(values, dtype=pl.String)))
    return frame.with_columns(updates)

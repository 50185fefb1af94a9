"""The branch adapter: how a case-management system takes deliveries and gives back status events.

A system implements ``CaseSystem``; ``FolderAdapter`` connects it to the folders the exchange client
works with. Each inbox file is imported exactly once: the system records the file's name in the same
transaction as its records, and the adapter moves the file to ``inbox/done/`` only afterwards, so a
crash at any point leaves either nothing imported (the file is taken again) or an imported file
still in the inbox (recognised by its name and only moved). Status events leave as files written
``*.part`` first and renamed, so the client never takes a half-written file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl

from aedx.formats import ROW, Format, read_batches
from aedx.formats.source import ControlRecord
from aedx.formats.writers import amount_total, control_line, encode_records
from aedx.kinds import get_kind
from aedx.schema import Kind

EXTENSIONS = {Format.CSV: "csv", Format.FIXED: "txt", Format.JSONL: "jsonl"}
FORMATS = {"csv": Format.CSV, "txt": Format.FIXED, "dat": Format.FIXED, "jsonl": Format.JSONL}
PART = ".part"
DONE = "done"


class CaseSystem(Protocol):
    """A case-management system as the exchange sees it."""

    def accepts(self) -> tuple[str, ...]:
        """The kinds of delivery it takes (its inbox holds nothing else)."""
        ...

    def imported(self, name: str) -> bool:
        """Whether the delivery of this name was already taken."""
        ...

    def take(self, name: str, kind: str, records: pl.DataFrame) -> int:
        """Import one delivery's records (text columns) together with its name, all or nothing."""
        ...

    def pending_files(self) -> list[tuple[str, str, pl.DataFrame]]:
        """Records to send not yet written out: (file stem, kind, records), oldest first."""
        ...

    def written(self, stem: str) -> None:
        """The file of this stem is safely in the outbox."""
        ...


@dataclass(frozen=True)
class Delivery:
    path: Path
    kind: Kind
    format: Format
    encoding: str


def read_delivery(path: Path, kinds: tuple[str, ...]) -> Delivery:
    """What a downloaded package holds, from its name when it says the kind (``payment-….csv``, or
    ``SENDER-payment-ID.csv`` as the exchange client names it) and otherwise from its first line; the
    encoding is UTF-8 unless the bytes say otherwise (CP950)."""
    fmt = FORMATS.get(path.suffix.lower().lstrip("."), Format.CSV)
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "cp950"
    named = [k for k in kinds if path.name.startswith(k + "-") or f"-{k}-" in path.name]
    if named:
        return Delivery(path, get_kind(named[0]), fmt, encoding)
    first = data.split(b"\n", 1)[0].rstrip(b"\r").lstrip(b"\xef\xbb\xbf")
    for name in kinds:
        kind = get_kind(name)
        if fmt is Format.CSV and first.decode(encoding, "replace").split(",") == list(kind.names):
            return Delivery(path, kind, fmt, encoding)
        if fmt is Format.JSONL and all(f'"{n}"' in first.decode(encoding, "replace") for n in kind.names):
            return Delivery(path, kind, fmt, encoding)
        if fmt is Format.FIXED and len(first) == sum(f.width for f in kind.fields):
            return Delivery(path, kind, fmt, encoding)
    raise ValueError(f"{path.name} is none of {', '.join(kinds)}")


def records_of(delivery: Delivery) -> pl.DataFrame:
    stream = read_batches(delivery.path, delivery.kind, delivery.format, delivery.encoding)
    frames = [b.frame.drop(ROW, strict=False) for b in stream]
    if not frames:
        return pl.DataFrame(schema={n: pl.String for n in delivery.kind.names})
    return pl.concat(frames).select(delivery.kind.names)


def write_durably(folder: Path, name: str, data: bytes) -> Path:
    """Write ``name`` into the folder as ``name.part``, flushed to disk, then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    final, part = folder / name, folder / (name + PART)
    with part.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    part.replace(final)
    _sync_folder(folder)
    return final


def encode_file(frame: pl.DataFrame, kind: Kind, fmt: Format = Format.CSV, encoding: str = "utf-8") -> bytes:
    """Records with the control record the platform checks."""
    control = control_line(fmt.value, ControlRecord(frame.height, amount_total(frame, kind)))
    return encode_records(frame, kind, fmt.value, encoding) + control


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderAdapter:
    """A case system joined to an inbox and an outbox folder."""

    def __init__(self, system: CaseSystem, inbox: Path, outbox: Path) -> None:
        self.system = system
        self.inbox = inbox
        self.outbox = outbox

    def waiting(self) -> list[Path]:
        """Complete files in the inbox, in name order (partial ``*.part`` files are not yet there)."""
        if not self.inbox.exists():
            return []
        return sorted(p for p in self.inbox.iterdir() if p.is_file() and not p.name.endswith(PART))

    def import_inbox(self) -> int:
        """Import each waiting file once; returns the number of records imported."""
        taken = 0
        for path in self.waiting():
            if not self.system.imported(path.name):
                delivery = read_delivery(path, self.system.accepts())
                taken += self.system.take(path.name, delivery.kind.name, records_of(delivery))
            self._done(path)
        return taken

    def export_outbox(self, fmt: Format = Format.CSV, encoding: str = "utf-8") -> list[Path]:
        """Write every file the system has to send into the outbox."""
        paths = []
        for stem, kind, frame in self.system.pending_files():
            data = encode_file(frame, get_kind(kind), fmt, encoding)
            paths.append(write_durably(self.outbox, f"{stem}.{EXTENSIONS[fmt]}", data))
            self.system.written(stem)
        return paths

    def _done(self, path: Path) -> None:
        done = self.inbox / DONE
        done.mkdir(exist_ok=True)
        path.replace(done / path.name)

"""The branch adapter's folders: packages named by delivery id are recognised by their content in
every format and encoding, partial files wait, and a file of another kind is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from aedx.formats import Format
from aedx.kinds import get_kind
from aedx.schema import FieldType
from aedx.sim.adapter import EXTENSIONS, FolderAdapter, encode_file, read_delivery, records_of, write_durably
from aedx.sim.branch.run import DATABASE
from aedx.sim.branch.system import BranchSystem
from aedx.sim.records import MAKERS, Setting

DAY = dt.date(2024, 11, 1)
BRANCH_KINDS = ("case_referral", "payment")


@pytest.mark.parametrize("kind_name", BRANCH_KINDS)
@pytest.mark.parametrize(
    ("fmt", "encoding"),
    [(Format.CSV, "utf-8"), (Format.CSV, "cp950"), (Format.FIXED, "cp950"), (Format.FIXED, "utf-8"),
     (Format.JSONL, "utf-8")],
)  # fmt: skip
def test_a_package_is_recognised_by_its_content(
    tmp_path: Path, kind_name: str, fmt: Format, encoding: str
) -> None:
    kind = get_kind(kind_name)
    frame = MAKERS[kind_name](
        kind, np.random.default_rng(3), 1, 25, Setting(DAY, "A383000000", big5_only=True)
    )
    path = write_durably(tmp_path, f"01a2b3c4.{EXTENSIONS[fmt]}", encode_file(frame, kind, fmt, encoding))
    found = read_delivery(path, BRANCH_KINDS)
    assert (found.kind.name, found.format) == (kind_name, fmt)
    assert found.encoding == encoding or path.read_bytes().isascii()  # ASCII reads the same either way
    amounts = [f.name for f in kind.fields if f.type is FieldType.AMOUNT]  # zero-padded in fixed width
    assert (
        records_of(found)
        .with_columns(pl.col(amounts).cast(pl.Int64))
        .equals(frame.select(kind.names).with_columns(pl.col(amounts).cast(pl.Int64)))
    )


def test_a_package_of_another_kind_is_refused(tmp_path: Path) -> None:
    kind = get_kind("status_feedback")
    frame = MAKERS[kind.name](kind, np.random.default_rng(3), 1, 5, Setting(DAY, "sly", big5_only=True))
    path = write_durably(tmp_path, "01a2b3c4.csv", encode_file(frame, kind))
    with pytest.raises(ValueError, match="none of"):
        read_delivery(path, BRANCH_KINDS)


def test_partial_files_wait_until_they_are_complete(tmp_path: Path) -> None:
    kind = get_kind("case_referral")
    frame = MAKERS[kind.name](
        kind, np.random.default_rng(3), 1, 5, Setting(DAY, "A383000000", big5_only=True)
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv.part").write_bytes(encode_file(frame, kind)[:100])
    system = BranchSystem(tmp_path / DATABASE, "sly")
    system.day = DAY
    adapter = FolderAdapter(system, inbox, tmp_path / "outbox")
    assert adapter.import_inbox() == 0
    (inbox / "a.csv.part").write_bytes(encode_file(frame, kind))
    (inbox / "a.csv.part").replace(inbox / "a.csv")
    assert adapter.import_inbox() == 5
    assert adapter.import_inbox() == 0
    assert system.cases().height == 5

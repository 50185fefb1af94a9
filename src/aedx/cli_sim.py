"""``aedx sim branch`` and ``aedx sim agency``: the reference systems' working days on folders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.sim import agency
from aedx.sim.branch import run as branch_run

FolderOption = Annotated[Path, typer.Option("--folder", help="inbox/, outbox/ and the system's database")]
DayOption = Annotated[
    dt.datetime, typer.Option("--day", formats=["%Y-%m-%d"], help="the first simulated day")
]
DaysOption = Annotated[int, typer.Option("--days", min=1, max=3660, help="how many days")]
SeedOption = Annotated[int, typer.Option("--seed", help="the same seed plays the same days")]
FileFormatOption = Annotated[str, typer.Option("--format", help="the files it writes: csv, fixed, jsonl")]
EncodingOption = Annotated[str, typer.Option("--encoding", help="utf-8, cp950")]


def register(sim_app: typer.Typer) -> None:
    sim_app.command("branch")(branch)
    sim_app.command("agency")(agency_days)


def branch(
    code: Annotated[str, typer.Option("--code", help="the branch, e.g. sly")],
    folder: FolderOption,
    day: DayOption,
    days: DaysOption = 1,
    seed: SeedOption = 0,
    fmt: FileFormatOption = "csv",
    encoding: EncodingOption = "utf-8",
) -> None:
    """分署參考系統 Reference branch system: import the inbox, play the days, export status feedback."""
    played = branch_run.run_days(
        folder,
        code,
        day.date(),
        days,
        seed=seed,
        fmt=Format.parse(fmt),
        encoding=canonical_encoding(encoding),
    )
    for d in played:
        typer.echo(f"{d.day} {code}: imported {d.imported}, events {d.events}, files {d.files}")


def agency_days(
    code: Annotated[str, typer.Option("--code", help="the agency, e.g. A383000000")],
    folder: FolderOption,
    day: DayOption,
    days: DaysOption = 1,
    seed: SeedOption = 0,
    volume: Annotated[int, typer.Option("--volume", min=1, help="typical referrals a day")] = 40,
    fmt: FileFormatOption = "csv",
    encoding: EncodingOption = "utf-8",
) -> None:
    """移送機關參考系統 Reference agency: read feedback and rejections, write referrals and payments."""
    played = agency.run_days(
        folder, code, day.date(), days, seed=seed, volume=volume, fmt=Format.parse(fmt),
        encoding=canonical_encoding(encoding),
    )  # fmt: skip
    for d in played:
        typer.echo(
            f"{d.day} {code}: feedback {d.feedback}, rejected files read {d.rejected}, referrals"
            f" {d.referrals}, payments {d.payments}, mistaken records {d.mistakes}"
        )

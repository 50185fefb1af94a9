"""The operator's data key commands: how many rows each key version seals, and rotation to the
newest key (``AEDX_DATA_KEYS``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from aedx.cli_exchange import DatabaseOption, DataDirOption, cli_actor, err, open_platform
from aedx.exchange import rekeying
from aedx.trust.vault import Undecryptable

keys_app = typer.Typer(help="個資加密金鑰 Data keys for personal data", no_args_is_help=True)


@keys_app.command("status")
def keys_status(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """各金鑰版本加密之筆數 — rows sealed under each data key version."""
    platform = open_platform(data_dir, database)
    keyring = platform.keyring
    with platform.db.transaction() as session:
        counts = rekeying.versions(session)
    table = Table("版本 version", "筆數 rows", "設定 configured")
    for version in sorted({*counts, *keyring.keys}, key=lambda v: -1 if v is None else v):
        if version is None:
            state = "未加密 not sealed"
        elif version == keyring.current:
            state = "加密與解密 encrypts"
        elif version in keyring.keys:
            state = "僅解密 decrypts"
        else:
            state = "[red]缺少金鑰 missing[/]"
        table.add_row("-" if version is None else str(version), f"{counts.get(version, 0):,}", state)
    Console().print(table)


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="每批筆數 rows per batch")
    ] = rekeying.BATCH,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """以最新金鑰重新加密 — reseal every row under an older key with the newest; run again to
    resume. Afterwards the older keys may be removed from AEDX_DATA_KEYS."""
    platform = open_platform(data_dir, database)
    keyring = platform.keyring
    with platform.db.transaction() as session:
        total = rekeying.remaining(session, keyring)
    done, after = 0, 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"重新加密 resealing → v{keyring.current}", total=total)
        while True:
            try:
                with platform.db.transaction() as session:
                    batch = rekeying.reseal_batch(
                        session, keyring, actor=cli_actor(), after_id=after, size=batch_size
                    )
            except Undecryptable as e:
                err.print(f"[red]無法解密，請確認 AEDX_DATA_KEYS 含舊金鑰[/] / {e}", highlight=False)
                raise typer.Exit(1) from None
            if batch.rows == 0:
                break
            done, after = done + batch.rows, batch.last_id
            progress.update(task, completed=done)
    err.print(f"已重新加密 {done:,} 筆 resealed {done:,} rows under v{keyring.current}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

"""The operator's notification commands: expected files, their check, and sending the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from aedx.cli_exchange import DatabaseOption, DataDirOption, as_operator, cli_actor, err, open_platform
from aedx.exchange import expected
from aedx.exchange.platform import process_actor
from aedx.notify import mail, outbox
from aedx.storage.tables import utcnow
from aedx.workdays import calendar

notify_app = typer.Typer(help="通知 Notifications", no_args_is_help=True)


@notify_app.command("expect")
def expect(
    organisation: Annotated[str, typer.Argument(help="機關代碼 organisation code")],
    kind: Annotated[str, typer.Argument(help="交換類別 kind")],
    by: Annotated[str, typer.Option("--by", help="每工作日應送達時間（臺北）due by, HH:MM")] = "10:00",
    off: Annotated[bool, typer.Option("--off", help="取消 withdraw")] = False,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """設定應送檔案 — declare a file an organisation should send on working days."""
    try:
        due = dt.time.fromisoformat(by)
    except ValueError:
        raise typer.BadParameter("--by HH:MM") from None
    with as_operator(data_dir, database) as (_, session, caller):
        expected.expect(session, caller, organisation, kind, due, active=not off)
    err.print(f"{organisation} {kind} {'取消 withdrawn' if off else f'應於 {by} 前送達 due by {by}'}")


@notify_app.command("check-expected")
def check_expected(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """檢查應送未送檔案 — notice the expected files that have not arrived today."""
    platform = open_platform(data_dir, database)
    try:
        with platform.db.transaction() as session:
            noticed = expected.check(session, utcnow(), calendar(platform.settings.holiday_calendar))
    finally:
        platform.close()
    for m in noticed:
        print(f"{m.organisation}\t{m.kind}\t{m.day.isoformat()}\t{m.due.strftime('%H:%M')}")
    err.print(f"新發現 {len(noticed)} 件未送 newly missing: {len(noticed)}", highlight=False)


@notify_app.command("send")
def send(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """寄送待送通知 — send the e-mails and webhook calls that are due."""
    platform = open_platform(data_dir, database)
    try:
        n = outbox.work(platform, process_actor(cli_actor()), mail.Smtp.from_env(), limit=10_000)
    finally:
        platform.close()
    err.print(f"處理 {n:,} 則 tried {n:,} messages", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")

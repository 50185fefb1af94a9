"""The operator's commands of the exchange: migrate, organisations, serve, worker,
the audit export, and the demonstration."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Protocol

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import organisations as orgs
from aedx.errors import DomainError
from aedx.exchange.platform import Platform, process_actor
from aedx.formats.spreadsheet import csv_writer
from aedx.settings import Settings
from aedx.storage.tables import Organisation, utcnow
from aedx.trust import audit, redaction
from aedx.trust.caller import Caller

orgs_app = typer.Typer(help="機關 Organisations", no_args_is_help=True)
audit_app = typer.Typer(help="稽核紀錄 Audit log", no_args_is_help=True)
db_app = typer.Typer(help="資料庫 Database", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)  # tokens and URLs stay on one line, for copying

DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="資料夾 data folder (AEDX_DATA_DIR)")]
DatabaseOption = Annotated[str | None, typer.Option("--database", help="資料庫 URL (AEDX_DATABASE_URL)")]


def open_platform(data_dir: Path | None, database: str | None, *, migrate: bool = True) -> Platform:
    platform = Platform(Settings.from_env(data_dir, database))
    if migrate:
        platform.db.migrate()
    return platform


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def as_operator(data_dir: Path | None, database: str | None) -> Iterator[tuple[Platform, Session, Caller]]:
    """One piece of work by the operator at the console, acting as HQ's administrator, in one
    transaction; a refusal prints its reason in both languages and exits 1."""
    platform = open_platform(data_dir, database)
    try:
        with platform.db.transaction() as session:
            yield platform, session, orgs.operator(session, cli_actor())
    except DomainError as e:
        raise fail(e) from None
    finally:
        platform.close()


def print_rows(heads: Sequence[str], rows: Sequence[Sequence[str]], csv_heads: Sequence[str]) -> None:
    """A table on a terminal, CSV otherwise (for scripts)."""
    if not sys.stdout.isatty():
        writer = csv_writer(sys.stdout)
        writer.writerow(csv_heads)
        writer.writerows(rows)
        return
    table = Table(*heads)
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)


class Refusal(Protocol):
    message_zh: str
    message_en: str


def fail(e: Refusal) -> typer.Exit:
    """A refused request, in both languages, and exit code 1."""
    err.print(f"[red]{e.message_zh}[/] / {e.message_en}", highlight=False)
    return typer.Exit(1)


@db_app.command("migrate")
def db_migrate(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """更新資料庫結構 — bring the database schema up to date."""
    open_platform(data_dir, database)
    err.print("資料庫已是最新結構 the database schema is up to date")


@orgs_app.command("import")
def orgs_import(
    file: Annotated[
        Path, typer.Argument(help="機關清單 CSV: code,name,role,category,preferred_format,preferred_encoding")
    ],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """匯入移送機關與合作機關清單 — load the agency list (new ones added, known ones updated)."""
    platform = open_platform(data_dir, database)
    try:
        rows = orgs.parse_csv(file.read_text(encoding="utf-8-sig"))
        with platform.db.transaction() as session:
            orgs.seed_reference(session, cli_actor())
            added = orgs.upsert(session, rows, cli_actor())
    except DomainError as e:
        raise fail(e) from None
    err.print(
        f"{len(rows):,} 個機關，新增 {added:,} / {len(rows):,} organisations, {added:,} new", highlight=False
    )
    if added:
        err.print("新機關之交換授權：aedx grants defaults / grants for the new ones: aedx grants defaults")


@orgs_app.command("list")
def orgs_list(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """列出機關 — list organisations (CSV when the output is not a terminal)."""
    platform = open_platform(data_dir, database)
    heads = ("代號 code", "名稱 name", "角色 role", "類別 category", "格式 format", "編碼 encoding")
    with platform.db.transaction() as session:
        rows = [
            (o.code, o.name, o.role, o.category or "", o.preferred_format, o.preferred_encoding)
            for o in session.scalars(select(Organisation).order_by(Organisation.role, Organisation.code))
        ]
    print_rows(heads, rows, ("code", "name", "role", "category", "preferred_format", "preferred_encoding"))


@audit_app.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option("--out", help="輸出檔 .jsonl 或 .csv（預設輸出至螢幕）")] = None,
    since: Annotated[dt.datetime | None, typer.Option(help="起 from (UTC)")] = None,
    until: Annotated[dt.datetime | None, typer.Option(help="迄 until (UTC)")] = None,
    kind: Annotated[str | None, typer.Option(help="資料類別 kind")] = None,
    organisation: Annotated[str | None, typer.Option(help="機關代號 organisation code")] = None,
    submission: Annotated[str | None, typer.Option(help="上傳檔 submission id")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """匯出稽核紀錄 — export the audit log as JSON Lines or CSV."""
    platform = open_platform(data_dir, database)
    with platform.db.transaction() as session:
        caller = orgs.operator(session, cli_actor())
    f = audit.Filter(since, until, kind, organisation, submission)
    handle = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    n = 0
    try:
        with platform.db.transaction() as session:
            counted = [0]

            def tally() -> Iterator[dict[str, object]]:
                for event in audit.export(session, caller, f):
                    counted[0] += 1
                    yield event

            as_csv = out is not None and out.suffix.lower() == ".csv"
            handle.writelines(audit.csv_lines(tally()) if as_csv else audit.json_lines(tally()))
            n = counted[0]
            audit.by_caller(session, caller, "audit.export", detail={"events": n})
    finally:
        if out:
            handle.close()
    err.print(f"匯出 {n:,} 筆稽核紀錄 exported {n:,} audit events", highlight=False)


@audit_app.command("seal")
def audit_seal(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """封存稽核紀錄 — seal the events written so far into the hash chain, with a signed checkpoint."""
    from aedx.trust import ledger

    platform = open_platform(data_dir, database)
    try:
        done = ledger.seal(platform)
    except DomainError as e:
        raise fail(e) from None
    if done is None:  # not reached: a sealer that waits always runs
        raise typer.Exit(1)
    with platform.db.transaction() as session:
        audit.record(
            session,
            actor=cli_actor(),
            action="audit.seal",
            detail={"events": done.events, "checkpoints": len(done.checkpoints)},
        )
    last = f"；最後序號 {done.checkpoints[-1].seq:,}" if done.checkpoints else ""
    last_en = f"; last seq {done.checkpoints[-1].seq:,}" if done.checkpoints else ""
    err.print(
        f"封存 {done.events:,} 筆稽核紀錄、{len(done.checkpoints)} 個檢查點{last} / "
        f"sealed {done.events:,} events, {len(done.checkpoints)} checkpoints{last_en}",
        highlight=False,
    )


@audit_app.command("verify")
def audit_verify(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """驗證稽核紀錄之雜湊鏈與簽章檢查點（不封存）— verify the audit chain, its signed checkpoints and
    the checkpoint file; seals nothing. Exit 0 intact, 1 tampered."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from aedx.trust import ledger

    platform = open_platform(data_dir, database)
    out = Console(soft_wrap=True)
    try:
        if err.is_terminal:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as progress:
                task = progress.add_task("驗證 verifying", total=None)
                verdict = ledger.verify(
                    platform, progress=lambda done, total: progress.update(task, completed=done, total=total)
                )
        else:
            verdict = ledger.verify(platform)
    except DomainError as e:
        raise fail(e) from None
    first = verdict.first
    if first is None:
        out.print(
            f"[green]稽核紀錄完整[/]：{verdict.events:,} 筆紀錄、{verdict.checkpoints:,} 個檢查點驗證無誤 / "
            f"audit log intact: {verdict.events:,} events, {verdict.checkpoints:,} checkpoints verified",
            highlight=False,
        )
    else:
        where_zh = f"序號 {first.seq}" if first.seq is not None else "憑證"
        where_en = f"seq {first.seq}" if first.seq is not None else "certificate"
        event_zh = f"（紀錄 {first.event_id}）" if first.event_id is not None else ""
        event_en = f" (event {first.event_id})" if first.event_id is not None else ""
        out.print(
            f"[red]稽核紀錄遭竄改[/]：首見於{where_zh}{event_zh}，{ledger.LABELS[first.kind]} / "
            f"audit log tampered: first at {where_en}{event_en}, {first.kind.value}",
            highlight=False,
        )
        for finding in verdict.findings:
            out.print(f"  • {finding.one_line()}", highlight=False)
        if verdict.truncated:
            out.print(
                f"  … 發現超過 {ledger.MAX_FINDINGS} 處，驗證已停止 / more than {ledger.MAX_FINDINGS} "
                "findings: the walk stopped",
                highlight=False,
            )
    if verdict.unsealed:
        oldest = verdict.oldest_unsealed
        age = f"{(utcnow() - oldest).total_seconds():,.0f}" if oldest else "?"
        out.print(
            f"尚未封存 {verdict.unsealed:,} 筆（最早者 {age} 秒前）/ "
            f"{verdict.unsealed:,} events not yet sealed (the oldest {age} s ago)",
            highlight=False,
        )
    outcome, detail = verdict.audited()
    with platform.db.transaction() as session:
        audit.record(session, actor=cli_actor(), action="audit.verify", outcome=outcome, detail=detail)
    raise typer.Exit(0 if verdict.ok else 1)


def serve(
    host: Annotated[str, typer.Option(help="位址 address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="埠 port")] = 8000,
    worker: Annotated[
        bool | None,
        typer.Option("--worker/--no-worker", help="內建處理程序（SQLite 預設開啟）in-process worker"),
    ] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """啟動平台 API — serve the API (with an in-process worker on the embedded database)."""
    import uvicorn

    from aedx.api import serving
    from aedx.api.app import create_app

    platform = open_platform(data_dir, database)
    inline = platform.db.is_sqlite if worker is None else worker
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redaction.install()
    app = create_app(platform, inline_worker=inline)
    uvicorn.Server(serving.config(app, platform.settings, host=host, port=port, log_level="info")).run()


def worker(
    once: Annotated[bool, typer.Option(help="處理完待辦即結束 stop when nothing is waiting")] = False,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """處理上傳檔 — run a worker; N may run at once on PostgreSQL."""
    from aedx.exchange.worker import Worker

    platform = open_platform(data_dir, database)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redaction.install()
    w = Worker(platform, process_actor("worker"))
    if once:
        n = w.drain()
        err.print(f"處理 {n:,} 件 ran {n:,} jobs", highlight=False)
        return
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop()


def demo(
    days: Annotated[int, typer.Option(min=1, max=366, help="模擬日數，至今日止 days ending today")] = 1,
    cases: Annotated[
        int, typer.Option(min=15, help="全國每日移送件數 referrals a day across the country")
    ] = 2000,
    host: Annotated[str, typer.Option(help="位址 address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="埠 port")] = 8000,
    keep_serving: Annotated[
        bool, typer.Option("--serve/--no-serve", help="結束後繼續服務 keep serving")
    ] = False,
    every: Annotated[
        int,
        typer.Option(
            min=0,
            help="服務期間每隔幾秒各機關再交換一輪（0 不交換）while serving, a round every N seconds",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="亂數種子 random seed")] = 1,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """示範：各移送機關與分署之系統經 aedx-client 自動交換 — the agencies' and branches' servers
    exchange through the platform on their own."""
    import uvicorn
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from aedx.api import serving
    from aedx.api.app import create_app
    from aedx.sim import demo as sim_demo
    from aedx.sim.agencies import DEMO_AGENCIES_CSV
    from aedx.sim.network import DayReport, Network, Office

    platform = open_platform(data_dir, database)
    with platform.db.transaction() as session:
        orgs.seed_reference(session, cli_actor())
        orgs.upsert(session, orgs.parse_csv(DEMO_AGENCIES_CSV), cli_actor())
    members = sim_demo.enrol(platform, cli_actor())
    passwords = sim_demo.portal_people(platform, cli_actor())
    folder = platform.settings.data_dir

    config = serving.config(
        create_app(platform, inline_worker=True), platform.settings, host=host, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise typer.Exit(1)
        time.sleep(0.05)
    url = f"http://{host}:{port}"
    offices = sim_demo.offices(members, folder / sim_demo.OFFICES_FOLDER, cases, seed=seed)
    keys_of = {m.code: m.keys for m in members}
    for office in offices:
        office.install(keys_of[office.code], url)
    agencies = sum(o.role == "agency" for o in offices)
    err.print(
        f"{agencies} 個移送機關與 {len(offices) - agencies} 個分署之系統，各以 aedx-client 交換"
        f" / {agencies} agencies' and {len(offices) - agencies} branches' systems, each with aedx-client:"
        f" {folder / sim_demo.OFFICES_FOLDER}",
        highlight=False,
    )

    def play(network: Network, day: dt.date, label: str) -> DayReport:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task(f"{label} {day}", total=network.steps())
            network.on_step = lambda step, office: bar.update(
                task, advance=1, description=f"{label} {day} {step} {office.code}"
            )
            report = network.day(day)
        err.print(
            f"{day}：移送 {report.referrals:,} 件、繳款 {report.payments:,} 筆、狀態 {report.events:,} 筆；"
            f"交付 {report.accepted} 檔、退件 {report.rejected} 檔、待決 {report.pending} 檔、"
            f"收件 {report.packages} 檔 / referrals {report.referrals:,}, payments {report.payments:,},"
            f" status events {report.events:,}; files delivered {report.accepted}, rejected"
            f" {report.rejected}, pending {report.pending}; packages received {report.packages}",
            highlight=False,
        )
        for problem in report.errors[:5]:
            err.print(f"  [yellow]{problem}[/]", highlight=False)
        return report

    network = Network(offices)
    today = platform.settings.current_day()
    for back in range(days - 1, -1, -1):
        play(network, today - dt.timedelta(days=back), "交換 exchange")
    if not keep_serving:
        server.should_exit = True
        thread.join()
        return
    by_code = {m.code: m for m in members}
    err.print(f"\n[bold]平台已啟動 the platform is up:[/] {url}  （API 文件 docs: {url}/docs）")
    err.print(f"  入口網站 portal: {url}/portal/  首次登入須更改密碼 a new password at first sign-in")
    for org, username, _name, role in sim_demo.PORTAL_PEOPLE:
        mfa = "，並設定驗證器 and an authenticator (TOTP)" if role.startswith("hq") else ""
        err.print(f"  {org:<11} {username} / {passwords.get(username, '?')}（{role}{mfa}）", highlight=False)
    err.print(
        f"  取得權杖 token endpoint: POST {url}/oauth/token（client assertion 簽章方法見 README "
        "「Calling the API」/ how to sign the client assertion: README, Calling the API）",
        highlight=False,
    )
    keys = folder / sim_demo.KEYS_FOLDER
    with httpx.Client(base_url=url, timeout=60) as http:
        for code in [orgs.HQ_CODE, "sly", "A383000000"]:
            c = by_code[code].credentials
            err.print(f"  {code:<11} CLIENT_ID={c.client_id} KEY={keys / (code + '.key')}", highlight=False)
            err.print(
                f"  {'':<11} Authorization: Bearer {c.token(http)}（10 分鐘 10 minutes）", highlight=False
            )
    sample: Office = next(o for o in offices if o.code == "A383000000")
    err.print(
        f"  機關伺服器 an agency's server: {sample.folder}（aedx-client sync --config"
        f" {sample.folder / 'aedx-client.toml'} --once）",
        highlight=False,
    )
    if every:
        err.print(f"  每 {every} 秒各機關再交換一輪 every office exchanges again every {every} s")
    err.print(
        f"  所有用戶端 every client: {folder / sim_demo.CLIENTS_FILE}\n  按 Ctrl-C 結束 press Ctrl-C to stop"
    )

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    next_round = time.monotonic() + every
    while thread.is_alive():
        thread.join(0.5)
        if every and time.monotonic() >= next_round and not server.should_exit:
            try:  # a new day's files once the date turns; otherwise only what waits
                play(network, platform.settings.current_day(), "再一輪 another round")
            except Exception:
                if server.should_exit:  # stopped in the middle of a round
                    break
                logging.getLogger("aedx.demo").exception(
                    "a demonstration round failed; the next one takes up where it stopped"
                )
            next_round = time.monotonic() + every


def register(app: typer.Typer) -> None:
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)

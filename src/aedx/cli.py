"""The ``aedx`` command: dry-run validation, exchange-kind specs and samples, synthetic data, and
the platform's own commands (``aedx.cli_exchange``)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from aedx.cli_accounts import register as register_accounts
from aedx.cli_clients import register as register_clients
from aedx.cli_exchange import register
from aedx.cli_keys import register as register_keys
from aedx.cli_money import register as register_money
from aedx.cli_notify import register as register_notify
from aedx.cli_sim import register as register_sim
from aedx.cli_trust import register as register_trust
from aedx.findings import UnusableInput
from aedx.formats import Format, Limits, guess_format
from aedx.kinds import KINDS, UnknownKind, get_kind
from aedx.validation import Options, Report, validate_file
from aedx.validation.export import UnknownReportFormat, write_report

app = typer.Typer(help="行政執行資料交換平台 aedx", no_args_is_help=True, add_completion=False)
kinds_app = typer.Typer(help="資料類別 Exchange kinds", no_args_is_help=True)
sim_app = typer.Typer(help="模擬資料 Synthetic data", no_args_is_help=True)
app.add_typer(kinds_app, name="kinds")
app.add_typer(sim_app, name="sim")
register_sim(sim_app)
register(app)
register_trust(app)
register_accounts(app)
register_clients(app)
register_keys(app)
register_notify(app)
register_money(app)

out = Console()
err = Console(stderr=True)
SHOWN_FINDINGS = 50

KindOption = Annotated[str, typer.Option("--kind", "-k", help="case_referral, payment, status_feedback")]
FormatOption = Annotated[str | None, typer.Option("--format", "-f", help="csv, fixed, jsonl")]
EncodingOption = Annotated[str, typer.Option("--encoding", "-e", help="utf-8, cp950, big5")]
TodayOption = Annotated[
    dt.datetime | None,
    typer.Option("--today", formats=["%Y-%m-%d"], help="檢核基準日 reference day"),
]


def _fail(reason: str) -> typer.Exit:
    typer.echo(f"無法使用 unusable input: {reason}", err=True)  # one line, never wrapped
    return typer.Exit(2)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="要檢核的檔案 the file to check")],
    kind: KindOption,
    fmt: FormatOption = None,
    encoding: EncodingOption = "utf-8",
    sender: Annotated[str | None, typer.Option(help="傳送機關代號 the sender's code")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 輸出 print JSON")] = False,
    report: Annotated[Path | None, typer.Option(help="報告檔 .json .csv .xlsx .ods")] = None,
    max_bytes: Annotated[int, typer.Option(help="檔案大小上限 size limit in bytes")] = Limits().max_bytes,
    today: TodayOption = None,
) -> None:
    """試檢核檔案，不送出 — dry-run validation: exit 0 clean, 1 errors found, 2 unusable input."""
    try:
        chosen = get_kind(kind)
        options = Options(
            sender=sender,
            today=today.date() if today else None,
            limits=Limits(max_bytes=max_bytes),
        )
        result = validate_file(
            file, chosen, Format.parse(fmt) if fmt else guess_format(file), encoding, options
        )
        if report:
            write_report(result, report)
    except UnusableInput as error:
        if as_json:
            print(json.dumps({"kind": kind, "unusable": error.code, "message_zh": error.message_zh,
                              "message_en": error.message_en}, ensure_ascii=False))  # fmt: skip
        raise _fail(error.one_line()) from None
    except (UnknownKind, UnknownReportFormat) as error:
        raise _fail(str(error)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print_report(result)
    raise typer.Exit(1 if result.has_errors else 0)


def _print_report(report: Report) -> None:
    s = report.summary()
    verdict = "[green]通過 passed[/green]" if s["valid"] else "[red]退件 rejected[/red]"
    out.print(
        f"{report.kind.label_zh} {report.kind.name} · {s['source']} · {s['format']}/{s['encoding']}\n"
        f"筆數 records {s['rows']:,} · 錯誤筆數 with errors {s['error_rows']:,} · "
        f"警告筆數 with warnings {s['warning_rows']:,} · {verdict}",
        highlight=False,
    )
    if report.findings.height == 0:
        return
    totals = Table(
        "代碼 code", "嚴重度 severity", "件數 count", "欄位 fields", title="依代碼統計 totals by code"
    )
    for code, severity, count, fields in report.totals().iter_rows():
        totals.add_row(code, severity, f"{count:,}", fields)
    out.print(totals)
    out.print("檢核結果 findings:")
    for f in report.findings.head(SHOWN_FINDINGS).iter_rows(named=True):
        where = f"第 {f['row']} 列 row {f['row']}" if f["row"] is not None else "全檔 file"
        value = _visible(f["value"]) if f["value"] is not None else ""
        out.print(
            f"  {where} · {f['field'] or '-'} · {f['code']} ({f['severity']}) · {f['message_zh']}"
            + (f" · 「{value}」" if value else ""),
            highlight=False,
        )
    rest = report.findings.height - SHOWN_FINDINGS
    if rest > 0:
        out.print(f"另有 {rest:,} 筆檢核結果，完整內容請以 --report 匯出 "
                  f"({rest:,} more findings: export them all with --report)")  # fmt: skip


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _visible(value: str) -> str:
    """Control characters written out, so that a tab or line break in a value can be seen;
    long values shortened (reports keep them whole)."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return shown if len(shown) <= 24 else shown[:23] + "…"


@kinds_app.command("list")
def kinds_list() -> None:
    """列出資料類別 — list the exchange kinds."""
    table = Table(title="資料類別 exchange kinds")
    table.add_column("kind", no_wrap=True)  # the word commands take: never cut
    for heading in ("名稱 name", "傳送 → 接收", "欄位 fields"):
        table.add_column(heading)
    for k in KINDS.values():
        table.add_row(
            k.name, f"{k.label_zh} {k.label_en}", f"{k.sender_role} → {k.recipient_role}", str(len(k.fields))
        )
    out.print(table)


def _sample(kind_name: str, fmt: str, encoding: str, records: int = 5) -> bytes:
    from aedx.sim.generate import Request, generate  # the generator loads only when asked for

    request = Request(get_kind(kind_name), records, fmt, encoding, seed=1)
    return b"".join(piece.data for piece in generate(request))


@kinds_app.command("spec")
def kinds_spec(kind: Annotated[str, typer.Argument(help="資料類別 kind")]) -> None:
    """資料類別規格（Markdown）— the kind's spec page in Markdown."""
    from aedx.validation.spec import spec_page

    try:
        sample = _sample(kind, "csv", "utf-8", 3).decode()
        sys.stdout.write(spec_page(get_kind(kind), sample))
    except UnknownKind as error:
        raise _fail(str(error)) from None


@kinds_app.command("sample")
def kinds_sample(
    kind: Annotated[str, typer.Argument(help="資料類別 kind")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, fixed, jsonl")] = "csv",
    encoding: EncodingOption = "utf-8",
    records: Annotated[int, typer.Option(min=1, max=10_000)] = 5,
) -> None:
    """輸出合格範例檔 — write a valid sample file to standard output."""
    try:
        Format.parse(fmt)
        sys.stdout.buffer.write(_sample(kind, fmt, encoding, records))
    except (UnknownKind, UnusableInput) as error:
        raise _fail(str(error)) from None


@sim_app.command("generate")
def sim_generate(
    kind: KindOption,
    records: Annotated[int, typer.Option(min=1, help="筆數 number of records")],
    out_file: Annotated[Path, typer.Option("--out", help="輸出檔 output file")],
    error_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="錯誤比例 share of bad records")] = 0.0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, fixed, jsonl")] = "csv",
    encoding: EncodingOption = "utf-8",
    seed: Annotated[int, typer.Option(help="亂數種子 random seed")] = 0,
    truth: Annotated[
        Path | None, typer.Option(help="錯誤答案檔 where to write the planted errors (CSV)")
    ] = None,
    sender: Annotated[str | None, typer.Option(help="傳送機關代號 sender code")] = None,
    control: Annotated[bool, typer.Option(help="加控制紀錄 append a control record")] = False,
    today: TodayOption = None,
) -> None:
    """產生模擬檔案 — generate a realistic file, optionally with known errors."""
    from aedx.sim.generate import Request, generate

    try:
        request = Request(
            get_kind(kind), records, Format.parse(fmt).value, encoding, error_rate, seed,
            today.date() if today else None, sender, control,
        )  # fmt: skip
    except (UnknownKind, UnusableInput) as error:
        raise _fail(str(error)) from None
    truths = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        Progress(*columns, console=err, transient=False) as progress,
        out_file.open("wb") as handle,
    ):
        task = progress.add_task(f"產生 generating {out_file.name}", total=records)
        for piece in generate(request):
            handle.write(piece.data)
            truths.append(piece.truth)
            progress.advance(task, piece.records)
    planted = pl.concat(truths)
    if truth:
        planted.sort("row").write_csv(truth)
    err.print(
        f"{records:,} 筆 records → {out_file}; 植入錯誤 planted errors {planted.height:,}",
        highlight=False,
    )

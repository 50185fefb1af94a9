"""The operator's commands for API clients and grants: who may call the API with which key, and
which exchange kinds each organisation may send and receive. The operator acts as HQ's
administrator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aedx.accounts import clients, grants
from aedx.cli_exchange import DatabaseOption, DataDirOption, as_operator, err, print_rows
from aedx.trust.caller import Direction

clients_app = typer.Typer(help="介接用戶端 API clients (OAuth 2.0, private_key_jwt)", no_args_is_help=True)
grants_app = typer.Typer(help="交換授權 Grants: organisation × kind × direction", no_args_is_help=True)

CodeArgument = Annotated[str, typer.Argument(help="機關代號 organisation code")]
KindArgument = Annotated[str, typer.Argument(help="資料類別 kind (case_referral, payment, status_feedback)")]
DirectionArgument = Annotated[Direction, typer.Argument(help="方向 send 傳送 或 receive 接收")]


@clients_app.command("register")
def clients_register(
    code: CodeArgument,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="公鑰 PEM public key (RSA ≥ 2048 or EC P-256)")
    ] = None,
    certificate: Annotated[
        Path | None, typer.Option("--certificate", help="機關在平台之簽章憑證 a signing certificate it holds")
    ] = None,
    label: Annotated[str, typer.Option(help="用途說明 what the client is")] = "",
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """登錄介接用戶端，輸出其 client_id — register an API client by its public key; prints the client_id."""
    if (public_key is None) == (certificate is None):
        err.print("請擇一提供 --public-key 或 --certificate / give --public-key or --certificate")
        raise typer.Exit(2)
    with as_operator(data_dir, database) as (_, session, operator):
        client = clients.register(
            session,
            operator,
            code,
            public_key_pem=public_key.read_bytes() if public_key else None,
            certificate_pem=certificate.read_bytes() if certificate else None,
            label=label,
        )
    typer.echo(client.client_id)
    err.print(f"已登錄 registered {client.client_id} ({client.key_type}) for {code}", highlight=False)


@clients_app.command("list")
def clients_list(
    code: Annotated[str | None, typer.Option("--org", help="僅此機關 only this organisation")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """列出介接用戶端 — list API clients (CSV when the output is not a terminal)."""
    with as_operator(data_dir, database) as (_, session, operator):
        rows = [
            (
                c.client_id,
                org_code,
                c.label,
                c.key_type,
                "active" if c.active else "disabled",
                f"{c.created_at:%Y-%m-%d %H:%M}",
                f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "",
            )
            for c, org_code in clients.listing(session, operator, code)
        ]
    heads = (
        "client_id",
        "機關 org",
        "說明 label",
        "金鑰 key",
        "狀態 state",
        "建立 created",
        "最近 last used",
    )
    csv_heads = ("client_id", "organisation", "label", "key_type", "state", "created", "last_used")
    print_rows(heads, rows, csv_heads)


@clients_app.command("disable")
def clients_disable(
    client_id: Annotated[str, typer.Argument(help="client_id")],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """停用介接用戶端，其權杖立即失效 — disable a client; its tokens stop working at once."""
    with as_operator(data_dir, database) as (_, session, operator):
        clients.disable(session, operator, client_id)
    err.print(f"已停用 disabled {client_id}")


@grants_app.command("list")
def grants_list(
    code: Annotated[str | None, typer.Argument(help="機關代號（省略則全部）organisation code")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """列出授權 — list grants (CSV when the output is not a terminal)."""
    with as_operator(data_dir, database) as (_, session, _operator):
        rows = [(c, k, d.value) for c, k, d in grants.listing(session, code)]
    print_rows(("機關 org", "類別 kind", "方向 direction"), rows, ("organisation", "kind", "direction"))


@grants_app.command("grant")
def grants_grant(
    code: CodeArgument,
    kind: KindArgument,
    direction: DirectionArgument,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """授權機關傳送或接收某類資料 — allow an organisation to send or receive a kind."""
    with as_operator(data_dir, database) as (_, session, operator):
        added = grants.grant(session, operator, code, kind, direction)
    state = "已授權 granted" if added else "原已授權 already granted"
    err.print(f"{state}: {code} {kind}:{direction.value}", highlight=False)


@grants_app.command("revoke")
def grants_revoke(
    code: CodeArgument,
    kind: KindArgument,
    direction: DirectionArgument,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """撤銷授權，已核發之權杖立即失去此授權 — withdraw a grant; issued tokens lose it at once."""
    with as_operator(data_dir, database) as (_, session, operator):
        removed = grants.revoke(session, operator, code, kind, direction)
    state = "已撤銷 revoked" if removed else "原無此授權 was not granted"
    err.print(f"{state}: {code} {kind}:{direction.value}", highlight=False)


@grants_app.command("defaults")
def grants_defaults(data_dir: DataDirOption = None, database: DatabaseOption = None) -> None:
    """依各資料類別之宣告授予預設授權 — give every organisation the reference grants of its role."""
    with as_operator(data_dir, database) as (_, session, operator):
        added = grants.apply_defaults(session, operator)
    for role, pairs in sorted(grants.defaults().items()):
        err.print(f"  {role:<8} {grants.scope_of(pairs)}", highlight=False)
    err.print(f"新增 {added:,} 項授權 added {added:,} grants", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(clients_app, name="clients")
    app.add_typer(grants_app, name="grants")

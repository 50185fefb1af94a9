"""The operator's commands for people's accounts: ``aedx users``. The operator at the console acts
as HQ's administrator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from aedx.accounts import users
from aedx.accounts.roles import Role
from aedx.cli_exchange import DatabaseOption, DataDirOption, as_operator, err, print_rows
from aedx.trust.caller import Caller

users_app = typer.Typer(help="使用者帳號 People's accounts", no_args_is_help=True)
UsernameArgument = Annotated[str, typer.Argument(help="帳號 username")]


def _act(data_dir: DataDirOption, database: DatabaseOption, work: Callable[[Session, Caller], str]) -> str:
    """Run one account change as the console's HQ administrator; a refusal exits 1."""
    with as_operator(data_dir, database) as (_, session, operator):
        return work(session, operator)


@users_app.command("add")
def users_add(
    organisation: Annotated[str, typer.Argument(help="機關代號 organisation code")],
    username: UsernameArgument,
    full_name: Annotated[str, typer.Option("--name", help="本人姓名 the person's full name")],
    email: Annotated[str, typer.Option("--email", help="電子郵件 e-mail address")],
    role: Annotated[str, typer.Option("--role", help=", ".join(r.value for r in Role))],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """新增使用者，顯示一次性初始密碼 — add a person; prints a one-time initial password."""
    initial = _act(
        data_dir,
        database,
        lambda s, hq: users.create(s, hq, organisation, username, full_name, email, role).initial_password,
    )
    err.print(
        "初始密碼僅顯示一次，首次登入須變更 "
        "the initial password is shown once and must be changed at first sign-in",
        highlight=False,
    )
    typer.echo(initial)


@users_app.command("list")
def users_list(
    organisation: Annotated[str | None, typer.Option("--org", help="機關代號 organisation code")] = None,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """列出使用者 — list people (CSV when the output is not a terminal)."""
    found: list[users.UserView] = []

    def work(session: Session, hq: Caller) -> str:
        found.extend(users.listing(session, hq, organisation))
        return ""

    _act(data_dir, database, work)
    columns = ("organisation", "username", "full_name", "email", "role", "active", "totp", "locked_until")
    rows = [
        (v.organisation, v.username, v.full_name, v.email, v.role, "yes" if v.active else "no",
         "yes" if v.totp else "no", v.locked_until.isoformat() if v.locked_until else "")
        for v in found
    ]  # fmt: skip
    heads = ("機關 org", "帳號 username", "姓名 name", "電子郵件 e-mail", "角色 role", "啟用 active",
             "TOTP", "鎖定至 locked until")  # fmt: skip
    print_rows(heads, rows, columns)


@users_app.command("disable")
def users_disable(
    username: UsernameArgument, data_dir: DataDirOption = None, database: DatabaseOption = None
) -> None:
    """停用帳號並結束其所有登入 — disable an account and end all its sessions."""
    _act(data_dir, database, lambda s, hq: users.disable(s, hq, username).username)
    err.print(f"已停用 {username} disabled", highlight=False)


@users_app.command("enable")
def users_enable(
    username: UsernameArgument, data_dir: DataDirOption = None, database: DatabaseOption = None
) -> None:
    """重新啟用帳號 — enable an account again."""
    _act(data_dir, database, lambda s, hq: users.enable(s, hq, username).username)
    err.print(f"已啟用 {username} enabled", highlight=False)


@users_app.command("role")
def users_role(
    username: UsernameArgument,
    role: Annotated[str, typer.Argument(help=", ".join(r.value for r in Role))],
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """變更角色（結束其所有登入）— change a person's role (their sessions end)."""
    _act(data_dir, database, lambda s, hq: users.set_role(s, hq, username, role).role)
    err.print(f"{username} 角色 role: {role}", highlight=False)


@users_app.command("reset-password")
def users_reset_password(
    username: UsernameArgument,
    totp: Annotated[
        bool, typer.Option("--totp", help="一併重設驗證器 also remove the authenticator")
    ] = False,
    data_dir: DataDirOption = None,
    database: DatabaseOption = None,
) -> None:
    """重設密碼，顯示一次性初始密碼 — reset the password; prints a one-time password."""
    initial = _act(data_dir, database, lambda s, hq: users.reset_password(s, hq, username, reset_totp=totp))
    err.print(
        "新密碼僅顯示一次，登入後須變更；其所有登入已結束 "
        "the new password is shown once and must be changed at sign-in; every session ended",
        highlight=False,
    )
    typer.echo(initial)


@users_app.command("unlock")
def users_unlock(
    username: UsernameArgument, data_dir: DataDirOption = None, database: DatabaseOption = None
) -> None:
    """解除登入失敗鎖定 — lift a lockout after failed sign-ins."""
    _act(data_dir, database, lambda s, hq: users.unlock(s, hq, username).username)
    err.print(f"已解除鎖定 {username} unlocked", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")

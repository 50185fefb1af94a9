"""``aedx users`` round trip through the command line, as the operator at the console (HQ)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aedx.accounts import sessions
from aedx.cli import app
from aedx.storage.db import Database
from tests.accounts.conftest import KEY, T0


def test_users_round_trip(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()

    def aedx(*args: str) -> tuple[int, str, str]:
        done = runner.invoke(app, [*args, "--data-dir", str(tmp_path), "--database", database_url])
        return done.exit_code, done.stdout, done.stderr

    code, out, errors = aedx("users", "add", "sly", "lee.mei", "--name", "李美玲", "--email",
                             "lee.mei@example.gov.tw", "--role", "branch_officer")  # fmt: skip
    assert code == 0, errors
    initial = out.strip()
    assert len(initial) >= 12 and "初始密碼" in errors

    code, _, errors = aedx("users", "add", "sly", "admin", "--name", "李美玲", "--email", "a@example.gov.tw",
                           "--role", "branch_officer")  # fmt: skip
    assert code == 1 and "generic" in errors
    code, _, errors = aedx("users", "add", "sly", "kao.ming", "--name", "高明", "--email", "k@example.gov.tw",
                           "--role", "hq_admin")  # fmt: skip
    assert code == 1 and "士林分署為分署，其人員不可擔任「署本部管理者」" in errors

    db = Database(database_url)
    with db.transaction() as s:
        signed = sessions.authenticate(s, "lee.mei", initial, None, "127.0.0.1", secret_key=KEY, now=T0)
    assert signed.must_change_password

    assert aedx("users", "role", "lee.mei", "branch_supervisor")[0] == 0
    assert aedx("users", "disable", "lee.mei")[0] == 0
    code, out, _ = aedx("users", "list", "--org", "sly")
    assert code == 0
    listed = list(csv.DictReader(io.StringIO(out)))
    assert [(r["username"], r["role"], r["active"]) for r in listed] == [
        ("lee.mei", "branch_supervisor", "no")
    ]
    with db.transaction() as s, pytest.raises(sessions.SessionEnded):
        sessions.resume(s, signed.token, now=T0)

    assert aedx("users", "enable", "lee.mei")[0] == 0
    code, out, _ = aedx("users", "reset-password", "lee.mei", "--totp")
    assert code == 0
    again = out.strip()
    assert again != initial
    for _ in range(sessions.LOCKOUT_THRESHOLD):
        with db.transaction() as s, pytest.raises(sessions.SignInFailed):
            sessions.authenticate(s, "lee.mei", initial, None, None, secret_key=KEY, now=T0)
    assert aedx("users", "unlock", "lee.mei")[0] == 0
    with db.transaction() as s:
        sessions.authenticate(s, "lee.mei", again, None, None, secret_key=KEY, now=T0)

    code, _, errors = aedx("users", "disable", "nobody.here")
    assert code == 1 and "no such account" in errors
    assert aedx("users", "list")[1].count("\nsly,lee.mei,") == 1
    db.dispose()

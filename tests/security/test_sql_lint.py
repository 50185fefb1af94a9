"""tools/sql_lint.py: each way of building SQL from strings is caught, a literal is not, the marker
needs a reason, and src/ passes as it stands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tools.sql_lint import check_source, main

ROOT = Path(__file__).resolve().parents[2]
HEAD = "from sqlalchemy import text\nimport sqlalchemy as sa\n"

CAUGHT = {
    "f-string": 'session.execute(text(f"SELECT * FROM t WHERE a = {a}"))',
    "percent": 'session.execute(text("SELECT * FROM t WHERE a = %s" % a))',
    "plus": 'session.execute(text("SELECT * FROM t WHERE a = " + a))',
    "format": 'session.execute(text("SELECT * FROM t WHERE a = {}".format(a)))',
    "module alias": 'session.execute(sa.text(f"DELETE FROM {t}"))',
    "renamed import": 'from sqlalchemy import text as sql\nsession.execute(sql("SELECT " + c))',
    "a variable": "q = input()\nsession.execute(text(q))",
    "driver sql": 'conn.exec_driver_sql(f"DROP TABLE {name}")',
    "driver sql variable": "conn.exec_driver_sql(query)",
    "cursor f-string": "cur.execute(f\"SELECT * FROM t WHERE a = '{a}'\")",
    "cursor percent": "cur.execute(\"SELECT * FROM t WHERE a = '%s'\" % a)",
    "cursor plus": 'cur.executemany("INSERT INTO " + table + " VALUES (?)", rows)',
    "cursor format": 'cur.execute("SELECT {}".format(col))',
    "cursor through a name": 'sql = f"SELECT {col} FROM t"\ncur.execute(sql)',
    "psycopg copy": 'cur.copy(f"COPY {table} FROM STDIN")',
    "executescript": 'cur.executescript("DROP TABLE " + t)',
    "keyword argument": 'session.execute(text(text=f"SELECT {a}"))',
    "bulk select": 'bulk.select(session, f"SELECT {c} FROM t", schema)',
    "reassigned constant": 'Q = "SELECT 1"\nQ = f"SELECT {x}"\nsession.execute(text(Q))',
}

ALLOWED = {
    "literal": 'session.execute(text("SELECT * FROM t WHERE a = :a"), {"a": a})',
    "implicit concatenation": 'session.execute(text("SELECT * " "FROM t"))',
    "module constant": 'Q = "SELECT 1"\nsession.execute(text(Q))',
    "annotated constant": 'Q: str = "SELECT 1"\nsession.execute(text(Q))',
    "cursor literal": 'cur.execute("SELECT * FROM t WHERE a = ?", (a,))',
    "orm statement": "session.execute(select(T).where(T.a == a))",
    "another text function": 'def text(x):\n    return x\ntext(f"{name}")',
    "polars text": 'import polars as pl\ndef text(n):\n    return pl.col(n)\ntext(f"a{b}")',
    "marked": 'session.execute(text(f"ANALYZE {name}"))  # sql-lint: identifiers - our table name',
    "bulk select constant": 'Q = "SELECT 1"\nbulk.select(session, Q, schema)',
}


@pytest.mark.parametrize("snippet", CAUGHT.values(), ids=CAUGHT.keys())
def test_each_way_of_building_sql_is_caught(snippet: str) -> None:
    problems = check_source(HEAD + snippet)
    assert len(problems) == 1, problems
    assert problems[0].line == HEAD.count("\n") + snippet.count("\n") + 1
    assert "SQL001" in str(problems[0])


@pytest.mark.parametrize("snippet", ALLOWED.values(), ids=ALLOWED.keys())
def test_literals_and_marked_identifiers_pass(snippet: str) -> None:
    assert check_source(HEAD + snippet) == []


def test_the_marker_needs_a_reason() -> None:
    (problem,) = check_source(HEAD + 'session.execute(text(f"ANALYZE {name}"))  # sql-lint: identifiers')
    assert "reason" in problem.message


def test_the_marker_covers_only_its_own_call() -> None:
    source = HEAD + (
        'session.execute(text(f"ANALYZE {a}"))  # sql-lint: identifiers - ours\n'
        'session.execute(text(f"ANALYZE {b}"))\n'
    )
    assert [p.line for p in check_source(source)] == [4]


def test_src_passes_and_a_bad_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(ROOT / "src")]) == 0
    bad = tmp_path / "bad.py"
    bad.write_text(HEAD + CAUGHT["f-string"] + "\n")
    assert main([str(tmp_path)]) == 1
    assert f"{bad}:3:" in capsys.readouterr().out


def test_the_command_line_exits_nonzero_on_a_finding(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(HEAD + CAUGHT["cursor format"] + "\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sql_lint.py"), str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "SQL001" in done.stdout

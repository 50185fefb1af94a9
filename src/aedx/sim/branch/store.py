"""The branch system's own database (SQLite, its own file): cases, officers, actions, the status
events it reports and the files they left in, and the deliveries it imported."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS officers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, section TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS serials (
    roc_year INTEGER NOT NULL, case_type TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (roc_year, case_type)
);
CREATE TABLE IF NOT EXISTS imported (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, records INTEGER NOT NULL, day TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    agency_code TEXT NOT NULL,
    agency_case_no TEXT NOT NULL,
    branch_case_no TEXT NOT NULL UNIQUE,
    officer_id INTEGER NOT NULL REFERENCES officers (id),
    obligor_id TEXT NOT NULL,
    debt_category TEXT NOT NULL,
    debt_type TEXT NOT NULL,
    amount_due INTEGER NOT NULL,
    collected INTEGER NOT NULL DEFAULT 0,
    paid_to_agency INTEGER NOT NULL DEFAULT 0,
    received TEXT NOT NULL,
    enforcement_deadline TEXT NOT NULL,
    stage TEXT NOT NULL,
    stage_day TEXT NOT NULL,
    status TEXT NOT NULL,
    close_reason TEXT,
    closed_on TEXT,
    is_open INTEGER,
    source TEXT NOT NULL,
    CHECK (collected + paid_to_agency <= amount_due),
    UNIQUE (agency_code, agency_case_no, is_open)
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY,
    case_id INTEGER REFERENCES cases (id),
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    amount INTEGER,
    reference TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    event TEXT NOT NULL,
    event_date TEXT NOT NULL,
    amount INTEGER,
    close_reason TEXT,
    batch INTEGER REFERENCES batches (id)
);
CREATE TABLE IF NOT EXISTS stepped (case_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, day TEXT NOT NULL, stem TEXT NOT NULL UNIQUE, written INTEGER NOT NULL DEFAULT 0
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """The database, created when new; each change runs in an explicit transaction."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All or nothing: committed when the block ends, rolled back when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )

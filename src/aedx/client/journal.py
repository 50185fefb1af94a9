"""The client's journal (SQLite in the state folder): what it sent and what it wrote, so that a run
stopped at any point resumes where it was. Each step is committed before the next begins."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    submission_id TEXT,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (name, sha256)
);
CREATE TABLE IF NOT EXISTS downloads (
    delivery_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    content_sha256 TEXT,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


@dataclass(frozen=True)
class Upload:
    name: str
    sha256: str
    idempotency_key: str
    submission_id: str | None
    state: str  # sending, sent (the platform has it), filed (moved to sent/ or rejected/)


@dataclass(frozen=True)
class Download:
    delivery_id: str
    sha256: str
    name: str
    content_sha256: str | None
    state: str  # written (safe on disk), acknowledged


class Journal:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "journal.sqlite3", timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- uploads ---------------------------------------------------------------------------------

    def upload(self, name: str, sha256: str) -> Upload | None:
        row = self.db.execute(
            "SELECT name, sha256, idempotency_key, submission_id, state FROM uploads "
            "WHERE name = ? AND sha256 = ?",
            (name, sha256),
        ).fetchone()
        return Upload(*row) if row else None

    def sending(self, name: str, sha256: str, key: str) -> None:
        self.db.execute(
            "INSERT INTO uploads (name, sha256, idempotency_key, state) VALUES (?, ?, ?, 'sending') "
            "ON CONFLICT (name, sha256) DO NOTHING",
            (name, sha256, key),
        )

    def sent(self, name: str, sha256: str, submission_id: str) -> None:
        self._set_upload(name, sha256, "sent", submission_id)

    def filed(self, name: str, sha256: str) -> None:
        self._set_upload(name, sha256, "filed")

    def _set_upload(self, name: str, sha256: str, state: str, submission_id: str | None = None) -> None:
        self.db.execute(
            "UPDATE uploads SET state = ?, submission_id = coalesce(?, submission_id), "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE name = ? AND sha256 = ?",
            (state, submission_id, name, sha256),
        )

    # -- downloads -------------------------------------------------------------------------------

    def download(self, delivery_id: str) -> Download | None:
        row = self.db.execute(
            "SELECT delivery_id, sha256, name, content_sha256, state FROM downloads WHERE delivery_id = ?",
            (delivery_id,),
        ).fetchone()
        return Download(*row) if row else None

    def written(self, delivery_id: str, sha256: str, name: str, content_sha256: str) -> None:
        self.db.execute(
            "INSERT INTO downloads (delivery_id, sha256, name, content_sha256, state) "
            "VALUES (?, ?, ?, ?, 'written') ON CONFLICT (delivery_id) DO UPDATE SET "
            "sha256 = excluded.sha256, name = excluded.name, content_sha256 = excluded.content_sha256",
            (delivery_id, sha256, name, content_sha256),
        )

    def acknowledged(self, delivery_id: str) -> None:
        self.db.execute(
            "UPDATE downloads SET state = 'acknowledged', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE delivery_id = ?",
            (delivery_id,),
        )

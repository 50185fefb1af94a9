"""Reading transactions: on SQLite they run beside a writer that holds the lock (which every
writing transaction takes up front), on PostgreSQL a write in one is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from aedx.storage.db import Database
from aedx.storage.tables import Organisation


def agency(code: str) -> Organisation:
    return Organisation(code=code, name="臺北市稅捐稽徵處", role="agency", category="tax")


def count(db: Database) -> int:
    with db.reading() as reader:
        return int(reader.scalar(select(func.count()).select_from(Organisation)) or 0)


def test_a_read_runs_while_a_writer_holds_the_lock(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.transaction() as writer:
            writer.add(agency("A0001"))
            writer.flush()  # written, not yet committed: on SQLite the write lock is held
            assert count(db) == 0  # the read neither waits for the writer nor sees its row
        assert count(db) == 1
    finally:
        db.dispose()


def test_postgresql_refuses_a_write_in_a_reading_transaction(database_url: str) -> None:
    db = Database(database_url)
    try:
        if db.is_sqlite:
            pytest.skip("SQLite has no read-only transaction; its reads are deferred instead")
        with pytest.raises(DBAPIError, match="read-only"), db.reading() as reader:
            reader.execute(text("DELETE FROM organisations"))
        with db.transaction() as writer:  # the pooled connection writes again
            writer.add(agency("A0001"))
        assert count(db) == 1
    finally:
        db.dispose()

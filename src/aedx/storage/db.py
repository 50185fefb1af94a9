"""The database engine: SQLite (embedded, WAL) or PostgreSQL (production), and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

READING = "aedx_reading"  # the execution option of read-only transactions


class Database:
    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = make_url(url)
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": 60})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = create_engine(self.url, pool_size=pool_size, pool_pre_ping=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads: on SQLite a deferred transaction, a snapshot that neither waits for nor holds up
        # writers (WAL); on PostgreSQL a READ ONLY transaction.
        read_only = {READING: True} | ({} if self.is_sqlite else {"postgresql_readonly": True})
        self.read_sessions = sessionmaker(self.engine.execution_options(**read_only), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads (PostgreSQL refuses a write in it): for what is asked
        often, such as the caller behind an access token or a submission's state, so that it runs
        beside the writers instead of after them."""
        with self.read_sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        command.upgrade(alembic_config(self), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aedx.storage") / "migrations"))
    cfg.attributes["engine"] = db.engine
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Transactions are begun explicitly (see below), so that a writer takes its lock up front
    # instead of failing on upgrade from a read lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    reading = connection.get_execution_options().get(READING)
    if reading:
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

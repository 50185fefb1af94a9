"""Moving Polars frames in and out of the database in bulk: COPY on PostgreSQL, executemany on
SQLite. Table and column names come from the platform's own schema, never from input; values
always travel as data."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

COPY_CHUNK_ROWS = 200_000


def _raw(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert(session: Session, table: str, frame: pl.DataFrame) -> None:
    """Append the frame's rows to ``table``; the frame's column names are the table's. A broken
    constraint raises SQLAlchemy's ``IntegrityError``, as an ORM insert would."""
    if frame.height == 0:
        return
    try:
        _insert(session, table, frame)
    except (sqlite3.IntegrityError, psycopg.IntegrityError) as e:
        raise IntegrityError(f"bulk insert into {table}", None, e) from e


def _insert(session: Session, table: str, frame: pl.DataFrame) -> None:
    columns = ", ".join(frame.columns)
    raw = _raw(session)
    if is_postgres(session):
        copy_sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # sql-lint: identifiers - ours
            for part in frame.iter_slices(COPY_CHUNK_ROWS):
                buffer = io.BytesIO()
                part.write_csv(buffer, include_header=False, null_value="", quote_style="necessary")
                copy.write(buffer.getvalue())
    else:
        marks = ", ".join("?" * frame.width)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - names from our schema
        cur = raw.cursor()
        for part in frame.iter_slices(COPY_CHUNK_ROWS):
            cur.executemany(sql, part.iter_rows())  # sql-lint: identifiers - ours
        cur.close()


@contextmanager
def copy_in(session: Session, table: str, columns: Sequence[str]) -> Iterator[Callable[[pl.DataFrame], None]]:
    """One COPY into ``table`` (PostgreSQL) fed a frame at a time, for rows that arrive in batches."""
    raw = _raw(session)
    copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)"
    try:
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # sql-lint: identifiers - ours

            def write(frame: pl.DataFrame) -> None:
                buffer = io.BytesIO()
                frame.select(columns).write_csv(
                    buffer, include_header=False, null_value="", quote_style="necessary"
                )
                copy.write(buffer.getvalue())

            yield write
    except psycopg.IntegrityError as e:
        raise IntegrityError(f"bulk insert into {table}", None, e) from e


def stage(session: Session, name: str, frame: pl.DataFrame, types: dict[str, str]) -> None:
    """A temporary table ``name`` holding the frame, emptied when the transaction ends."""
    columns = ", ".join(f"{c} {types[c]}" for c in frame.columns)
    if is_postgres(session):
        create = f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"
        session.execute(text(create))  # sql-lint: identifiers - ours
        session.execute(text(f"TRUNCATE {name}"))  # sql-lint: identifiers - ours
    else:
        create = f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})"
        session.execute(text(create))  # sql-lint: identifiers - ours
        session.execute(text(f"DELETE FROM {name}"))  # noqa: S608  # sql-lint: identifiers - ours
    insert(session, name, frame)
    if is_postgres(session):
        session.execute(text(f"ANALYZE {name}"))  # sql-lint: identifiers - ours


def select(
    session: Session, sql: str, schema: dict[str, pl.DataType], params: Sequence[Any] = ()
) -> pl.DataFrame:
    """The rows of a query as a frame of the given schema (COPY TO on PostgreSQL). ``sql`` is a
    constant query with ``%s`` placeholders for ``params``; ``tools/sql_lint.py`` checks that every
    caller gives a literal."""
    raw = _raw(session)
    if is_postgres(session):
        buffer = io.BytesIO()
        query = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
        with raw.cursor() as cur, cur.copy(query, params) as copy:  # sql-lint: identifiers - sql is checked
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        as_read = {n: pl.String() if t == pl.Boolean else t for n, t in schema.items()}
        return pl.read_csv(
            buffer, has_header=False, new_columns=list(schema), schema_overrides=as_read, infer_schema=False
        ).with_columns(
            pl.col(n).replace_strict({"t": True, "f": False}, return_dtype=pl.Boolean)
            for n, t in schema.items()
            if t == pl.Boolean
        )
    cur = raw.cursor()
    rows = cur.execute(sql.replace("%s", "?"), tuple(params)).fetchall()  # sql-lint: identifiers - checked
    cur.close()
    return pl.DataFrame(rows, schema=schema, orient="row")

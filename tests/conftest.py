"""Shared fixtures: a throwaway PostgreSQL server for the session, a platform on each database, and
a browser.

Long loops (a simulated month, a thousand files from fifty clients, twenty worker kills) run in
small versions here; ``make soak`` (``AEDX_SOAK=1``) runs them at full size, with the tests marked
``soak`` that have no small version.

Under CI (``AEDX_REQUIRE_POSTGRES=1``, set by ``.ci/run``) a PostgreSQL that cannot start fails
the run; elsewhere its tests are skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from aedx.storage.db import Database
from aedx.storage.localpg import LocalPostgres, PostgresUnavailable
from aedx.storage.tables import Base

DATABASES = ["sqlite", "postgresql"]
SOAK = os.environ.get("AEDX_SOAK") == "1"


def soak_size(small: int, full: int) -> int:
    """A long loop's size: small in ``make test``, full under ``make soak``."""
    return full if SOAK else small


def _on_postgres_in_a_browser(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return (
        "chromium" in getattr(item, "fixturenames", ())
        and callspec is not None
        and callspec.params.get("database_url") == "postgresql"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests run on SQLite: what differs between the databases lies below the pages,
    whose HTTP tests run on both. Long loops without a small version wait for ``make soak``."""
    left = [item for item in items if _on_postgres_in_a_browser(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if not _on_postgres_in_a_browser(item)]
    if not SOAK:
        later = pytest.mark.skip(reason="a long loop: `make soak` runs it")
        for item in items:
            if item.get_closest_marker("soak"):
                item.add_marker(later)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    server = LocalPostgres()
    try:
        server.start()
    except PostgresUnavailable as e:
        server.stop()
        if os.environ.get("AEDX_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL could not start: {e}", pytrace=False)
        pytest.skip(f"PostgreSQL could not start: {e}")
    Database(server.url).migrate()
    yield server
    server.stop()


def _empty(url: str) -> None:
    db = Database(url)
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks runs once on SQLite and once on PostgreSQL, on an empty schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'aedx.db'}"
        Database(url).migrate()
        return url
    server: LocalPostgres = request.getfixturevalue("postgres")
    _empty(server.url)
    return server.url


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (``make test`` installs it when missing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],  # Chromium's sandbox refuses root
        )
        yield browser
        browser.close()

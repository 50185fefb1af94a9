"""The platform the client's tests talk to: a test hub on SQLite, served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.support import Server
from tests.exchange.hub import Hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "platform")
    yield h
    h.close()


@pytest.fixture
def server(hub: Hub) -> Iterator[Server]:
    s = Server(hub)
    s.start()
    yield s
    s.stop()

"""A platform served by a real uvicorn on loopback, and the README's shell blocks, for the
tests that run the documented recipes as written with curl and openssl."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from aedx.api import serving as edge_serving
from aedx.api.app import create_app
from aedx.exchange.platform import Platform

README = Path(__file__).parents[1] / "README.md"


def readme_blocks(heading: str) -> list[str]:
    """The shell blocks of the README section under ``heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return re.findall(r"```sh\n(.*?)```", text[start : end if end > 0 else None], re.S)


@contextmanager
def serving(platform: Platform) -> Iterator[str]:
    """The platform's API on a free loopback port; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        edge_serving.config(
            create_app(platform), platform.settings, host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)

"""The HTTP server's configuration, one for ``aedx serve``, the demonstration and the served tests.

uvicorn itself believes ``X-Forwarded-For`` from 127.0.0.1 by default, so any local process could
choose the address the audit log records: its proxy handling is off, and the application believes
forwarded headers only from ``AEDX_TRUSTED_PROXIES`` (``aedx.api.app``). h11's own limit on the
request head is set above ``AEDX_MAX_HEADER_KB`` so that an oversized head reaches the application,
which answers 431 (h11 would answer a bare 400)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from aedx.settings import Settings

H11_HEADROOM = 4  # h11 buffers up to this many times the application's limit


def config(app: FastAPI, settings: Settings, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        h11_max_incomplete_event_size=settings.max_header_bytes * H11_HEADROOM,
        **options,
    )

"""What every HTTP answer passes through at the edge: the request head's size (431), the ``Host``
it names (only the configured ones, so that no caller's ``Host`` ends up in an absolute URL), and
the headers every answer carries (``nosniff``; ``no-store`` on the API, whose answers hold personal
data, packages, receipts and reports; HSTS over TLS, directly or behind a trusted TLS proxy).

A plain ASGI middleware, not Starlette's ``BaseHTTPMiddleware``: uploads of gigabytes stream through
it untouched."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aedx.settings import Settings

NO_STORE_PREFIXES = ("/api/", "/oauth/")
HSTS = "max-age=31536000; includeSubDomains"


def error(status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's one error shape."""
    body = {"error": {"code": code, "message_zh": zh, "message_en": en}}
    return JSONResponse(body, status_code=status, headers=headers)


def head_size(scope: Scope) -> int:
    """The size of the header fields as sent (``name: value`` lines); the request line is left to
    the server's own limit, and to the parameters' (a long query is the schema's 422)."""
    return sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def host_name(scope: Scope) -> str:
    """The name in the ``Host`` header, without its port (``[::1]:8000`` → ``::1``)."""
    raw = next((v for n, v in scope["headers"] if n == b"host"), b"").decode("latin-1").strip().lower()
    if raw.startswith("["):
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    """``*`` allows any name, ``*.example.gov.tw`` any name under that domain."""
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class Edge:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        path: str = scope["path"]
        secure = scope.get("scheme") == "https"
        no_store = path.startswith(NO_STORE_PREFIXES)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if no_store:
                    headers["Cache-Control"] = "no-store"
                if secure:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, sending)

    def refusal(self, scope: Scope) -> Any:
        if head_size(scope) > self.settings.max_header_bytes:
            kib = self.settings.max_header_bytes >> 10
            return error(
                431,
                "request.headers_too_large",
                f"請求標頭超過 {kib} KiB",
                f"the request headers exceed {kib} KiB",
                {"Connection": "close"},
            )
        if not host_allowed(host_name(scope), self.settings.allowed_hosts):
            return error(400, "request.host", "不受理此主機名稱", "this host name is not served here")
        return None

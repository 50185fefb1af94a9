"""The application: routers, one error shape, health, and the in-process worker of the embedded
platform."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException

from aedx import __version__, errors
from aedx.api import audit, cases, deliveries, kinds, oauth, submissions, trust, uploads
from aedx.exchange.platform import Platform, process_actor
from aedx.exchange.worker import Worker
from aedx.trust import redaction
from aedx.web import portal, site

log = logging.getLogger(__name__)

STATUS = {
    errors.Invalid: 400,
    errors.Unauthenticated: 401,
    errors.Denied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NotReady: 409,
    errors.TooLarge: 413,
}
HTTP_MESSAGES = {
    404: ("查無此資源", "not found"),
    405: ("不支援此方法", "method not allowed"),
}


def error(status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message_zh": zh, "message_en": en}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(platform: Platform, *, inline_worker: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redaction.install()  # on the server's handlers too, which exist by now
        worker = Worker(platform, process_actor("worker")) if inline_worker else None
        thread = None
        if worker is not None:
            thread = threading.Thread(target=worker.run_forever, name="aedx-worker", daemon=True)
            thread.start()
            app.state.wake_worker = worker.wake.set
        yield
        if worker is not None and thread is not None:
            worker.stop()
            thread.join(timeout=60)

    app = FastAPI(
        title="行政執行資料交換平台 aedx API",
        version=__version__,
        summary="Exchange files between transferring agencies and the AEA's branches",
        lifespan=lifespan,
    )
    app.state.platform = platform
    for router in (
        submissions.router,
        deliveries.router,
        audit.router,
        trust.router,
        oauth.router,
        cases.router,
        uploads.router,
        kinds.router,
    ):
        app.include_router(router)
    site.install(app)  # the web portals under /portal

    @app.exception_handler(errors.DomainError)
    async def exchange_error(request: Request, exc: errors.DomainError) -> Response:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        if portal.under_portal(request.url.path):
            return portal.error_page(request, status)  # the portal answers in HTML
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error(status, exc.code, exc.message_zh, exc.message_en, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if portal.under_portal(request.url.path):
            return portal.error_page(request, 400)
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        return error(422, "request.invalid", f"請求內容有誤：{where}", f"invalid request: {where}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if portal.under_portal(request.url.path):
            return portal.error_page(request, exc.status_code)
        zh, en = HTTP_MESSAGES.get(exc.status_code, ("請求無法處理", str(exc.detail)))
        return error(exc.status_code, f"http.{exc.status_code}", zh, en)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        if portal.under_portal(request.url.path):
            return portal.error_page(request, 500)
        return error(500, "internal", "系統發生錯誤，請稍後再試", "internal error; try again later")

    @app.get("/health", tags=["operations"], summary="存活 Liveness")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["operations"], summary="就緒 Readiness")
    def ready() -> dict[str, Any]:
        with platform.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ready"}

    return app

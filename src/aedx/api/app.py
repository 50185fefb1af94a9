"""The application: routers, one error shape, health, and the in-process worker of the embedded
platform."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.routing import Match
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from aedx import __version__, errors
from aedx.accounts.clients import TOKEN_PATH
from aedx.api import apidocs, audit, cases, deliveries, kinds, oauth, ratelimit, submissions, trust, uploads
from aedx.api.edge import Edge, error
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
    ratelimit.TooManyRequests: 429,
}
HTTP_MESSAGES = {
    404: ("查無此資源", "not found"),
    405: ("不支援此方法", "method not allowed"),
}


MASKED_OBLIGOR = (
    "此為遮蔽後之身分證統一編號（如 A12****789），無法據以查詢；請以完整號碼或案號查詢",
    "this is a masked ID as the API shows it (A12****789), which finds nothing; search with the full ID "
    "or by case number",
)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def masked_obligor(problem: Any) -> bool:
    """The API's own masked obligor ID, given back as a filter."""
    value = problem.get("input")
    return problem.get("loc") == ("query", "obligor_id") and isinstance(value, str) and "*" in value


def allowed_methods(request: Request) -> str:
    """Every method the path answers to: Starlette's 405 names only the first route's."""
    routes = request.app.router.routes

    def answers(method: str) -> bool:
        scope = dict(request.scope, method=method)
        return any(route.matches(scope)[0] is Match.FULL for route in routes)

    return ", ".join(m for m in METHODS if answers(m))


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
        dependencies=[Depends(ratelimit.by_address)],
        docs_url=None,  # served from the package's own assets (aedx.api.apidocs)
        redoc_url=None,
    )
    app.add_middleware(Edge, settings=platform.settings)
    if platform.settings.trusted_proxies:  # outermost: the edge sees the client's address and scheme
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(platform.settings.trusted_proxies))
    apidocs.install(app)
    apidocs.publish_upload_limit(app, platform.settings.max_upload_bytes)
    app.state.platform = platform
    app.state.limiter = ratelimit.Limiter(platform.settings, platform.db)
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
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        if isinstance(exc, ratelimit.TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
            if request.url.path == TOKEN_PATH:
                return oauth.refusal(429, "temporarily_unavailable", exc.message_en, headers)
        if portal.under_portal(request.url.path):
            page = portal.error_page(request, status)  # the portal answers in HTML
            page.headers.update(headers)
            return page
        return error(status, exc.code, exc.message_zh, exc.message_en, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if portal.under_portal(request.url.path):
            return portal.error_page(request, 400)
        if any(masked_obligor(e) for e in exc.errors()):
            return error(422, "case.masked_obligor_id", *MASKED_OBLIGOR)
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        return error(
            422, "request.schema", f"請求內容不符規格：{where}", f"the request breaks the schema: {where}"
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if portal.under_portal(request.url.path):
            return portal.error_page(request, exc.status_code)
        zh, en = HTTP_MESSAGES.get(exc.status_code, ("請求無法處理", str(exc.detail)))
        headers = {"Allow": allowed_methods(request)} if exc.status_code == 405 else dict(exc.headers or {})
        return error(exc.status_code, f"http.{exc.status_code}", zh, en, headers)

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

    for path, probe in (("/health", health), ("/ready", ready)):  # probes and monitors often ask HEAD
        app.add_api_route(path, probe, methods=["HEAD"], include_in_schema=False)
    return app

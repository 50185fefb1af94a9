"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), from assets the package carries (``docs_assets/``,
see its SOURCES.md): no CDN, nothing a third party can change, and they work on a closed network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
FOLDER = Path(__file__).with_name("docs_assets")


def publish_upload_limit(app: FastAPI, limit: int) -> None:
    """The upload limit the platform is configured with, in the OpenAPI document of this app."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        operation = schema["paths"]["/api/v1/submissions"]["post"]
        operation["description"] = (
            operation.get("description", "") + f"\n\nThe file is at most {limit:,} bytes "
            f"({limit / (1 << 20):g} MiB, `AEDX_MAX_UPLOAD_MB`); a larger one gets 413."
        )
        operation["requestBody"]["x-max-bytes"] = limit
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS, StaticFiles(directory=FOLDER), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # else a badge from validator.swagger.io
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )

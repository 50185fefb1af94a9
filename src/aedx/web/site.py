"""The portal's areas, in one list: each is a module of the ``web`` package with a ``router`` of
its pages, its templates under ``templates/<area>/``, its messages in ``translations/*/<area>.po``,
and its links declared with ``portal.navigation``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from aedx.web import admin, case_pages, directory, exchange, inbox, monitor, notices, portal, upload_list

AREAS: list[APIRouter] = [
    upload_list.router,
    exchange.router,
    inbox.router,
    case_pages.router,
    directory.router,
    notices.router,
    monitor.router,
    admin.router,
]


def install(app: FastAPI) -> None:
    portal.install(app, AREAS)

"""Helpers of the management portal's tests: people signed in whatever their role (HQ roles enrol
an authenticator first), the management routes as the router declares them, and the audit events
a change left."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.storage.tables import AuditEvent
from aedx.web import admin
from tests.web.conftest import Portal, csrf_of


def csrf(browser: TestClient) -> str:
    """The session's CSRF token, from a page every signed-in person may open."""
    return csrf_of(browser.get("/portal/password"))


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with its parameters filled in

    def call(self, browser: TestClient, data: dict[str, str] | None = None) -> int:
        if self.method == "GET":
            return browser.get(self.path).status_code
        return browser.post(self.path, data=data or {}).status_code


SAMPLES = {"code": "A383000000", "username": "someone", "client_id": "aedx-0", "serial": "1f"}


def routes() -> list[Route]:
    """Every management route the router declares, each method apart, its path parameters given
    sample values: a new route is covered without being listed here."""
    found = []
    for route in admin.router.routes:
        assert isinstance(route, APIRoute)
        path = route.path
        for name in re.findall(r"{(\w+)}", path):
            path = path.replace(f"{{{name}}}", SAMPLES[name])
        found += [Route(method, path) for method in sorted(route.methods)]
    return found


def events(portal: Portal, action: str) -> list[tuple[str, str, str | None, dict[str, object]]]:
    """(outcome, actor, object id, detail) of the audit events of an action, oldest first."""
    with portal.platform.db.transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(e.outcome, e.actor, e.object_id, json.loads(e.detail) if e.detail else {}) for e in rows]

"""The management portal (管理介面) of HQ's administrators and of organisations' own administrators:
organisations, people, roles, API clients, certificates, grants and the audit log, one module each.

Every page checks its permission and audits a refusal; every change is a POST with the session's
CSRF token and is made (and audited) by the core, as the command line makes it. An organisation's
own administrator (``accounts.manage_own``) reaches their own organisation's people and clients
only; the core decides, these pages only ask.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from aedx.accounts.roles import Permission
from aedx.web.admin import audit_log, certificates, grants, organisations, people
from aedx.web.admin.common import ADMIN, ANY_SECTION, router, show
from aedx.web.i18n import N_
from aedx.web.portal import PlatformDep, VisitDep, navigation, require

__all__ = ["audit_log", "certificates", "grants", "organisations", "people", "router"]

# --- the index


@router.get("/", response_class=HTMLResponse)
def index(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "admin.view", *ANY_SECTION)
    return show(request, p, v, "index.html", {})


navigation(f"{ADMIN}/", N_("Management"), permission=Permission.ACCOUNTS_MANAGE_OWN, order=80)
navigation(f"{ADMIN}/audit", N_("Audit log"), permission=Permission.AUDIT_READ, order=85)

"""Grants: one organisation's row of the organisation × kind × direction matrix as checkboxes, an
overview of all grants, and the reference grants (``accounts.manage``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from aedx.accounts import grants
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import Permission
from aedx.errors import DomainError
from aedx.kinds import KINDS
from aedx.trust.caller import Direction
from aedx.web.admin.common import (
    ADMIN,
    DIRECTION_LABELS,
    ROLE_KINDS,
    Csrf,
    PageNumber,
    Text,
    change,
    managed_organisations,
    paged,
    router,
    saved_redirect,
    show,
)
from aedx.web.portal import PlatformDep, Visit, VisitDep, kind_label, message, require

GRANTS = (Permission.ACCOUNTS_MANAGE,)


def _grants_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    organisation: str = "",
    kind: str = "",
    direction: str = "",
    number: int = 1,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    kinds = [(name, kind_label(request, name)) for name in KINDS]
    with p.db.transaction() as session:
        require(session, v.caller, "grant.list", *GRANTS)
        choices = [(o.code, o.name, o.role) for o in managed_organisations(session, v)]
        held: frozenset[tuple[str, Direction]] = frozenset()
        chosen = next((c for c in choices if c[0] == organisation), None)
        if chosen is not None:
            held = grants.of(session, orgs.get(session, chosen[0]).id)
        overview = [
            (c, k, d.value)
            for c, k, d in grants.listing(session)
            if (not kind or k == kind) and (not direction or d.value == direction)
        ]
    shown, next_page = paged(overview, number)
    matrix = [
        (name, label, [(d.value, DIRECTION_LABELS[d], (name, d) in held) for d in Direction])
        for name, label in kinds
    ]
    reference = {
        role: [(kind_label(request, k), DIRECTION_LABELS[d]) for k, d in sorted(pairs)]
        for role, pairs in sorted(grants.defaults().items())
    }
    context = {
        "organisations": choices,
        "chosen": chosen,
        "matrix": matrix,
        "overview": shown,
        "kinds": dict(kinds),
        "kind": kind,
        "direction": direction,
        "directions": DIRECTION_LABELS,
        "next_page": next_page,
        "number": number,
        "reference": reference,
        "role_kinds": ROLE_KINDS,
        "error": error,
    }
    return show(request, p, v, "grants.html", context, status_code)


@router.get("/grants", response_class=HTMLResponse)
def grants_page(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    organisation: Text = "",
    kind: Text = "",
    direction: Text = "",
    page: PageNumber = 1,
) -> Response:
    return _grants_page(request, p, v, organisation=organisation, kind=kind, direction=direction, number=page)


@router.post("/grants/defaults", response_class=HTMLResponse)
def grants_defaults(request: Request, p: PlatformDep, v: VisitDep, csrf_token: Csrf = "") -> Response:
    done = change(
        request, p, v, csrf_token, "grant.defaults", GRANTS, lambda s: grants.apply_defaults(s, v.caller)
    )
    if isinstance(done, DomainError):
        return _grants_page(request, p, v, error=message(request, done), status_code=400)
    return saved_redirect(f"{ADMIN}/grants")


@router.post("/grants/{code}", response_class=HTMLResponse)
def grants_set(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    csrf_token: Csrf = "",
    grant: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> Response:
    """The organisation's row of the matrix as ticked: what is newly ticked is granted, what is no
    longer ticked is revoked (each change audited by the core)."""
    wanted = grants.parse_scope(" ".join((grant or [])[:100]))
    code = code[:20]

    def apply(session: Session) -> int:
        held = grants.of(session, orgs.get(session, code).id)
        for k, d in sorted(wanted - held):
            grants.grant(session, v.caller, code, k, d)
        for k, d in sorted(held - wanted):
            grants.revoke(session, v.caller, code, k, d)
        return len(wanted ^ held)

    done = change(request, p, v, csrf_token, "grant.set", GRANTS, apply)
    if isinstance(done, DomainError):
        return _grants_page(request, p, v, organisation=code, error=message(request, done), status_code=400)
    return RedirectResponse(f"{ADMIN}/grants?organisation={quote(code)}&saved=1", status_code=303)

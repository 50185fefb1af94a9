"""Organisations: the list by kind, code or name; a new agency or partner office; corrections of a
name, kind or preferences; disabling (after a confirmation that names the organisation and what it
stops) and enabling. HQ only (``organisations.manage``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aedx.accounts import grants
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import Permission
from aedx.errors import DomainError
from aedx.kinds.case_referral import DEBT_CATEGORIES
from aedx.storage.tables import ApiClient, User
from aedx.web.admin.common import (
    ADMIN,
    DIRECTION_LABELS,
    ENCODINGS,
    FORMATS,
    ROLE_KINDS,
    Code,
    Confirm,
    Csrf,
    Text,
    change,
    confirmed,
    done_redirect,
    router,
    saved_redirect,
    show,
)
from aedx.web.portal import (
    PAGE_SIZE,
    PlatformDep,
    Refused,
    Visit,
    VisitDep,
    kind_label,
    locale_of,
    message,
    require,
)


def _organisations_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    kind: str = "",
    q: str = "",
    state: str = "",
    after: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        require(session, v.caller, "organisation.list", Permission.ORGANISATIONS_MANAGE)
        active = {"active": True, "disabled": False}.get(state)
        rows = orgs.listing(session, role=kind or None, search=q or None, active=active, after=after or None,
                            limit=PAGE_SIZE + 1)  # fmt: skip
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "kind": kind,
        "q": q,
        "state": state,
        "kinds": ROLE_KINDS,
        "formats": FORMATS,
        "encodings": ENCODINGS,
        "next_after": rows[-1].code if more and rows else None,
        "paged": bool(after),
        "error": error,
        "categories": [
            (c.value.lower(), c.label_en if locale_of(request) == "en" else c.label_zh)
            for c in DEBT_CATEGORIES
        ],
    }
    return show(request, p, v, "organisations.html", context, status_code)


@router.get("/organisations", response_class=HTMLResponse)
def organisations(
    request: Request, p: PlatformDep, v: VisitDep, kind: Text = "", q: Text = "", state: Text = "",
    after: Text = "",
) -> Response:  # fmt: skip
    return _organisations_page(request, p, v, kind=kind, q=q, state=state, after=after)


@router.post("/organisations", response_class=HTMLResponse)
def organisation_create(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Csrf = "",
    code: Code = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=10)] = "agency",
    category: Annotated[str, Form(max_length=10)] = "",
    preferred_format: Annotated[str, Form(max_length=10)] = "csv",
    preferred_encoding: Annotated[str, Form(max_length=10)] = "utf-8",
) -> Response:
    made = change(
        request,
        p,
        v,
        csrf_token,
        "organisation.create",
        (Permission.ORGANISATIONS_MANAGE,),
        lambda s: orgs.create(
            s,
            v.caller,
            code,
            name,
            kind,
            category=category or None,
            preferred_format=preferred_format,
            preferred_encoding=preferred_encoding,
        ),
    )
    if isinstance(made, DomainError):
        return _organisations_page(request, p, v, error=message(request, made), status_code=400)
    return done_redirect(f"{ADMIN}/organisations/{quote(made.code)}", "organisation_created")


def _active(session: Session, table: type[User] | type[ApiClient], organisation_id: int) -> int:
    """How many of the organisation's people or API clients are active."""
    stmt = select(func.count()).select_from(table)
    return session.scalar(stmt.where(table.organisation_id == organisation_id, table.active.is_(True))) or 0


def _organisation_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    code: str,
    error: str | None = None,
    status_code: int = 200,
    *,
    confirming: bool = False,
) -> HTMLResponse:
    """One organisation and its corrections; or, when ``confirming``, the question whether to
    disable it, with the people and API clients that would stop."""
    with p.db.transaction() as session:
        require(session, v.caller, "organisation.view", Permission.ORGANISATIONS_MANAGE)
        try:
            org = orgs.get(session, code)
        except DomainError:
            raise Refused() from None
        confirming = confirming and org.active and org.role != "hq"
        held = [(kind_label(request, k), DIRECTION_LABELS[d]) for k, d in sorted(grants.of(session, org.id))]
        people = _active(session, User, org.id) if confirming else 0
        servers = _active(session, ApiClient, org.id) if confirming else 0
        session.expunge(org)
    context = {
        "org": org,
        "kinds": ROLE_KINDS,
        "formats": FORMATS,
        "encodings": ENCODINGS,
        "managed": org.role in orgs.MANAGED_ROLES,
        "error": error,
        "confirming": confirming,
        "people": people,
        "servers": servers,
        "grants": held,
    }
    return show(request, p, v, "organisation.html", context, status_code)


@router.get("/organisations/{code}", response_class=HTMLResponse)
def organisation(request: Request, p: PlatformDep, v: VisitDep, code: str) -> Response:
    return _organisation_page(request, p, v, code[:20])


@router.post("/organisations/{code}", response_class=HTMLResponse)
def organisation_update(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    csrf_token: Csrf = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=10)] = "",
    preferred_format: Annotated[str, Form(max_length=10)] = "csv",
    preferred_encoding: Annotated[str, Form(max_length=10)] = "utf-8",
) -> Response:
    done = change(
        request,
        p,
        v,
        csrf_token,
        "organisation.update",
        (Permission.ORGANISATIONS_MANAGE,),
        lambda s: orgs.update(
            s,
            v.caller,
            code[:20],
            name=name,
            role=kind,
            preferred_format=preferred_format,
            preferred_encoding=preferred_encoding,
        ),
    )
    if isinstance(done, DomainError):
        return _organisation_page(request, p, v, code[:20], message(request, done), 400)
    return saved_redirect(f"{ADMIN}/organisations/{done.code}")


@router.get("/organisations/{code}/state", response_class=HTMLResponse)
def organisation_disable_confirmation(request: Request, p: PlatformDep, v: VisitDep, code: str) -> Response:
    """Asks before disabling, naming the organisation and what stops with it."""
    return _organisation_page(request, p, v, code[:20], confirming=True)


@router.post("/organisations/{code}/state", response_class=HTMLResponse)
def organisation_state(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
    confirm: Confirm = "",
) -> Response:
    """Enabling at once; disabling only from its confirmation page."""
    code = code[:20]
    if not active:
        ask = confirmed(
            request, p, v, csrf_token, confirm, "organisation.state", (Permission.ORGANISATIONS_MANAGE,),
            f"{ADMIN}/organisations/{quote(code)}/state",
        )  # fmt: skip
        if ask is not None:
            return ask
    done = change(
        request,
        p,
        v,
        csrf_token,
        "organisation.state",
        (Permission.ORGANISATIONS_MANAGE,),
        lambda s: orgs.set_active(s, v.caller, code, active),
    )
    if isinstance(done, DomainError):
        return _organisation_page(request, p, v, code, message(request, done), 400)
    if active:
        return saved_redirect(f"{ADMIN}/organisations/{quote(done.code)}")
    return done_redirect(f"{ADMIN}/organisations/{quote(done.code)}", "organisation_disabled")

"""People, roles and API clients: HQ's administrators reach every organisation's, an organisation's
own administrator their own (the core decides). An initial password is shown once; a newly
registered API client is shown on its own page with the client id to hand on, and is disabled
only after a confirmation that names it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aedx.accounts import clients, users
from aedx.accounts.roles import ORGANISATION_ROLES, ROLE_PERMISSIONS, Permission, Role
from aedx.errors import Denied, DomainError, NotFound
from aedx.storage.tables import Organisation
from aedx.trust import audit
from aedx.web.admin.common import (
    ADMIN,
    MANAGE_PEOPLE,
    MAX_UPLOAD,
    PERMISSION_LABELS,
    ROLE_KINDS,
    ROLE_LABELS,
    Code,
    Confirm,
    Csrf,
    PageNumber,
    Text,
    change,
    confirmed,
    done_redirect,
    managed_organisations,
    paged,
    router,
    saved_redirect,
    show,
    upload,
)
from aedx.web.portal import PlatformDep, Refused, Visit, VisitDep, message, require

# --- people


def _users_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    organisation: str = "",
    role: str = "",
    state: str = "",
    number: int = 1,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        require(session, v.caller, "user.list", *MANAGE_PEOPLE)
        try:
            found = users.listing(session, v.caller, organisation or None)
        except Denied:
            raise Refused() from None
        except DomainError as e:
            found, error, status_code = [], message(request, e), 400
        choices = [(o.code, o.name, o.role) for o in managed_organisations(session, v)]
    rows = [
        u for u in found if (not role or u.role == role) and (not state or u.active == (state == "active"))
    ]
    shown, next_page = paged(rows, number)
    kinds = {kind for _, _, kind in choices}
    own = v.caller.organisation_id
    choosable = [  # the roles the person may give in the organisations they manage
        r.value
        for r in Role
        if any(r in ORGANISATION_ROLES[k] for k in kinds) and users.may_manage(v.caller, own, r)
    ]
    # the new person's roles are those of the chosen organisation's kind (admin.js follows a change)
    new_org = next((c for c in choices if c[0] == organisation), choices[0] if choices else None)
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "new_kind_of": new_org[0] if new_org else "",
        "new_kind": new_org[2] if new_org else "",
        "role_kinds": {
            r.value: [k for k, allowed in ORGANISATION_ROLES.items() if r in allowed] for r in Role
        },
        "role": role,
        "state": state,
        "organisations": choices,
        "role_labels": ROLE_LABELS,
        "choosable": choosable,
        "error": error,
    }
    return show(request, p, v, "users.html", context, status_code)


@router.get("/users", response_class=HTMLResponse)
def users_list(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    organisation: Text = "",
    role: Text = "",
    state: Text = "",
    page: PageNumber = 1,
) -> Response:
    return _users_page(request, p, v, organisation=organisation, role=role, state=state, number=page)


def _once(request: Request, p: PlatformDep, v: Visit, username: str, password: str, what: str) -> Response:
    """The one time an initial password is shown (never kept: the page is not cached, the core
    keeps only its hash)."""
    context = {"username": username, "password": password, "what": what}
    return show(request, p, v, "password_once.html", context)


@router.post("/users", response_class=HTMLResponse)
def user_create(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Csrf = "",
    organisation: Code = "",
    username: Annotated[str, Form(max_length=50)] = "",
    full_name: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    made = change(
        request,
        p,
        v,
        csrf_token,
        "user.create",
        MANAGE_PEOPLE,
        lambda s: users.create(s, v.caller, organisation, username, full_name, email, role),
    )
    if isinstance(made, DomainError):
        return _users_page(request, p, v, error=message(request, made), status_code=400)
    return _once(request, p, v, made.user.username, made.initial_password, "created")


def _user_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    username: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        require(session, v.caller, "user.view", *MANAGE_PEOPLE)
        try:
            found = users.get(session, username)
        except NotFound:
            raise Refused() from None
        if not users.may_manage(v.caller, found.organisation_id, found.role):
            audit.by_caller(
                session,
                v.caller,
                "user.view",
                outcome="denied",
                organisation_id=found.organisation_id,
                object_type="user",
                object_id=str(found.id),
                detail={"reason": "outside_reach"},
            )
            audit.refuse(session, Refused())
        org = session.get_one(Organisation, found.organisation_id)
        person = next(u for u in users.listing(session, v.caller, org.code) if u.id == found.id)
        allowed = sorted(
            r.value
            for r in ORGANISATION_ROLES.get(org.role, frozenset())
            if users.may_manage(v.caller, org.id, r)
        )
    context = {
        "user": person,
        "org_name": org.name,
        "roles": allowed,
        "role_labels": ROLE_LABELS,
        "own": v.caller.actor == f"user:{person.id}",
        "error": error,
    }
    return show(request, p, v, "user.html", context, status_code)


@router.get("/users/{username}", response_class=HTMLResponse)
def user(request: Request, p: PlatformDep, v: VisitDep, username: str) -> Response:
    return _user_page(request, p, v, username[:50])


def _user_change(
    request: Request,
    p: PlatformDep,
    v: Visit,
    username: str,
    csrf_token: str,
    action: str,
    work: Callable[[Session], object],
) -> Response:
    done = change(request, p, v, csrf_token, action, MANAGE_PEOPLE, work)
    if isinstance(done, NotFound):
        raise Refused()
    if isinstance(done, DomainError):
        return _user_page(request, p, v, username, message(request, done), 400)
    return saved_redirect(f"{ADMIN}/users/{quote(username)}")


@router.post("/users/{username}/role", response_class=HTMLResponse)
def user_role(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    username: str,
    csrf_token: Csrf = "",
    role: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    name = username[:50]
    return _user_change(
        request, p, v, name, csrf_token, "user.role", lambda s: users.set_role(s, v.caller, name, role)
    )


@router.post("/users/{username}/state", response_class=HTMLResponse)
def user_state(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    username: str,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    name = username[:50]
    change = users.enable if active else users.disable
    return _user_change(request, p, v, name, csrf_token, "user.state", lambda s: change(s, v.caller, name))


@router.post("/users/{username}", response_class=HTMLResponse)
def user_update(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    username: str,
    csrf_token: Csrf = "",
    full_name: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    name = username[:50]
    return _user_change(
        request, p, v, name, csrf_token, "user.update",
        lambda s: users.change(s, v.caller, name, full_name=full_name, email=email),
    )  # fmt: skip


@router.post("/users/{username}/unlock", response_class=HTMLResponse)
def user_unlock(
    request: Request, p: PlatformDep, v: VisitDep, username: str, csrf_token: Csrf = ""
) -> Response:
    name = username[:50]
    return _user_change(
        request, p, v, name, csrf_token, "user.unlock", lambda s: users.unlock(s, v.caller, name)
    )


@router.post("/users/{username}/password", response_class=HTMLResponse)
def user_password(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    username: str,
    csrf_token: Csrf = "",
    totp: Annotated[bool, Form()] = False,
) -> Response:
    name = username[:50]
    done = change(
        request,
        p,
        v,
        csrf_token,
        "user.password_reset",
        MANAGE_PEOPLE,
        lambda s: users.reset_password(s, v.caller, name, reset_totp=totp),
    )
    if isinstance(done, NotFound):
        raise Refused()
    if isinstance(done, DomainError):
        return _user_page(request, p, v, name, message(request, done), 400)
    return _once(request, p, v, name, done, "totp" if totp else "reset")


# --- roles


@router.get("/roles", response_class=HTMLResponse)
def roles(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "role.list", *MANAGE_PEOPLE)
    table = [
        (role.value, ROLE_LABELS[role], [p in ROLE_PERMISSIONS[role] for p in Permission]) for role in Role
    ]
    kinds = {role.value: [k for k, allowed in ORGANISATION_ROLES.items() if role in allowed] for role in Role}
    context = {
        "table": table,
        "permissions": [(p.value, PERMISSION_LABELS[p]) for p in Permission],
        "role_kinds": kinds,
        "kinds": ROLE_KINDS,
    }
    return show(request, p, v, "roles.html", context)


# --- API clients


def _clients_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    organisation: str = "",
    number: int = 1,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        require(session, v.caller, "client.list", *MANAGE_PEOPLE)
        found = clients.listing(session, v.caller, organisation or None)
        rows = [
            (c.client_id, code, c.label, c.key_type, c.active, c.created_at, c.last_used_at)
            for c, code in found
        ]
        choices = [(o.code, o.name) for o in managed_organisations(session, v)]
    shown, next_page = paged(rows, number)
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "organisations": choices,
        "error": error,
    }
    return show(request, p, v, "clients.html", context, status_code)


@router.get("/clients", response_class=HTMLResponse)
def clients_list(
    request: Request, p: PlatformDep, v: VisitDep, organisation: Text = "", page: PageNumber = 1
) -> Response:
    return _clients_page(request, p, v, organisation=organisation, number=page)


@router.post("/clients", response_class=HTMLResponse)
def client_register(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Csrf = "",
    organisation: Code = "",
    label: Annotated[str, Form(max_length=100)] = "",
    key: Annotated[str, Form(max_length=MAX_UPLOAD)] = "",
    key_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    def register(session: Session) -> str:
        text = (upload(key_file).decode("utf-8", "replace") or key).strip()
        pem = clients.public_key_from_jwk(text) if text.startswith("{") else text.encode()
        return clients.register(session, v.caller, organisation, public_key_pem=pem, label=label).client_id

    done = change(request, p, v, csrf_token, "client.register", MANAGE_PEOPLE, register)
    if isinstance(done, DomainError):
        return _clients_page(request, p, v, error=message(request, done), status_code=400)
    return done_redirect(_client_address(done), "registered")


def _client_address(client_id: str) -> str:
    return f"{ADMIN}/clients/{quote(client_id)}"


def _client_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    client_id: str,
    *,
    confirming: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """One API client: its client id to hand on, its organisation, key and use; or, when
    ``confirming``, the question whether to disable it. Another organisation's client is out of
    an organisation's own administrator's reach (the refusal audited)."""
    with p.db.transaction() as session:
        require(session, v.caller, "client.view", *MANAGE_PEOPLE)
        try:
            found = clients.get(session, client_id[:64])
        except NotFound:
            raise Refused() from None
        org = session.get_one(Organisation, found.organisation_id)
        if not any(c.id == found.id for c, _ in clients.listing(session, v.caller, org.code)):
            audit.by_caller(
                session,
                v.caller,
                "client.view",
                outcome="denied",
                organisation_id=org.id,
                object_type="client",
                object_id=found.client_id,
                detail={"reason": "outside_reach"},
            )
            audit.refuse(session, Refused())
        session.expunge_all()
    context = {
        "client": found,
        "org": org,
        "confirming": confirming and found.active,
        "error": error,
    }
    return show(request, p, v, "client.html", context, status_code)


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client(request: Request, p: PlatformDep, v: VisitDep, client_id: str) -> Response:
    return _client_page(request, p, v, client_id)


@router.get("/clients/{client_id}/disable", response_class=HTMLResponse)
def client_disable_confirmation(request: Request, p: PlatformDep, v: VisitDep, client_id: str) -> Response:
    """Asks before disabling, naming the client: a disabled client is not enabled again."""
    return _client_page(request, p, v, client_id, confirming=True)


@router.post("/clients/{client_id}/disable", response_class=HTMLResponse)
def client_disable(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    client_id: str,
    csrf_token: Csrf = "",
    confirm: Confirm = "",
) -> Response:
    client_id = client_id[:64]
    ask = confirmed(
        request,
        p,
        v,
        csrf_token,
        confirm,
        "client.disable",
        MANAGE_PEOPLE,
        f"{_client_address(client_id)}/disable",
    )
    if ask is not None:
        return ask
    done = change(
        request,
        p,
        v,
        csrf_token,
        "client.disable",
        MANAGE_PEOPLE,
        lambda s: clients.disable(s, v.caller, client_id).client_id,
    )
    if isinstance(done, NotFound):
        raise Refused()
    if isinstance(done, DomainError):
        return _client_page(request, p, v, client_id, error=message(request, done), status_code=400)
    return done_redirect(_client_address(done), "client_disabled")

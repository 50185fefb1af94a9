"""The management portal (管理介面) of HQ's administrators and of organisations' own administrators:
organisations, people, roles, API clients, certificates, grants and the audit log.

Every page checks its permission and audits a refusal; every change is a POST with the session's
CSRF token and is made (and audited) by the core, as the command line makes it. An organisation's
own administrator (``accounts.manage_own``) reaches their own organisation's people and clients
only; the core decides, this module only asks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import certificates, clients, grants, users
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import ORGANISATION_ROLES, ROLE_PERMISSIONS, Permission, Role
from aedx.errors import Denied, DomainError, Invalid, NotFound
from aedx.kinds import KINDS
from aedx.storage.tables import Organisation
from aedx.trust import audit, ledger
from aedx.trust.caller import Direction
from aedx.trust.pki import Usage
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PlatformDep,
    Refused,
    Visit,
    VisitDep,
    locale_of,
    navigation,
    require_csrf,
)
from aedx.web.portal import page as render_page

ADMIN = "/portal/admin"
router = APIRouter(prefix=ADMIN, include_in_schema=False)
T = TypeVar("T")

MANAGE_PEOPLE = (Permission.ACCOUNTS_MANAGE, Permission.ACCOUNTS_MANAGE_OWN)
MAX_UPLOAD = 64 * 1024  # a CSR, a PEM public key or a JWK is a few kilobytes
ROLE_KINDS: dict[str, str] = {
    "hq": N_("HQ"),
    "branch": N_("Branch"),
    "agency": N_("Transferring agency"),
    "partner": N_("Partner office"),
}
ROLE_LABELS: dict[str, str] = {
    Role.HQ_ADMIN: N_("HQ administrator"),
    Role.HQ_AUDITOR: N_("HQ auditor"),
    Role.STATISTICIAN: N_("Statistician"),
    Role.BRANCH_SUPERVISOR: N_("Branch supervisor"),
    Role.BRANCH_OFFICER: N_("Branch officer"),
    Role.AGENCY_ADMIN: N_("Agency administrator"),
    Role.AGENCY_OFFICER: N_("Agency officer"),
}
PERMISSION_LABELS: dict[str, str] = {
    Permission.ACCOUNTS_MANAGE: N_("Manage every organisation's accounts, clients and grants"),
    Permission.ACCOUNTS_MANAGE_OWN: N_("Manage one's own organisation's accounts and clients"),
    Permission.ORGANISATIONS_MANAGE: N_("Manage organisations"),
    Permission.CERTIFICATES_MANAGE: N_("Manage certificates"),
    Permission.AUDIT_READ: N_("Read the audit log"),
    Permission.AUDIT_VERIFY: N_("Verify the audit ledger"),
    Permission.EXCHANGE_MONITOR: N_("Monitor the exchange"),
    Permission.SUBMISSIONS_SEND: N_("Send files"),
    Permission.SUBMISSIONS_READ: N_("Read submissions"),
    Permission.DELIVERIES_READ: N_("Download packages"),
    Permission.CASES_READ: N_("Look up cases"),
    Permission.PERSONAL_DATA_UNMASK: N_("See personal data unmasked"),
    Permission.ANALYTICS_READ: N_("Read statistics"),
}
DIRECTION_LABELS = {Direction.SEND: N_("Send"), Direction.RECEIVE: N_("Receive")}
OUTCOMES = ("ok", "denied", "rejected", "duplicate", "failed")
FORMATS = ("csv", "fixed", "jsonl")
ENCODINGS = ("utf-8", "cp950")  # Big5 is read as its superset CP950
REVOCATION_LABELS = {
    "unspecified": N_("Unspecified"),
    "key_compromise": N_("Key compromised"),
    "affiliation_changed": N_("Affiliation changed"),
    "superseded": N_("Superseded"),
    "cessation_of_operation": N_("Ceased operation"),
}
SAVED = N_("The change was saved.")

# (path, label, permissions any of which opens it), in the order of the section menu
SECTIONS = (
    (f"{ADMIN}/organisations", N_("Organisations"), (Permission.ORGANISATIONS_MANAGE,)),
    (f"{ADMIN}/users", N_("People"), MANAGE_PEOPLE),
    (f"{ADMIN}/roles", N_("Roles"), MANAGE_PEOPLE),
    (f"{ADMIN}/clients", N_("API clients"), MANAGE_PEOPLE),
    (f"{ADMIN}/certificates", N_("Certificates"), (Permission.CERTIFICATES_MANAGE,)),
    (f"{ADMIN}/grants", N_("Grants"), (Permission.ACCOUNTS_MANAGE,)),
    (f"{ADMIN}/audit", N_("Audit log"), (Permission.AUDIT_READ,)),
)
ANY_SECTION = tuple({p for _, _, permissions in SECTIONS for p in permissions})

Code = Annotated[str, Form(max_length=20)]
Csrf = Annotated[str, Form(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Text = Annotated[str, Query(max_length=100)]


# --- the shared steps of every page


def _require(session: Session, v: Visit, action: str, permissions: Sequence[Permission]) -> None:
    """Refuse (and audit) a person who holds none of the permissions."""
    if any(v.caller.may(p) for p in permissions):
        return
    audit.by_caller(session, v.caller, action, outcome="denied", detail={"reason": "permission"})
    audit.refuse(session, Refused())


def _message(request: Request, error: DomainError) -> str:
    return error.message_en if locale_of(request) == "en" else error.message_zh


def _show(
    request: Request, p: PlatformDep, v: Visit, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    sections = [(path, label) for path, label, needs in SECTIONS if any(v.caller.may(n) for n in needs)]
    response = render_page(request, p, v, f"admin/{template}", {"sections": sections, **context})
    response.status_code = status_code
    return response


def _change(
    request: Request,
    p: PlatformDep,
    v: Visit,
    csrf_token: str,
    action: str,
    permissions: Sequence[Permission],
    work: Callable[[Session], T],
) -> T | DomainError:
    """One change, as a POST makes it: CSRF, permission, then the core's call in a transaction.
    The core's refusals (audited and committed by it) end in the 403 page; its other objections
    come back to be shown on the form."""
    require_csrf(request, p, csrf_token)
    try:
        with p.db.transaction() as session:
            _require(session, v, action, permissions)
            return work(session)
    except Denied:
        raise Refused() from None
    except DomainError as e:
        return e


def _done(path: str) -> Response:
    return RedirectResponse(f"{path}?saved=1", status_code=303)


def _paged(rows: Sequence[T], number: int) -> tuple[Sequence[T], int | None]:
    """A page of a list made whole in memory (people, clients, certificates: thousands at most),
    and the next page's number when there is one."""
    start = (number - 1) * PAGE_SIZE
    return rows[start : start + PAGE_SIZE], number + 1 if len(rows) > start + PAGE_SIZE else None


def _upload(file: UploadFile | None) -> bytes:
    if file is None or not file.filename:
        return b""
    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Invalid("檔案過大（至多 64 KiB）", "the file is too large (64 KiB at most)")
    return data


def _managed_organisations(session: Session, v: Visit) -> list[Organisation]:
    """The organisations whose people the person manages: every active one for HQ, else their own."""
    stmt = select(Organisation).where(Organisation.active).order_by(Organisation.code)
    if not v.caller.may(Permission.ACCOUNTS_MANAGE):
        stmt = stmt.where(Organisation.id == v.caller.organisation_id)
    return list(session.scalars(stmt))


def _kind_label(request: Request, name: str) -> str:
    kind = KINDS.get(name)
    if kind is None:
        return name
    return kind.label_zh if locale_of(request).startswith("zh") else kind.label_en


# --- the index


@router.get("/", response_class=HTMLResponse)
def index(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        _require(session, v, "admin.view", ANY_SECTION)
    return _show(request, p, v, "index.html", {})


# --- organisations


def _organisations_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    kind: str = "",
    q: str = "",
    after: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        _require(session, v, "organisation.list", (Permission.ORGANISATIONS_MANAGE,))
        rows = orgs.listing(
            session, role=kind or None, search=q or None, after=after or None, limit=PAGE_SIZE + 1
        )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": rows,
        "kind": kind,
        "q": q,
        "kinds": ROLE_KINDS,
        "formats": FORMATS,
        "encodings": ENCODINGS,
        "next_after": rows[-1].code if more and rows else None,
        "paged": bool(after),
        "error": error,
        "saved": request.query_params.get("saved") == "1",
        "categories": orgs.CATEGORIES,
    }
    return _show(request, p, v, "organisations.html", context, status_code)


@router.get("/organisations", response_class=HTMLResponse)
def organisations(
    request: Request, p: PlatformDep, v: VisitDep, kind: Text = "", q: Text = "", after: Text = ""
) -> Response:
    return _organisations_page(request, p, v, kind=kind, q=q, after=after)


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
    made = _change(
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
        return _organisations_page(request, p, v, error=_message(request, made), status_code=400)
    return _done(f"{ADMIN}/organisations/{made.code}")


def _organisation_page(
    request: Request, p: PlatformDep, v: Visit, code: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    with p.db.transaction() as session:
        _require(session, v, "organisation.view", (Permission.ORGANISATIONS_MANAGE,))
        try:
            org = orgs.get(session, code)
        except DomainError:
            raise Refused() from None
        session.expunge(org)
    context = {
        "org": org,
        "kinds": ROLE_KINDS,
        "formats": FORMATS,
        "encodings": ENCODINGS,
        "managed": org.role in orgs.MANAGED_ROLES,
        "error": error,
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "organisation.html", context, status_code)


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
    done = _change(
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
        return _organisation_page(request, p, v, code[:20], _message(request, done), 400)
    return _done(f"{ADMIN}/organisations/{done.code}")


@router.post("/organisations/{code}/state", response_class=HTMLResponse)
def organisation_state(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    done = _change(
        request,
        p,
        v,
        csrf_token,
        "organisation.state",
        (Permission.ORGANISATIONS_MANAGE,),
        lambda s: orgs.set_active(s, v.caller, code[:20], active),
    )
    if isinstance(done, DomainError):
        return _organisation_page(request, p, v, code[:20], _message(request, done), 400)
    return _done(f"{ADMIN}/organisations/{done.code}")


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
        _require(session, v, "user.list", MANAGE_PEOPLE)
        try:
            found = users.listing(session, v.caller, organisation or None)
        except Denied:
            raise Refused() from None
        except DomainError as e:
            found, error, status_code = [], _message(request, e), 400
        choices = [(o.code, o.name, o.role) for o in _managed_organisations(session, v)]
    rows = [
        u for u in found if (not role or u.role == role) and (not state or u.active == (state == "active"))
    ]
    shown, next_page = _paged(rows, number)
    roles = {kind: sorted(r.value for r in allowed) for kind, allowed in ORGANISATION_ROLES.items()}
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "role": role,
        "state": state,
        "organisations": choices,
        "role_labels": ROLE_LABELS,
        "roles_by_kind": roles,
        "error": error,
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "users.html", context, status_code)


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
    return _show(request, p, v, "password_once.html", context)


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
    made = _change(
        request,
        p,
        v,
        csrf_token,
        "user.create",
        MANAGE_PEOPLE,
        lambda s: users.create(s, v.caller, organisation, username, full_name, email, role),
    )
    if isinstance(made, DomainError):
        return _users_page(request, p, v, error=_message(request, made), status_code=400)
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
        _require(session, v, "user.view", MANAGE_PEOPLE)
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
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "user.html", context, status_code)


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
    done = _change(request, p, v, csrf_token, action, MANAGE_PEOPLE, work)
    if isinstance(done, NotFound):
        raise Refused()
    if isinstance(done, DomainError):
        return _user_page(request, p, v, username, _message(request, done), 400)
    return _done(f"{ADMIN}/users/{username}")


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
    done = _change(
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
        return _user_page(request, p, v, name, _message(request, done), 400)
    return _once(request, p, v, name, done, "totp" if totp else "reset")


# --- roles


@router.get("/roles", response_class=HTMLResponse)
def roles(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        _require(session, v, "role.list", MANAGE_PEOPLE)
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
    return _show(request, p, v, "roles.html", context)


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
        _require(session, v, "client.list", MANAGE_PEOPLE)
        found = clients.listing(session, v.caller, organisation or None)
        rows = [
            (c.client_id, code, c.label, c.key_type, c.active, c.created_at, c.last_used_at)
            for c, code in found
        ]
        choices = [(o.code, o.name) for o in _managed_organisations(session, v)]
    shown, next_page = _paged(rows, number)
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "organisations": choices,
        "error": error,
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "clients.html", context, status_code)


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
        text = (_upload(key_file).decode("utf-8", "replace") or key).strip()
        pem = clients.public_key_from_jwk(text) if text.startswith("{") else text.encode()
        return clients.register(session, v.caller, organisation, public_key_pem=pem, label=label).client_id

    done = _change(request, p, v, csrf_token, "client.register", MANAGE_PEOPLE, register)
    if isinstance(done, DomainError):
        return _clients_page(request, p, v, error=_message(request, done), status_code=400)
    return RedirectResponse(f"{ADMIN}/clients?saved=1", status_code=303)


@router.post("/clients/{client_id}/disable", response_class=HTMLResponse)
def client_disable(
    request: Request, p: PlatformDep, v: VisitDep, client_id: str, csrf_token: Csrf = ""
) -> Response:
    done = _change(
        request,
        p,
        v,
        csrf_token,
        "client.disable",
        MANAGE_PEOPLE,
        lambda s: clients.disable(s, v.caller, client_id[:64]),
    )
    if isinstance(done, DomainError):
        return _clients_page(request, p, v, error=_message(request, done), status_code=400)
    return _done(f"{ADMIN}/clients")


# --- certificates

CERTIFICATES = (Permission.CERTIFICATES_MANAGE,)


def _certificates_page(
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
        _require(session, v, "certificate.list", CERTIFICATES)
        rows = [
            (
                c.serial,
                code,
                c.usage,
                c.subject,
                c.not_before,
                c.not_after,
                c.revoked_at,
                c.revocation_reason,
                c.external,
            )
            for c, code in certificates.listing(session)
            if not organisation or code == organisation
        ]
        choices = [(o.code, o.name) for o in _managed_organisations(session, v)]
    shown, next_page = _paged(rows, number)
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "organisations": choices,
        "reasons": REVOCATION_LABELS,
        "error": error,
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "certificates.html", context, status_code)


@router.get("/certificates", response_class=HTMLResponse)
def certificates_list(
    request: Request, p: PlatformDep, v: VisitDep, organisation: Text = "", page: PageNumber = 1
) -> Response:
    return _certificates_page(request, p, v, organisation=organisation, number=page)


@router.post("/certificates", response_class=HTMLResponse)
def certificate_issue(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Csrf = "",
    organisation: Code = "",
    usage: Annotated[str, Form(max_length=20)] = "",
    csr: Annotated[UploadFile | None, File()] = None,
) -> Response:
    def issue(session: Session) -> str:
        data = _upload(csr)
        if not data:
            raise Invalid("請上傳憑證請求檔（CSR）", "upload the certificate request (CSR)")
        if usage not in {u.value for u in Usage}:
            raise Invalid("請選擇憑證用途", "choose the certificate's use")
        if not (p.pki_folder / "root.pem").exists():
            raise Invalid(
                "平台尚未建立憑證機構（aedx pki init）", "the platform has no CA yet (aedx pki init)"
            )
        return certificates.issue(
            session, p.authority, organisation, Usage(usage), v.caller.actor, data
        ).certificate.serial

    done = _change(request, p, v, csrf_token, "certificate.issue", CERTIFICATES, issue)
    if isinstance(done, DomainError):
        return _certificates_page(request, p, v, error=_message(request, done), status_code=400)
    return _done(f"{ADMIN}/certificates")


@router.post("/certificates/{serial}/revoke", response_class=HTMLResponse)
def certificate_revoke(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    serial: str,
    csrf_token: Csrf = "",
    reason: Annotated[str, Form(max_length=30)] = "unspecified",
) -> Response:
    done = _change(
        request,
        p,
        v,
        csrf_token,
        "certificate.revoke",
        CERTIFICATES,
        lambda s: certificates.revoke(s, serial[:64], reason, v.caller.actor).serial,
    )
    if isinstance(done, DomainError):
        return _certificates_page(request, p, v, error=_message(request, done), status_code=400)
    return _done(f"{ADMIN}/certificates")


@router.get("/certificates/crl.pem")
def certificate_crl(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        _require(session, v, "certificate.crl", CERTIFICATES)
        crl = certificates.crl(session, p.authority)
    return Response(
        crl,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="aedx.crl.pem"'},
    )


@router.get("/certificates/{serial}/certificate.pem")
def certificate_download(request: Request, p: PlatformDep, v: VisitDep, serial: str) -> Response:
    with p.db.transaction() as session:
        _require(session, v, "certificate.download", CERTIFICATES)
        found = [c for c, _ in certificates.listing(session) if c.serial == serial.lower()[:64]]
    if not found:
        raise Refused()
    name = f"{found[0].serial}.pem"
    return Response(
        found[0].pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- grants

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
    kinds = [(name, _kind_label(request, name)) for name in KINDS]
    with p.db.transaction() as session:
        _require(session, v, "grant.list", GRANTS)
        choices = [(o.code, o.name, o.role) for o in _managed_organisations(session, v)]
        held: frozenset[tuple[str, Direction]] = frozenset()
        chosen = next((c for c in choices if c[0] == organisation), None)
        if chosen is not None:
            held = grants.of(session, orgs.get(session, chosen[0]).id)
        overview = [
            (c, k, d.value)
            for c, k, d in grants.listing(session)
            if (not kind or k == kind) and (not direction or d.value == direction)
        ]
    shown, next_page = _paged(overview, number)
    matrix = [
        (name, label, [(d.value, DIRECTION_LABELS[d], (name, d) in held) for d in Direction])
        for name, label in kinds
    ]
    reference = {role: grants.scope_of(pairs) for role, pairs in sorted(grants.defaults().items())}
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
        "saved": request.query_params.get("saved") == "1",
    }
    return _show(request, p, v, "grants.html", context, status_code)


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
    done = _change(
        request, p, v, csrf_token, "grant.defaults", GRANTS, lambda s: grants.apply_defaults(s, v.caller)
    )
    if isinstance(done, DomainError):
        return _grants_page(request, p, v, error=_message(request, done), status_code=400)
    return _done(f"{ADMIN}/grants")


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

    done = _change(request, p, v, csrf_token, "grant.set", GRANTS, apply)
    if isinstance(done, DomainError):
        return _grants_page(request, p, v, organisation=code, error=_message(request, done), status_code=400)
    return RedirectResponse(f"{ADMIN}/grants?organisation={code}&saved=1", status_code=303)


# --- the audit log


def _time(value: str, end: bool = False) -> dt.datetime | None:
    """A day (YYYY-MM-DD) as the start of that day in Taiwan, or the start of the next with ``end``."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid("日期格式須為 YYYY-MM-DD", "a date is written YYYY-MM-DD") from None
    start = dt.datetime.combine(
        day + dt.timedelta(days=1 if end else 0), dt.time(), dt.timezone(dt.timedelta(hours=8))
    )
    return start.astimezone(dt.UTC)


def _filter(
    since: str,
    until: str,
    organisation: str,
    actor: str,
    action: str,
    outcome: str,
    kind: str,
    object_id: str,
    before: int | None = None,
    limit: int = PAGE_SIZE + 1,
) -> audit.Filter:
    return audit.Filter(
        since=_time(since),
        until=_time(until, end=True),
        kind=kind or None,
        organisation=organisation or None,
        action=action or None,
        actor=actor or None,
        outcome=outcome or None,
        object_id=object_id or None,
        before_id=before,
        newest_first=True,
        limit=limit,
    )


FILTERS = ("since", "until", "organisation", "actor", "action", "outcome", "kind", "object_id")


@router.get("/audit", response_class=HTMLResponse)
def audit_search(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    since: Text = "",
    until: Text = "",
    organisation: Text = "",
    actor: Text = "",
    action: Text = "",
    outcome: Text = "",
    kind: Text = "",
    object_id: Text = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    given = {
        "since": since,
        "until": until,
        "organisation": organisation,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "kind": kind,
        "object_id": object_id,
    }
    error, rows = None, []
    with p.db.transaction() as session:
        _require(session, v, "audit.read", (Permission.AUDIT_READ,))
        try:
            rows = audit.query(
                session,
                v.caller,
                _filter(since, until, organisation, actor, action, outcome, kind, object_id, before),
            )
        except DomainError as e:
            error = _message(request, e)
        sealing = ledger.status(session) if v.caller.is_hq else None
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["at"] = dt.datetime.fromisoformat(row["at"])
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True) if row["detail"] else ""
    query = urlencode({k: x for k, x in given.items() if x})
    context = {
        "rows": rows,
        "given": given,
        "query": query,
        "outcomes": OUTCOMES,
        "kinds": list(KINDS),
        "next_before": rows[-1]["id"] if more and rows else None,
        "paged": before is not None,
        "show_organisation": v.caller.is_hq,
        "sealing": sealing,
        "error": error,
    }
    return _show(request, p, v, "audit.html", context, 400 if error else 200)


@router.get("/audit/export")
def audit_export(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    since: Text = "",
    until: Text = "",
    organisation: Text = "",
    actor: Text = "",
    action: Text = "",
    outcome: Text = "",
    kind: Text = "",
    object_id: Text = "",
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
) -> Response:
    try:
        f = _filter(since, until, organisation, actor, action, outcome, kind, object_id)
    except DomainError as e:
        raise Refused() from e
    with p.db.transaction() as session:
        _require(session, v, "audit.export", (Permission.AUDIT_READ,))
        audit.by_caller(
            session,
            v.caller,
            "audit.export",
            detail={"format": format, **{k: str(x) for k, x in f.__dict__.items() if x and k in FILTERS}},
        )

    def lines() -> Iterator[str]:
        with p.db.transaction() as session:
            events = audit.export(session, v.caller, f)
            yield from audit.csv_lines(events) if format == "csv" else audit.json_lines(events)

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    headers = {"Content-Disposition": f'attachment; filename="audit.{format}"', "Cache-Control": "no-store"}
    return StreamingResponse(lines(), media_type=media, headers=headers)


navigation(f"{ADMIN}/", N_("Management"), permission=Permission.ACCOUNTS_MANAGE_OWN, order=80)
navigation(f"{ADMIN}/audit", N_("Audit log"), permission=Permission.AUDIT_READ, order=85)

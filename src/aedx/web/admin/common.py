"""What every management page shares: the router, the labels, the permission check that audits a
refusal, rendering with the section menu, one change as a POST makes it, the confirmation an
irreversible change asks for first, paging and uploads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts.roles import Permission, Role
from aedx.errors import Denied, DomainError, Invalid
from aedx.storage.tables import Organisation
from aedx.trust.caller import Direction
from aedx.web.i18n import N_
from aedx.web.portal import PAGE_SIZE, PlatformDep, Refused, Visit, require, require_csrf, streamed_page
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

# what a change just did, named by the redirect after it (``?done=``) and said on the object's page
DONE: dict[str, str] = {
    "issued": N_("The certificate was issued. Hand it to the organisation: download it or copy it below."),
    "revoked": N_("The certificate is revoked and listed in the certificate revocation list (CRL)."),
    "registered": N_(
        "The API client was registered. Hand its client id to the administrator of the organisation's server."
    ),
    "client_disabled": N_("The API client is disabled: it gets no new tokens and its tokens no longer work."),
    "organisation_disabled": N_("The organisation is disabled."),
    "organisation_created": N_(
        "The organisation was added with the grants its kind normally needs, listed below; "
        "change them on the grants page."
    ),
}
CONFIRMED = "yes"  # the value only a confirmation page sends in its ``confirm`` field

Code = Annotated[str, Form(max_length=20)]
Csrf = Annotated[str, Form(max_length=200)]
Confirm = Annotated[str, Form(max_length=10)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Text = Annotated[str, Query(max_length=100)]


# --- the shared steps of every page


def show(
    request: Request, p: PlatformDep, v: Visit, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A management page with the section menu; ``saved`` tells it a change was just made (the
    redirect after a change carries ``?saved=1``), ``done`` what an irreversible one did."""
    saved = request.query_params.get("saved") == "1"
    done = DONE.get(request.query_params.get("done", ""))
    context = {"sections": _sections(v), "saved": saved, "done": done, **context}
    response = render_page(request, p, v, f"admin/{template}", context)
    response.status_code = status_code
    return response


def streamed(request: Request, p: PlatformDep, v: Visit, template: str, context: dict[str, Any]) -> Response:
    """A management page sent as it is written (see ``portal.streamed_page``)."""
    return streamed_page(request, p, v, f"admin/{template}", {"sections": _sections(v), **context})


def _sections(v: Visit) -> list[tuple[str, str]]:
    return [(path, label) for path, label, needs in SECTIONS if any(v.caller.may(n) for n in needs)]


def change(
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
            require(session, v.caller, action, *permissions)
            return work(session)
    except Denied:
        raise Refused() from None
    except DomainError as e:
        return e


def saved_redirect(path: str) -> Response:
    return RedirectResponse(f"{path}?saved=1", status_code=303)


def done_redirect(path: str, what: str) -> Response:
    """To the changed object's own page, which says what was done (a key of ``DONE``)."""
    return RedirectResponse(f"{path}?done={what}", status_code=303)


def confirmed(
    request: Request,
    p: PlatformDep,
    v: Visit,
    csrf_token: str,
    confirm: str,
    action: str,
    permissions: Sequence[Permission],
    confirmation: str,
) -> Response | None:
    """None when an irreversible change comes from its confirmation page (which alone sends
    ``confirm=yes``); otherwise, once the token and the permission are checked as for any change,
    the way to that confirmation page, nothing changed."""
    if confirm == CONFIRMED:
        return None
    require_csrf(request, p, csrf_token)
    with p.db.transaction() as session:
        require(session, v.caller, action, *permissions)
    return RedirectResponse(confirmation, status_code=303)


def paged(rows: Sequence[T], number: int) -> tuple[Sequence[T], int | None]:
    """A page of a list made whole in memory (people, clients, certificates: thousands at most),
    and the next page's number when there is one."""
    start = (number - 1) * PAGE_SIZE
    return rows[start : start + PAGE_SIZE], number + 1 if len(rows) > start + PAGE_SIZE else None


def upload(file: UploadFile | None) -> bytes:
    if file is None or not file.filename:
        return b""
    data = file.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise Invalid("檔案過大（至多 64 KiB）", "the file is too large (64 KiB at most)")
    return data


def managed_organisations(session: Session, v: Visit) -> list[Organisation]:
    """The organisations whose people the person manages: every active one for HQ, else their own."""
    stmt = select(Organisation).where(Organisation.active).order_by(Organisation.code)
    if not v.caller.may(Permission.ACCOUNTS_MANAGE):
        stmt = stmt.where(Organisation.id == v.caller.organisation_id)
    return list(session.scalars(stmt))

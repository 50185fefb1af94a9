"""The portal's foundation: sessions over HTTP (sign-in with password and TOTP, enrolment, the
forced password change, sign-out), CSRF on every form, the language switch, page rendering, and
and what every area's pages share (the organisation-name filter among them); the first page,
the list of uploads, is ``upload_list``.

Only the ``aedx_session`` cookie tells who is asking; the core's ``sessions.resume`` decides on
every request. Sign-in answers with one message whatever went wrong; the core audits the reason.
A locked account is the exception: the page says until when, and whom to call
(``Settings.help_desk``). A session that ended while idle (or after 12 hours) sends the person to
sign-in with a sentence saying so; every page warns a few minutes before the idle limit and offers
to stay signed in (``static/session.js``, ``POST /portal/session/renew``). Sign-in returns the
person to the portal page they were going to (``next``, a local path only, kept across the code
step).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aedx.accounts import passwords, sessions
from aedx.accounts.roles import Permission
from aedx.errors import DomainError
from aedx.exchange.platform import Platform
from aedx.exchange.states import State
from aedx.kinds import KINDS
from aedx.storage.tables import Organisation, User, UserSession, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.web import dates, i18n, names, security
from aedx.web.i18n import N_
from aedx.web.qr import qr_svg

PREFIX = "/portal"
SESSION_COOKIE = "aedx_session"
PAGE_SIZE = 25
SIGN_IN = f"{PREFIX}/sign-in"
HOME = f"{PREFIX}/"
PASSWORD = f"{PREFIX}/password"
RENEW = f"{PREFIX}/session/renew"
IDLE_WARNING = dt.timedelta(minutes=2)  # how long before the idle limit a page warns (at most)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATE_LABELS: dict[str, str] = {
    State.RECEIVED: N_("Received"),
    State.VALIDATING: N_("Validating"),
    State.ACCEPTED: N_("Accepted"),
    State.REJECTED: N_("Rejected"),
    State.ROUTED: N_("Routed"),
    State.DELIVERED: N_("Delivered"),
    State.ACKNOWLEDGED: N_("Acknowledged"),
    State.FAILED: N_("Processing failed"),
}
ERRORS: dict[int, tuple[str, str]] = {  # a status: the error page's heading and its explanation
    404: (N_("Page not found"),
          N_("There is no page at this address. It may have moved, or the link may be mistyped.")),
    400: (N_("The request could not be read"),
          N_("The address or the form holds something the portal cannot use. "
             "Go back, reload the page and try again.")),
    500: (N_("Something went wrong"),
          N_("The platform could not finish this request and has recorded the error. Try again later.")),
}  # fmt: skip
SIGN_IN_FAILED = N_(
    "Sign-in failed: the username, password or code is wrong, or the account cannot be used now."
)

ENDED_IDLE = N_(
    "You were idle for more than %(minutes)s minutes, so you were signed out to protect the data. "
    "Please sign in again."
)
ENDED_EXPIRED = N_(
    "You had been signed in for %(hours)s hours, the longest a session lasts, so you were signed out "
    "to protect the data. Please sign in again."
)

ENROL_CODE_WRONG = N_(
    "That code was not accepted. Check that the phone's clock is right and enter the code now shown; "
    "the key stays the same, do not add it again."
)

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(i18n.HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    auto_reload=False,
)
templates.filters["roc"] = dates.roc
templates.filters["roc_input"] = dates.roc_input_text
templates.filters["organisation"] = names.organisation  # {{ code | organisation }}


@dataclass(frozen=True)
class Link:
    """An entry of the main navigation, shown to whoever holds its permission."""

    path: str
    label: str  # marked with N_, translated where shown
    permission: Permission | None
    order: int


NAVIGATION: list[Link] = []


def navigation(path: str, label: str, *, permission: Permission | None = None, order: int = 50) -> None:
    """Adds an area's page to the main navigation (each area declares its own links)."""
    NAVIGATION.append(Link(path, label, permission, order))
    NAVIGATION.sort(key=lambda link: (link.order, link.path))


def _links(caller: Caller) -> list[Link]:
    return [link for link in NAVIGATION if link.permission is None or caller.may(link.permission)]


class Redirect(Exception):
    """Ends a request with a redirect (303), the session cookie removed when ``forget``."""

    def __init__(self, to: str, *, forget: bool = False) -> None:
        super().__init__(to)
        self.to = to
        self.forget = forget


class Refused(Exception):
    """Ends a request with the 403 page (a CSRF token missing or wrong, a permission lacking)."""


@dataclass(frozen=True)
class Person:
    full_name: str
    username: str
    organisation: str
    organisation_code: str


@dataclass(frozen=True)
class Visit:
    """A signed-in request: who asks (as the core decided), their session token and when the
    session ends unless it is used again."""

    caller: Caller
    person: Person
    token: str
    ends: dt.datetime | None = None


def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


PlatformDep = Annotated[Platform, Depends(platform)]


def _key(p: Platform) -> bytes:
    if len(p.settings.secret_key) < 32:
        raise RuntimeError("the portal needs a 32-byte secret key (AEDX_SECRET_KEY)")
    return p.settings.secret_key


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def locale_of(request: Request) -> str:
    return i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    csrf_token: str,
    person: Person | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = templates.get_template(template).render(_context(request, context, csrf_token, person))
    return HTMLResponse(page, status_code=status_code, headers=HEADERS)


def _here(request: Request) -> str:
    """The page as the language switch comes back to it: with its query, when it was a GET."""
    query = request.url.query if request.method in ("GET", "HEAD") else ""
    return request.url.path + (f"?{query}" if query else "")


def _context(
    request: Request, context: Mapping[str, Any], csrf_token: str, person: Person | None
) -> dict[str, Any]:
    locale = locale_of(request)
    t = i18n.translations(locale)
    return {
        "gettext": t.gettext,
        "ngettext": t.ngettext,
        "_": t.gettext,
        "locale": locale,
        "html_lang": i18n.LANGUAGES[locale],
        "path": request.url.path,
        "here": _here(request),
        "csrf_field": security.CSRF_FIELD,
        "csrf_token": csrf_token,
        "person": person,
        **context,
    }


def message(request: Request, error: DomainError) -> str:
    """The core's message of an error, in the reader's language."""
    return error.message_en if locale_of(request) == "en" else error.message_zh


def kind_label(request: Request, name: str) -> str:
    """An exchange kind's name as its declaration gives it, in the reader's language."""
    kind = KINDS.get(name)
    if kind is None:
        return name
    return kind.label_en if locale_of(request) == "en" else kind.label_zh


def require(session: Session, caller: Caller, action: str, *permissions: Permission) -> None:
    """The 403 page, the refusal audited, for a person who holds none of the permissions."""
    if any(caller.may(permission) for permission in permissions):
        return
    audit.by_caller(session, caller, action, outcome="denied", detail={"reason": "permission"})
    audit.refuse(session, Refused())


def _cookie(request: Request, response: Response, name: str, value: str, path: str = PREFIX,
            max_age: int | None = None) -> None:  # fmt: skip
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _refuse_csrf(p: Platform, request: Request, actor: str) -> None:
    with p.db.transaction() as session:
        audit.record(session, actor=actor, action="portal.csrf", outcome="denied",
                     detail={"path": request.url.path[:200], "address": _address(request)})  # fmt: skip
    raise Refused()


# --- where a sign-in returns to


def local_path(candidate: str | None, *, sign_in: bool = False) -> str | None:
    """``candidate`` when it is a portal page of this site, the only place a sign-in returns to;
    None for anything else (an absolute URL, ``//host``, a backslash, a space or control character,
    a path outside the portal or, unless ``sign_in``, the sign-in itself): never an open redirect."""
    if not candidate or len(candidate) > 500:
        return None
    if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return None
    if any(c.isspace() or not c.isprintable() for c in candidate):
        return None
    path = candidate.split("?", 1)[0].split("#", 1)[0]
    if not under_portal(path) or (path.startswith(SIGN_IN) and not sign_in):
        return None
    return candidate


def to_sign_in(request: Request, ended: str | None = None) -> str:
    """The sign-in page for a request without an open session: why the session ended (``idle``,
    ``expired``) and, for a page that was being opened, where to return after signing in."""
    params = {"ended": ended} if ended else {}
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        back = local_path(request.url.path + (f"?{query}" if query else ""))
        if back is not None and back != HOME:
            params["next"] = back
    return f"{SIGN_IN}?{urlencode(params)}" if params else SIGN_IN


def _minutes(span: dt.timedelta) -> str:
    return f"{round(span.total_seconds() / 60, 1):g}"


def idle_warning(p: Platform, ends: dt.datetime | None) -> dict[str, Any] | None:
    """What a page's idle warning needs: seconds left, how many before the end to warn, the
    idle limit in minutes (None without a session)."""
    if ends is None:
        return None
    left = max(0, math.ceil((ends - utcnow()).total_seconds()))
    warn = min(IDLE_WARNING, p.settings.idle_timeout / 2).total_seconds()
    return {"left": left, "warn": max(1, int(warn)), "minutes": _minutes(p.settings.idle_timeout),
            "renew": RENEW}  # fmt: skip


# --- who is asking


def _person(session: Session, token: str) -> Person:
    row = session.execute(
        select(User, Organisation)
        .join(UserSession, UserSession.user_id == User.id)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(UserSession.digest == sessions.digest(token))
    ).one()
    user, org = row
    return Person(user.full_name, user.username, org.name, org.code)


def visit(request: Request, p: PlatformDep) -> Visit:
    """The signed-in person of a portal page; to sign-in when there is no open session, to the
    password page while the initial password is unchanged."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Redirect(to_sign_in(request))
    idle = p.settings.idle_timeout
    with p.db.transaction() as session:
        try:
            caller = sessions.resume(session, token, idle=idle)
        except sessions.SessionEnded as e:
            raise Redirect(to_sign_in(request, e.reason), forget=True) from None
        except sessions.PasswordChangeRequired:
            raise Redirect(PASSWORD) from None
        ends = sessions.idle_deadline(session, token, idle=idle)
        return Visit(caller, _person(session, token), token, ends)


VisitDep = Annotated[Visit, Depends(visit)]


def page(
    request: Request, p: Platform, v: Visit, template: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A signed-in page, its forms carrying the session's CSRF token, its navigation the links the
    person's permissions reach."""
    csrf = security.session_token(_key(p), v.token)
    return render(request, template, _page_context(p, v, context), csrf_token=csrf, person=v.person,
                  status_code=status_code)  # fmt: skip


def streamed_page(
    request: Request, p: Platform, v: Visit, template: str, context: Mapping[str, Any]
) -> StreamingResponse:
    """A signed-in page sent as it is written, for work that reports its progress as it goes (the
    template iterates over it)."""
    full = _context(request, _page_context(p, v, context), security.session_token(_key(p), v.token), v.person)
    return StreamingResponse(
        templates.get_template(template).generate(full),
        media_type="text/html; charset=utf-8",
        headers=HEADERS | {"X-Accel-Buffering": "no"},  # a proxy passes each part on as it comes
    )


def _page_context(p: Platform, v: Visit, context: Mapping[str, Any]) -> dict[str, Any]:
    def load() -> dict[str, str]:
        with p.db.transaction() as session:
            return names.read(session)

    return {"navigation": _links(v.caller), names.CONTEXT_KEY: names.Names(load),
            "idle": idle_warning(p, v.ends), **context}  # fmt: skip


def require_csrf(request: Request, p: Platform, given: str) -> str:
    """The session token of a signed-in form whose CSRF token is right; refused (403) otherwise."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Redirect(SIGN_IN)
    if not security.matches(security.session_token(_key(p), token), given):
        _refuse_csrf(p, request, f"session:{sessions.digest(token)[:12]}")
    return token


# --- signing in


def _pre_session(request: Request) -> tuple[str, bool]:
    cookie = request.cookies.get(security.PRE_SESSION_COOKIE)
    return (cookie, False) if cookie else (security.new_pre_session_cookie(), True)


def _sign_in_page(
    request: Request, p: Platform, *, step: str = "password", error: str | None = None,
    enrolment: sessions.Enrolment | None = None, pending: security.Pending | None = None,
    status_code: int = 200, next_path: str | None = None, notice: str | None = None,
    locked_until: dt.datetime | None = None,
) -> HTMLResponse:  # fmt: skip
    cookie, new = _pre_session(request)
    qr = Markup(qr_svg(enrolment.uri)) if enrolment else None  # noqa: S704 - segno's own SVG
    locked = {"until": locked_until, "help_desk": p.settings.help_desk} if locked_until else None
    response = render(
        request,
        "sign_in.html",
        {
            "step": step,
            "error": error,
            "enrolment": enrolment,
            "qr": qr,
            "next": local_path(next_path),
            "notice": notice,
            "locked": locked,
        },
        csrf_token=security.pre_session_token(_key(p), cookie),
        status_code=status_code,
    )
    if new:
        _cookie(request, response, security.PRE_SESSION_COOKIE, cookie)
    if pending is not None:
        sealed = security.seal(_key(p), pending)
        _cookie(request, response, security.PENDING_COOKIE, sealed, SIGN_IN, security.PENDING_SECONDS)
    elif step == "password":
        response.delete_cookie(security.PENDING_COOKIE, path=SIGN_IN)
    return response


def _failed(
    request: Request, p: Platform, next_path: str | None = None, error: DomainError | None = None
) -> HTMLResponse:
    """The one failure message; for an account that is locked, until when and whom to call."""
    t = i18n.translations(locale_of(request))
    until = error.until if isinstance(error, sessions.AccountLocked) else None
    return _sign_in_page(request, p, error=t.gettext(SIGN_IN_FAILED), status_code=401,
                         next_path=next_path, locked_until=until)  # fmt: skip


def _require_pre_session_csrf(request: Request, p: Platform, given: str) -> None:
    cookie = request.cookies.get(security.PRE_SESSION_COOKIE)
    if not cookie or not security.matches(security.pre_session_token(_key(p), cookie), given):
        _refuse_csrf(p, request, f"anonymous:{_address(request) or '-'}")


def _asks_for_code(session: Session, username: str, password: str) -> bool:
    """Whether the person has a confirmed authenticator and gave the right password: only then is
    the code asked for, so the question tells nothing to someone without the password."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()[:50]))
    if user is None or user.totp_confirmed_at is None:
        passwords.spend_time(password)  # the same work, whichever the case
        return False
    return passwords.verify(user.password_hash, password)


def _signed_in(request: Request, signed: sessions.SignedIn, next_path: str | None = None) -> Response:
    to = PASSWORD if signed.must_change_password else local_path(next_path) or HOME
    response = RedirectResponse(to, status_code=303)
    _cookie(request, response, SESSION_COOKIE, signed.token)
    response.delete_cookie(security.PENDING_COOKIE, path=SIGN_IN)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request,
    p: PlatformDep,
    next: Annotated[str, Query(max_length=500)] = "",
    ended: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    t = i18n.translations(locale_of(request))
    notice = None
    if ended == "idle":
        notice = t.gettext(ENDED_IDLE) % {"minutes": _minutes(p.settings.idle_timeout)}
    elif ended == "expired":
        notice = t.gettext(ENDED_EXPIRED) % {"hours": _minutes(sessions.ABSOLUTE_TIMEOUT / 60)}
    return _sign_in_page(request, p, next_path=next, notice=notice)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    p: PlatformDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _require_pre_session_csrf(request, p, csrf_token)
    key, address = _key(p), _address(request)
    with p.db.transaction() as session:
        asks = _asks_for_code(session, username, password)
    if asks:
        pending = security.Pending(username, password, False)
        return _sign_in_page(request, p, step="code", pending=pending, next_path=next)
    try:
        with p.db.transaction() as session:
            signed = sessions.authenticate(session, username, password, None, address, secret_key=key)
    except sessions.EnrolmentRequired:
        try:
            with p.db.transaction() as session:
                enrolment = sessions.begin_enrolment(session, username, password, address, secret_key=key)
        except DomainError as e:
            return _failed(request, p, next, e)
        pending = security.Pending(username, password, True)
        return _sign_in_page(request, p, step="enrol", enrolment=enrolment, pending=pending, next_path=next)
    except sessions.SignInFailed as e:
        return _failed(request, p, next, e)
    return _signed_in(request, signed, next)


@router.post("/sign-in/code", response_class=HTMLResponse)
def sign_in_code(
    request: Request,
    p: PlatformDep,
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _require_pre_session_csrf(request, p, csrf_token)
    key = _key(p)
    pending = security.unseal(key, request.cookies.get(security.PENDING_COOKIE))
    if pending is None:
        return _failed(request, p, next)
    try:
        with p.db.transaction() as session:
            signed = sessions.authenticate(
                session, pending.username, pending.password, code, _address(request), secret_key=key
            )
    except (sessions.SignInFailed, sessions.EnrolmentRequired) as e:
        if pending.enrolling and not isinstance(e, sessions.AccountLocked):
            return _enrol_again(request, p, pending, next)
        return _failed(request, p, next, e)
    return _signed_in(request, signed, next)


def _enrol_again(request: Request, p: Platform, pending: security.Pending, next_path: str) -> HTMLResponse:
    """A mistyped first code: the same key again (kept until confirmed), and a word on why."""
    try:
        with p.db.transaction() as session:
            enrolment = sessions.begin_enrolment(
                session, pending.username, pending.password, _address(request), secret_key=_key(p)
            )
    except DomainError as e:
        return _failed(request, p, next_path, e)  # locked out by now, or reset meanwhile
    t = i18n.translations(locale_of(request))
    return _sign_in_page(request, p, step="enrol", enrolment=enrolment, pending=pending, next_path=next_path,
                         error=t.gettext(ENROL_CODE_WRONG), status_code=400)  # fmt: skip


@router.post("/sign-out")
def sign_out(
    request: Request, p: PlatformDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    token = require_csrf(request, p, csrf_token)
    try:
        with p.db.transaction() as session:
            sessions.sign_out(session, token, idle=p.settings.idle_timeout)
    except sessions.SessionEnded:
        pass
    raise Redirect(SIGN_IN, forget=True)


@router.post(RENEW.removeprefix(PREFIX))
def renew_session(
    request: Request, p: PlatformDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Keeps the session open when the person asks to stay signed in (the idle warning's button):
    the seconds now left, or 401 when the session has ended already."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return JSONResponse({"left": 0}, status_code=401, headers=HEADERS)
    require_csrf(request, p, csrf_token)
    now = utcnow()
    try:
        with p.db.transaction() as session:
            ends = sessions.renew(session, token, now=now, idle=p.settings.idle_timeout)
    except sessions.SessionEnded:
        return JSONResponse({"left": 0}, status_code=401, headers=HEADERS)
    return JSONResponse({"left": math.ceil((ends - now).total_seconds())}, headers=HEADERS)


# --- the password an administrator set


def _password_visit(request: Request, p: Platform) -> tuple[str, Person, list[Link] | None]:
    """The session token, the person and their navigation (None while the change is forced); to
    sign-in otherwise."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Redirect(to_sign_in(request))
    links = None
    try:
        with p.db.transaction() as session:
            caller = sessions.resume(session, token, idle=p.settings.idle_timeout)
        links = _links(caller)
    except sessions.PasswordChangeRequired:
        pass  # the session is open otherwise; the refusal was committed
    except sessions.SessionEnded as e:
        raise Redirect(to_sign_in(request, e.reason), forget=True) from None
    with p.db.transaction() as session:
        return token, _person(session, token), links


def _password_page(request: Request, p: Platform, token: str, person: Person, links: list[Link] | None,
                   error: str | None = None, status_code: int = 200) -> HTMLResponse:  # fmt: skip
    with p.db.transaction() as session:
        ends = sessions.idle_deadline(session, token, idle=p.settings.idle_timeout)
    return render(
        request, "password.html", {"forced": links is None, "error": error, "navigation": links or [],
                                   "idle": idle_warning(p, ends)},
        csrf_token=security.session_token(_key(p), token), person=person, status_code=status_code,
    )  # fmt: skip


@router.get("/password", response_class=HTMLResponse)
def password_form(request: Request, p: PlatformDep) -> Response:
    token, person, links = _password_visit(request, p)
    return _password_page(request, p, token, person, links)


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    p: PlatformDep,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    confirm: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    token, person, links = _password_visit(request, p)
    t = i18n.translations(locale_of(request))
    if new != confirm:
        error = t.gettext("The two new passwords differ.")
        return _password_page(request, p, token, person, links, error, status_code=400)
    try:
        with p.db.transaction() as session:
            sessions.change_password(session, token, current, new, idle=p.settings.idle_timeout)
    except sessions.SessionEnded as e:
        raise Redirect(to_sign_in(request, e.reason), forget=True) from None
    except DomainError as e:
        return _password_page(request, p, token, person, links, message(request, e), status_code=400)
    return RedirectResponse(HOME, status_code=303)


# --- language


@router.get("/language/{locale}")
def language(request: Request, locale: str, next: Annotated[str, Query(max_length=500)] = HOME) -> Response:
    """Back to the page the person was on, with its query (a portal page of this site only)."""
    chosen = locale.replace("-", "_")
    response = RedirectResponse(local_path(next, sign_in=True) or HOME, status_code=303)
    if chosen in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, path=PREFIX, samesite="lax",
                            secure=request.url.scheme == "https", httponly=True)  # fmt: skip
    return response


# --- errors


def under_portal(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_page(request: Request, status_code: int) -> HTMLResponse:
    """The portal's page for a request that ends in an error (an address that leads nowhere, a
    request it cannot read, a failure), in the reader's language; the API answers its own in JSON."""
    if status_code in (401, 403):
        template, context, status_code = "refused.html", {}, 403
    else:
        heading, explanation = ERRORS.get(status_code, ERRORS[500 if status_code >= 500 else 400])
        template, context = "error.html", {"heading": heading, "explanation": explanation}
    found = _visitor(request)
    if found is not None:  # a signed-in person keeps the menu, to go on from where they are
        return page(request, found[0], found[1], template, context, status_code)
    return render(request, template, context, csrf_token="", status_code=status_code)


def _visitor(request: Request) -> tuple[Platform, Visit] | None:
    """The signed-in person behind an error page, if any (not a reason for another error)."""
    token = request.cookies.get(SESSION_COOKIE)
    p: Platform | None = getattr(request.app.state, "platform", None)
    if not token or p is None:
        return None
    idle = p.settings.idle_timeout
    try:
        with p.db.transaction() as session:
            caller = sessions.resume(session, token, idle=idle)
            ends = sessions.idle_deadline(session, token, idle=idle)
            return p, Visit(caller, _person(session, token), token, ends)
    except (sessions.SessionEnded, sessions.PasswordChangeRequired):
        return None
    except SQLAlchemyError:  # the error may be the database's: the page is shown without the menu
        log.exception("the person behind an error page could not be read")
        return None


# --- mounting


navigation(HOME, N_("Submissions"), permission=Permission.SUBMISSIONS_READ, order=10)
navigation(PASSWORD, N_("Change password"), order=90)


def install(app: FastAPI, areas: list[APIRouter]) -> None:
    """The portal on the app: its routes and its areas' routes, its static files and its two ways
    of ending a request."""
    app.include_router(router)
    for area in areas:
        app.include_router(area)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=i18n.HERE / "static"), name="portal-static")

    async def redirect(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Redirect)  # noqa: S101 - registered for Redirect only
        response = RedirectResponse(exc.to, status_code=303)
        if exc.forget:
            response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def refused(request: Request, exc: Exception) -> Response:
        return error_page(request, 403)

    app.add_exception_handler(Redirect, redirect)
    app.add_exception_handler(Refused, refused)

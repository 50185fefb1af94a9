"""Signing people in and keeping them signed in.

``authenticate`` checks the password (argon2id) and, where needed, a TOTP code, and opens a
session whose token is shown once (only its SHA-256 is kept). Whatever went wrong, the caller
hears the same message; the audit log keeps the reason. Five consecutive failures lock the account
for 15 minutes; the count lives in the database, so it holds across processes. A failure on an
account that is locked is ``AccountLocked``: the same message and code, with the moment the lock
ends for the portal to show (only an existing, locked account can give it).

``resume`` turns a session token into a ``Caller`` on every request: a session idle for longer
than the idle limit (``Settings.idle_timeout``, 15 minutes by default), or older than 12 hours,
ends; ``SessionEnded.reason`` says which. ``renew`` keeps a session open without a page.
Disabling a person, changing their role or resetting their password ends all their sessions at
once; ``sign_out`` ends one.

Second factor: people whose role is in ``MFA_REQUIRED`` cannot get a session without a confirmed
TOTP. At their first sign-in (password only) they are told to enrol (``EnrolmentRequired``);
``begin_enrolment`` with their password gives them a secret and an ``otpauth://`` URI; signing in
with the password and a first valid code confirms the enrolment and opens the session. Anyone
else may enrol the same way; once confirmed, the code is required at every sign-in.

A person whose password was set by an administrator gets a session that serves only
``change_password`` until they choose their own (``resume`` refuses it otherwise).

Every time is injectable (``now``) so tests need no sleeping. A refusal is committed before it is
raised (``users.refuse``): the failure count, the ended session and the audit event hold although
the caller's transaction ends in the error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import grants, passwords, totp, users
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.errors import Conflict, Denied, Unauthenticated
from aedx.settings import IDLE_TIMEOUT
from aedx.storage.tables import Organisation, User, UserSession, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller

LOCKOUT_THRESHOLD = 5  # consecutive failures
LOCKOUT = dt.timedelta(minutes=15)
PENDING_ENROLMENT = dt.timedelta(hours=1)  # how long an unconfirmed authenticator key is offered again
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
LAST_SEEN_EVERY = dt.timedelta(minutes=1)  # last_seen is written at most this often
TOKEN_PREFIX = "aedxs_"  # noqa: S105 - a prefix, not a secret


class SignInFailed(Unauthenticated):
    code = "auth.sign_in_failed"

    def __init__(self) -> None:
        super().__init__(
            "登入失敗：帳號、密碼或驗證碼有誤，或帳號目前無法使用",
            "sign-in failed: the username, password or code is wrong, or the account cannot be used now",
        )


class AccountLocked(SignInFailed):
    """A sign-in refused because the account is locked, until ``until`` (UTC)."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__()
        self.until = until


class SessionEnded(Unauthenticated):
    code = "auth.session_ended"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__("登入已逾時或已登出，請重新登入", "the session has ended; please sign in again")
        self.reason = reason  # "idle", "expired" (12 hours) or None (signed out, unknown, disabled…)


class EnrolmentRequired(Denied):
    code = "auth.mfa_enrolment_required"

    def __init__(self) -> None:
        super().__init__(
            "此帳號須使用雙因子驗證：請先以密碼設定驗證器（TOTP），再以密碼及驗證碼登入",
            "this account needs a second factor: enrol an authenticator (TOTP) with your password, "
            "then sign in with your password and a code",
        )


class PasswordChangeRequired(Denied):
    code = "auth.password_change_required"

    def __init__(self) -> None:
        super().__init__(
            "請先變更管理者設定之初始密碼", "change the password an administrator set before going on"
        )


@dataclass(frozen=True)
class SignedIn:
    token: str  # shown once; only its SHA-256 is kept
    session_id: int
    user_id: int
    must_change_password: bool  # the session serves only change_password until then


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an authenticator
    uri: str  # otpauth://, for a QR code


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _find(session: Session, username: str) -> tuple[User, Organisation] | None:
    row = session.execute(
        select(User, Organisation)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(User.username == username.strip().lower()[:50])
        .with_for_update(of=User)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _fail(
    session: Session,
    reason: str,
    now: dt.datetime,
    address: str | None,
    found: tuple[User, Organisation] | None,
    username: str,
    *,
    count: bool = True,
    action: str = "user.sign_in",
) -> NoReturn:
    detail: dict[str, Any] = {"reason": reason, "address": address}
    if found is None:
        detail["username"] = username[:50]
        audit.record(session, actor=f"anonymous:{address or '-'}", action=action, outcome="denied",
                     object_type="user", detail=detail)  # fmt: skip
        audit.refuse(session, SignInFailed())
    user, _ = found
    already_locked = user.locked_until if reason == "locked" else None
    if count:
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= LOCKOUT_THRESHOLD:
            user.locked_until = now + LOCKOUT
            user.failed_sign_ins = 0
            detail["locked_until"] = user.locked_until.isoformat()
    _audit(session, user, action, "denied", detail)
    if "locked_until" in detail:
        _audit(session, user, "user.lock", "ok", {"until": detail["locked_until"], "address": address})
    locked = user.locked_until if "locked_until" in detail else already_locked
    audit.refuse(session, AccountLocked(locked) if locked is not None else SignInFailed())


def _audit(session: Session, user: User, action: str, outcome: str, detail: dict[str, Any]) -> None:
    audit.record(
        session,
        actor=users.actor_of(user),
        actor_organisation_id=user.organisation_id,
        organisation_id=user.organisation_id,
        action=action,
        outcome=outcome,
        object_type="user",
        object_id=str(user.id),
        detail=detail,
    )


def _password_checked(
    session: Session, username: str, password: str, now: dt.datetime, address: str | None, action: str
) -> tuple[User, Organisation]:
    """The account, once the password matched and the account may sign in; a failure otherwise."""
    found = _find(session, username)
    if found is None:
        passwords.spend_time(password)
        _fail(session, "unknown_user", now, address, None, username, action=action)
    user, org = found
    if user.locked_until is not None and now < user.locked_until:
        passwords.spend_time(password)
        _fail(session, "locked", now, address, found, username, count=False, action=action)
    if not passwords.verify(user.password_hash, password):
        _fail(session, "bad_password", now, address, found, username, action=action)
    if not (user.active and org.active):
        _fail(session, "disabled", now, address, found, username, count=False, action=action)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user, org


def authenticate(
    session: Session,
    username: str,
    password: str,
    totp_code: str | None,
    client_address: str | None,
    *,
    secret_key: bytes,
    now: dt.datetime | None = None,
) -> SignedIn:
    """A new session for the person, or ``SignInFailed`` (one message, whatever was wrong), or
    ``EnrolmentRequired`` for a person who needs a second factor and has none yet."""
    now = now or utcnow()
    found = _password_checked(session, username, password, now, client_address, "user.sign_in")
    user, _ = found
    enrolled = user.totp_confirmed_at is not None
    pending = user.totp_secret is not None and not enrolled
    second_factor = enrolled or bool(pending and totp_code)
    if second_factor:
        secret = totp.decrypt(secret_key, user.totp_secret or "", user.id)
        step = totp.matching_step(secret, totp_code or "", now, after=user.totp_last_step)
        if step is None:
            reason = "code_missing" if not totp_code else "bad_code"
            _fail(session, reason, now, client_address, found, username)
        user.totp_last_step = step
        if pending:
            user.totp_confirmed_at = now
            _audit(session, user, "user.totp_confirm", "ok", {"address": client_address})
    elif users.needs_mfa(user):
        _audit(session, user, "user.sign_in", "denied",
               {"reason": "mfa_enrolment_required", "address": client_address})  # fmt: skip
        audit.refuse(session, EnrolmentRequired())
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = UserSession(
        digest=digest(token),
        user_id=user.id,
        created_at=now,
        last_seen=now,
        client_address=(client_address or None) and client_address[:64],
    )
    session.add(row)
    session.flush()
    _audit(session, user, "user.sign_in", "ok",
           {"address": client_address, "session": row.id, "mfa": second_factor})  # fmt: skip
    return SignedIn(token, row.id, user.id, user.must_change_password)


def begin_enrolment(
    session: Session,
    username: str,
    password: str,
    client_address: str | None,
    *,
    secret_key: bytes,
    now: dt.datetime | None = None,
) -> Enrolment:
    """A new TOTP secret for a person without a confirmed one, after their password; a wrong
    password counts towards the lockout like a failed sign-in. The enrolment is confirmed by
    signing in with the first valid code. A pending secret is offered again until it is confirmed
    or ``PENDING_ENROLMENT`` has passed."""
    now = now or utcnow()
    user, org = _password_checked(session, username, password, now, client_address, "user.totp_enrol")
    if user.totp_confirmed_at is not None:
        _audit(session, user, "user.totp_enrol", "denied", {"reason": "enrolled", "address": client_address})
        audit.refuse(
            session,
            Conflict(
                "已設定驗證器；如需更換請洽管理者重設",
                "an authenticator is enrolled already; an administrator can reset it",
            ),
        )
    if user.totp_secret is not None and user.updated_at > now - PENDING_ENROLMENT:
        # a mistyped first code must not cost the person the key they have just scanned
        secret = totp.decrypt(secret_key, user.totp_secret, user.id)
    else:
        secret = totp.new_secret()
        user.totp_secret = totp.encrypt(secret_key, secret, user.id)
        user.totp_last_step = None
        user.updated_at = now
    _audit(session, user, "user.totp_enrol", "ok", {"address": client_address})
    return Enrolment(totp.to_base32(secret), totp.uri(secret, f"{user.username}@{org.code}"))


def _open(
    session: Session, token: str | None, now: dt.datetime, idle: dt.timedelta
) -> tuple[UserSession, User, Organisation]:
    """The open session of the token, ended (and refused) when it is idle, too old or its person
    was disabled."""
    row = None
    if token and token.startswith(TOKEN_PREFIX):
        row = session.execute(
            select(UserSession, User, Organisation)
            .join(User, User.id == UserSession.user_id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(UserSession.digest == digest(token))
        ).first()
    if row is None:
        audit.record(session, actor="anonymous", action="user.session", outcome="denied",
                     detail={"reason": "unknown_token"})  # fmt: skip
        audit.refuse(session, SessionEnded())
    found, user, org = row
    reason = None
    if found.ended_at is not None:
        reason = "ended"
    elif not (user.active and org.active):
        reason = "disabled"
    elif now - found.last_seen > idle:
        reason = "idle"
    elif now - found.created_at > ABSOLUTE_TIMEOUT:
        reason = "expired"
    if reason is not None:
        if found.ended_at is None:
            found.ended_at = now
            found.end_reason = reason
        _audit(session, user, "user.session", "denied", {"reason": reason, "session": found.id})
        shown = found.end_reason if reason == "ended" else reason
        audit.refuse(session, SessionEnded(shown if shown in ("idle", "expired") else None))
    if now - found.last_seen >= min(LAST_SEEN_EVERY, idle / 10):
        found.last_seen = now
    return found, user, org


def resume(
    session: Session, token: str | None, *, now: dt.datetime | None = None, idle: dt.timedelta = IDLE_TIMEOUT
) -> Caller:
    """The caller a request acts as, from its session token."""
    now = now or utcnow()
    found, user, org = _open(session, token, now, idle)
    if user.must_change_password:
        _audit(session, user, "user.session", "denied", {"reason": "password_change_required",
                                                         "session": found.id})  # fmt: skip
        audit.refuse(session, PasswordChangeRequired())
    return Caller(
        organisation_id=org.id,
        code=org.code,
        role=org.role,
        actor=users.actor_of(user),
        permissions=frozenset(ROLE_PERMISSIONS[Role(user.role)]),
        grants=grants.of(session, org.id),  # people send within their organisation's grants
    )


def idle_deadline(session: Session, token: str, *, idle: dt.timedelta = IDLE_TIMEOUT) -> dt.datetime | None:
    """When the open session of the token ends unless it is used again (None: no such session)."""
    last_seen = session.scalar(select(UserSession.last_seen).where(UserSession.digest == digest(token)))
    if last_seen is None:
        return None
    aware = last_seen if last_seen.tzinfo is not None else last_seen.replace(tzinfo=dt.UTC)
    return aware + idle


def renew(
    session: Session, token: str | None, *, now: dt.datetime | None = None, idle: dt.timedelta = IDLE_TIMEOUT
) -> dt.datetime:
    """Keep the open session of the token (the person asked to stay signed in); when it now ends
    unless used again. ``SessionEnded`` when it has ended already."""
    now = now or utcnow()
    found, _, _ = _open(session, token, now, idle)
    found.last_seen = now
    return now + idle


def sign_out(
    session: Session, token: str | None, *, now: dt.datetime | None = None, idle: dt.timedelta = IDLE_TIMEOUT
) -> None:
    now = now or utcnow()
    found, user, _ = _open(session, token, now, idle)
    found.ended_at = now
    found.end_reason = "signed_out"
    _audit(session, user, "user.sign_out", "ok", {"session": found.id})


def change_password(
    session: Session,
    token: str | None,
    current: str,
    new: str,
    *,
    now: dt.datetime | None = None,
    idle: dt.timedelta = IDLE_TIMEOUT,
) -> None:
    """The signed-in person chooses a new password (the current one is asked again); their other
    sessions end."""
    now = now or utcnow()
    found, user, _ = _open(session, token, now, idle)
    if not passwords.verify(user.password_hash, current):
        user.failed_sign_ins += 1
        detail: dict[str, Any] = {"reason": "bad_password", "session": found.id}
        if user.failed_sign_ins >= LOCKOUT_THRESHOLD:
            user.locked_until = now + LOCKOUT
            user.failed_sign_ins = 0
            found.ended_at = now
            found.end_reason = "locked"
            detail["locked_until"] = user.locked_until.isoformat()
        _audit(session, user, "user.password_change", "denied", detail)
        audit.refuse(session, Denied("目前密碼有誤", "the current password is wrong"))
    try:
        passwords.set_password(session, user, new, now=now, must_change=False)
    except passwords.WeakPassword as e:
        _audit(session, user, "user.password_change", "denied", {"reason": "policy", "session": found.id})
        audit.refuse(session, e)
    ended = users.end_sessions(session, user.id, "password_changed", now, keep=found.id)
    _audit(session, user, "user.password_change", "ok", {"session": found.id, "sessions_ended": ended})

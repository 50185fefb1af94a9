"""People's accounts: one person, one account. Each has a personal name, a unique username and
e-mail, one role that the organisation's kind allows, and is active or disabled.

Accounts are managed by HQ administrators (``accounts.manage``) for every organisation, and by an
organisation's own administrator (``accounts.manage_own``) for that organisation only, never with
an HQ role. Every change and every refusal is audited; a refusal is committed before it is raised
(see ``refuse``), so its audit event holds although the caller's transaction ends in the error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aedx.accounts import organisations as orgs
from aedx.accounts import passwords
from aedx.accounts.roles import KIND_NAMES, MFA_REQUIRED, ORGANISATION_ROLES, ROLE_NAMES, Permission, Role
from aedx.errors import Conflict, Denied, Invalid, NotFound
from aedx.storage.tables import Organisation, User, UserSession, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller

HQ_ROLES = ORGANISATION_ROLES["hq"]
USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,49}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
# Words that name a function or a group rather than a person: an account made only of these (and
# digits) would be shared.
GENERIC_WORDS = frozenset(
    {
        "admin", "administrator", "root", "test", "tester", "testing", "guest", "user", "users",
        "officer", "operator", "system", "sysadmin", "support", "demo", "hq", "aea", "staff",
        "service", "default", "anonymous", "manager", "supervisor", "info", "office", "account",
        "public", "shared", "common", "temp", "superuser", "team", "group", "it", "helpdesk",
    }
)  # fmt: skip
GENERIC_NAMES = frozenset(
    {
        "管理員", "管理者", "系統管理員", "系統管理者", "測試", "測試帳號", "測試人員", "使用者", "承辦人",
        "承辦", "公用", "共用", "公用帳號", "共用帳號", "訪客", "主管", "值班", "資訊室", "櫃檯",
    }
)  # fmt: skip


@dataclass(frozen=True)
class NewUser:
    user: User
    initial_password: str  # shown once to the administrator, who hands it over; never kept


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    full_name: str
    email: str
    role: str
    organisation: str  # code
    active: bool
    totp: bool  # a confirmed second factor
    must_change_password: bool
    locked_until: dt.datetime | None
    last_sign_in_at: dt.datetime | None


def actor_of(user: User) -> str:
    return f"user:{user.id}"


def may_manage(actor: Caller, organisation_id: int, role: str | None = None) -> bool:
    """Whether the actor may manage the people of the organisation (with the role, if given)."""
    if actor.may(Permission.ACCOUNTS_MANAGE):
        return True
    return (
        actor.may(Permission.ACCOUNTS_MANAGE_OWN)
        and actor.organisation_id == organisation_id
        and (role is None or role not in HQ_ROLES)
    )


# --- checks on who the account is for


def _username(raw: str) -> str:
    name = raw.strip().lower()
    if not USERNAME.fullmatch(name):
        raise Invalid(
            "帳號須為 3 至 50 個小寫英文字母、數字或 . _ -，且以字母開頭",
            "a username has 3 to 50 lower-case letters, digits or . _ - and starts with a letter",
        )
    words = [w for w in re.split(r"[._\-0-9]+", name) if w]
    if all(w in GENERIC_WORDS for w in words):
        raise Invalid(
            f"帳號「{name}」為通用名稱；每位使用者須有個人帳號，不得共用",
            f"the username {name!r} is generic; each person needs their own account, never a shared one",
        )
    return name


def _full_name(raw: str, organisation: Organisation) -> str:
    name = " ".join(raw.split())
    letters = [c for c in name if c.isalpha()]
    if (
        len(letters) < 2
        or len(name) > 100
        or any(c.isdigit() for c in name)
        or name.casefold() in GENERIC_NAMES
        or name.casefold() in GENERIC_WORDS
        or name == organisation.name
    ):
        raise Invalid(
            "請填寫使用者本人之姓名（帳號不得共用）",
            "give the person's own full name (accounts are never shared)",
        )
    return name


def _email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 200 or not EMAIL.fullmatch(email):
        raise Invalid(f"電子郵件「{raw}」格式有誤", f"{raw!r} is not an e-mail address")
    return email


def _parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise Invalid(
            f"無此角色 {raw}；可用：{', '.join(r.value for r in Role)}",
            f"no role {raw}; the roles are {', '.join(r.value for r in Role)}",
        ) from None


def _fits(role: Role, organisation: Organisation) -> Role:
    allowed = ORGANISATION_ROLES.get(organisation.role, frozenset())
    if role not in allowed:
        kind_zh, kind_en = KIND_NAMES.get(organisation.role, (organisation.role, organisation.role))
        names = [ROLE_NAMES[r] for r in Role if r in allowed]
        raise Invalid(
            f"{organisation.name}為{kind_zh}，其人員不可擔任「{ROLE_NAMES[role][0]}」；"
            f"可擔任：{'、'.join(f'「{zh}」' for zh, _ in names) or '無'}",
            f"{organisation.name} is {kind_en}: its people cannot be {ROLE_NAMES[role][1]}; "
            f"they may be {' or '.join(en for _, en in names) or 'nothing'}",
        )
    return role


def _unique(session: Session, username: str, email: str, user_id: int | None = None) -> None:
    clash = session.scalars(
        select(User).where((User.username == username) | (User.email == email), User.id != (user_id or 0))
    ).first()
    if clash is not None:
        which = ("帳號", "username") if clash.username == username else ("電子郵件", "e-mail address")
        raise Conflict(f"此{which[0]}已有人使用", f"this {which[1]} belongs to another account")


# --- management


def _denied(session: Session, actor: Caller, action: str, reason: str, **fields: Any) -> NoReturn:
    audit.by_caller(session, actor, action, outcome="denied", detail={"reason": reason}, **fields)
    audit.refuse(session, Denied("您無權執行此帳號管理作業", "you may not manage this account"))


def _require_manager(session: Session, actor: Caller, action: str) -> None:
    if not (actor.may(Permission.ACCOUNTS_MANAGE) or actor.may(Permission.ACCOUNTS_MANAGE_OWN)):
        _denied(session, actor, action, "permission")


def get(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound("查無此帳號", "no such account")
    return user


def _target(session: Session, actor: Caller, username: str, action: str) -> User:
    """The account the actor manages; one outside the actor's reach is 'not found' to them."""
    _require_manager(session, actor, action)
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is not None and may_manage(actor, user.organisation_id, user.role):
        return user
    if user is not None:
        audit.by_caller(
            session,
            actor,
            action,
            outcome="denied",
            organisation_id=user.organisation_id,
            object_type="user",
            object_id=str(user.id),
            detail={"reason": "outside_reach"},
        )
    audit.refuse(session, NotFound("查無此帳號", "no such account"))


def _audit(session: Session, actor: Caller, action: str, user: User, **detail: Any) -> None:
    audit.by_caller(
        session,
        actor,
        action,
        organisation_id=user.organisation_id,
        object_type="user",
        object_id=str(user.id),
        detail={"username": user.username, **detail},
    )


def _not_self(session: Session, actor: Caller, user: User, action: str) -> None:
    if actor.actor == actor_of(user):
        audit.by_caller(
            session,
            actor,
            action,
            outcome="denied",
            organisation_id=user.organisation_id,
            object_type="user",
            object_id=str(user.id),
            detail={"reason": "own_account"},
        )
        audit.refuse(
            session,
            Denied("不可停用或變更自己帳號之角色", "you cannot disable your own account or change its role"),
        )


def create(
    session: Session,
    actor: Caller,
    organisation: str,
    username: str,
    full_name: str,
    email: str,
    role: str,
    *,
    now: dt.datetime | None = None,
) -> NewUser:
    """A new account with a one-time initial password that must be changed at first sign-in."""
    now = now or utcnow()
    _require_manager(session, actor, "user.create")
    org = orgs.get(session, organisation)
    chosen = _parse_role(role)
    if not may_manage(actor, org.id, chosen):
        reason = "hq_role" if chosen in HQ_ROLES else "other_organisation"
        _denied(session, actor, "user.create", reason, organisation_id=org.id)
    _fits(chosen, org)
    name, person, address = _username(username), _full_name(full_name, org), _email(email)
    _unique(session, name, address)
    initial = passwords.initial_password(name, address, person, org.code, org.name, org.abbreviation or "")
    user = User(
        organisation_id=org.id,
        username=name,
        full_name=person,
        email=address,
        role=chosen.value,
        active=True,
        password_hash="",
        must_change_password=True,
        failed_sign_ins=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    passwords.set_password(session, user, initial, now=now, must_change=True)
    _audit(session, actor, "user.create", user, role=chosen.value, organisation=org.code)
    return NewUser(user, initial)


def change(
    session: Session,
    actor: Caller,
    username: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Correct a person's name or e-mail address."""
    user = _target(session, actor, username, "user.update")
    org = session.get_one(Organisation, user.organisation_id)
    changed = []
    if full_name is not None:
        user.full_name = _full_name(full_name, org)
        changed.append("full_name")
    if email is not None:
        address = _email(email)
        _unique(session, user.username, address, user.id)
        user.email = address
        changed.append("email")
    user.updated_at = now or utcnow()
    _audit(session, actor, "user.update", user, fields=changed)
    return user


def disable(session: Session, actor: Caller, username: str, *, now: dt.datetime | None = None) -> User:
    """Disable the account and end all its sessions at once."""
    now = now or utcnow()
    user = _target(session, actor, username, "user.disable")
    _not_self(session, actor, user, "user.disable")
    user.active = False
    user.updated_at = now
    ended = end_sessions(session, user.id, "disabled", now)
    _audit(session, actor, "user.disable", user, sessions_ended=ended)
    return user


def enable(session: Session, actor: Caller, username: str, *, now: dt.datetime | None = None) -> User:
    user = _target(session, actor, username, "user.enable")
    user.active = True
    user.updated_at = now or utcnow()
    _audit(session, actor, "user.enable", user)
    return user


def set_role(
    session: Session, actor: Caller, username: str, role: str, *, now: dt.datetime | None = None
) -> User:
    """Give the person another role their organisation allows; their sessions end, so the new
    permissions apply from the next sign-in."""
    now = now or utcnow()
    user = _target(session, actor, username, "user.role")
    org = session.get_one(Organisation, user.organisation_id)
    chosen = _parse_role(role)
    if not may_manage(actor, org.id, chosen):
        _denied(session, actor, "user.role", "hq_role", organisation_id=org.id, object_type="user",
                object_id=str(user.id))  # fmt: skip
    _fits(chosen, org)
    _not_self(session, actor, user, "user.role")
    before = user.role
    user.role = chosen.value
    user.updated_at = now
    ended = end_sessions(session, user.id, "role_changed", now)
    _audit(session, actor, "user.role", user, role=chosen.value, previous=before, sessions_ended=ended)
    return user


def reset_password(
    session: Session,
    actor: Caller,
    username: str,
    *,
    reset_totp: bool = False,
    now: dt.datetime | None = None,
) -> str:
    """A new one-time password (to be changed at the next sign-in); every session of the account
    ends. With ``reset_totp`` the second factor is removed too, for a lost phone: the person enrols
    again at the next sign-in."""
    now = now or utcnow()
    user = _target(session, actor, username, "user.password_reset")
    initial = passwords.initial_password(user.username, user.email, *passwords.names_of(session, user))
    passwords.set_password(session, user, initial, now=now, must_change=True)
    if reset_totp:
        user.totp_secret = None
        user.totp_confirmed_at = None
        user.totp_last_step = None
    ended = end_sessions(session, user.id, "password_reset", now)
    _audit(session, actor, "user.password_reset", user, totp_reset=reset_totp, sessions_ended=ended)
    return initial


def unlock(session: Session, actor: Caller, username: str, *, now: dt.datetime | None = None) -> User:
    """Lift a lockout after too many failed sign-ins."""
    user = _target(session, actor, username, "user.unlock")
    user.failed_sign_ins = 0
    user.locked_until = None
    user.updated_at = now or utcnow()
    _audit(session, actor, "user.unlock", user)
    return user


def listing(session: Session, actor: Caller, organisation: str | None = None) -> list[UserView]:
    """HQ administrators see everyone (or one organisation's people); an organisation's
    administrator sees their own organisation's."""
    _require_manager(session, actor, "user.list")
    stmt = select(User, Organisation.code).join(Organisation, Organisation.id == User.organisation_id)
    if organisation is not None:
        org = orgs.get(session, organisation)
        if not may_manage(actor, org.id):
            _denied(session, actor, "user.list", "other_organisation", organisation_id=org.id)
        stmt = stmt.where(User.organisation_id == org.id)
    elif not actor.may(Permission.ACCOUNTS_MANAGE):
        stmt = stmt.where(User.organisation_id == actor.organisation_id)
    return [
        UserView(
            id=u.id,
            username=u.username,
            full_name=u.full_name,
            email=u.email,
            role=u.role,
            organisation=code,
            active=u.active,
            totp=u.totp_confirmed_at is not None,
            must_change_password=u.must_change_password,
            locked_until=u.locked_until,
            last_sign_in_at=u.last_sign_in_at,
        )
        for u, code in session.execute(stmt.order_by(Organisation.code, User.username))
    ]


def needs_mfa(user: User) -> bool:
    return Role(user.role) in MFA_REQUIRED


def end_sessions(
    session: Session, user_id: int, reason: str, now: dt.datetime, *, keep: int | None = None
) -> int:
    """End every open session of the user (but ``keep``); returns how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = session.execute(stmt.values(ended_at=now, end_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)

"""Passwords: argon2id hashes with OWASP's parameters, the policy (length, not the person's own
username or e-mail, none of their last three), and one-time initial passwords."""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aedx.errors import Invalid
from aedx.storage.tables import PasswordHistory, User

MIN_LENGTH = 12
MAX_LENGTH = 128  # long passphrases are welcome; the bound keeps hashing cheap to refuse
HISTORY = 3  # a new password may not be any of the last three, the current one included

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

_INITIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
INITIAL_LENGTH = 16


class WeakPassword(Invalid):
    code = "password.policy"


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def spend_time(password: str) -> None:
    """Verify against a throw-away hash, so that an unknown or locked account answers as slowly
    as a known one."""
    verify(_dummy_hash(), password)


def initial_password() -> str:
    """A one-time password an administrator hands over; it must be changed at first sign-in."""
    return "".join(secrets.choice(_INITIAL_ALPHABET) for _ in range(INITIAL_LENGTH))


def check_policy(password: str, username: str, email: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"密碼至少須 {MIN_LENGTH} 個字元", f"a password needs at least {MIN_LENGTH} characters"
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密碼至多 {MAX_LENGTH} 個字元", f"a password has at most {MAX_LENGTH} characters")
    folded = password.casefold()
    email = email.casefold()
    if username.casefold() in folded or email in folded or folded == email.split("@")[0]:
        raise WeakPassword(
            "密碼不可包含帳號或電子郵件", "a password may not contain the username or the e-mail address"
        )


def set_password(session: Session, user: User, password: str, *, now: dt.datetime, must_change: bool) -> None:
    """Apply the policy, refuse any of the user's last passwords, and keep the new hash in the
    history (which holds the newest ``HISTORY`` only)."""
    check_policy(password, user.username, user.email)
    recent = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(HISTORY)
    ).all()
    if any(verify(old, password) for old in recent):
        raise WeakPassword(
            f"新密碼不可與最近 {HISTORY} 次使用之密碼相同",
            f"the new password may not be any of the last {HISTORY} passwords",
        )
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.must_change_password = must_change
    user.updated_at = now
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))
    session.flush()
    kept = session.scalars(
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
    ).all()
    if len(kept) > HISTORY:
        session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(kept[HISTORY:])))

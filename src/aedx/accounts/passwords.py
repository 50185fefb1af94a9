"""Passwords: argon2id hashes with OWASP's parameters, the policy (length, not the person's own
username or e-mail, not guessable by an offline estimator that knows the common and breached
passwords and the person's and organisation's names, none of their last three), and one-time
initial passwords."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from functools import cache
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from aedx.errors import Invalid
from aedx.storage.tables import Organisation, PasswordHistory, User

MIN_LENGTH = 12
MAX_LENGTH = 128  # long passphrases are welcome; the bound keeps hashing cheap to refuse
HISTORY = 3  # a new password may not be any of the last three, the current one included

# OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
HASHER = PasswordHasher(
    time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

_INITIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no 0/O, 1/l/I
INITIAL_LENGTH = 16
# zxcvbn's score 3 is "safely unguessable": about 10^8 guesses or more. Below it a password is
# among, or built from, the common and breached passwords, words, names, dates and keyboard walks
# its bundled frequency lists hold (NIST SP 800-63B 5.1.1.2: refuse commonly used passwords).
MIN_STRENGTH = 3
_ESTIMATED_UP_TO = 100  # zxcvbn's cost grows with the length; past this the tail adds only strength
# words anybody guessing at this platform would try first
_PLATFORM_WORDS = ("aedx", "行政執行", "行政執行署", "administrative enforcement")


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


def initial_password(*names: str) -> str:
    """A one-time password an administrator hands over; it must be changed at first sign-in. Drawn
    again in the rare case that it holds one of the person's ``names`` (username, e-mail, their own
    and their organisation's names), which the policy refuses."""
    words = _own_words(names) | {n.casefold() for n in names if n}
    while True:
        drawn = "".join(secrets.choice(_INITIAL_ALPHABET) for _ in range(INITIAL_LENGTH))
        if not any(word in drawn.casefold() for word in words):
            return drawn


def _guessable_words(values: Iterable[str]) -> list[str]:
    """Each value, folded, joined without separators and split into its parts, so that
    ``chenyating2026`` is recognised from the username ``chen.yating``."""
    words: set[str] = set(_PLATFORM_WORDS)
    for value in values:
        folded = value.casefold().strip()
        if not folded:
            continue
        parts = [p for p in re.split(r"[\W_]+", folded) if p]
        words.update({folded, "".join(parts)}, (p for p in parts if len(p) >= 3))
    return sorted(words)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
OWN_WORDS = (
    "含有您的姓名、帳號、電子郵件或機關名稱",
    "it contains your name, username, e-mail or organisation",
)


def _own_words(values: Iterable[str]) -> set[str]:
    """The person's and organisation's names as a password may not contain them: each whole (two
    characters or more) and without its separators, its Latin parts of four letters or more, and
    the runs of four Chinese characters or more within a longer Chinese name (``臺北國稅局`` in
    ``財政部臺北國稅局``)."""
    words: set[str] = set()
    for value in values:
        folded = value.casefold().strip()
        parts = [p for p in re.split(r"[\W_]+", folded) if p]
        words.update(w for w in (folded, "".join(parts)) if len(w) >= 2)
        words.update(p for p in parts if len(p) >= 4 and not _CJK.search(p))
        for run in _CJK.findall(folded):
            words.update(run[i:j] for i in range(len(run)) for j in range(i + 4, len(run) + 1))
    return words


def _too_guessable(why_zh: str, why_en: str) -> WeakPassword:
    return WeakPassword(
        f"密碼太容易被猜中：{why_zh}。請改用較長且不相關之多個字詞組成的密語。",
        f"the password is too easy to guess: {why_en}. Choose a longer passphrase of unrelated words.",
    )


def _why_weak(result: dict[str, Any]) -> tuple[str, str]:
    """The one reason a person can act on, from the weakest parts the estimator found."""
    patterns = {(m["pattern"], m.get("dictionary_name")) for m in result["sequence"]}
    if ("dictionary", "user_inputs") in patterns:
        return OWN_WORDS
    if ("dictionary", "passwords") in patterns:
        return (
            "此密碼（或其主要部分）屬常見或曾外洩之密碼",
            "it is (or mostly is) a common or breached password",
        )
    if patterns & {("sequence", None), ("repeat", None), ("spatial", None)}:
        return (
            "含有連續、重複或鍵盤排列之字元（如 1234、aaaa、qwerty）",
            "it is a sequence, a repetition or a keyboard walk (1234, aaaa, qwerty)",
        )
    if patterns & {("date", None), ("regex", None)}:
        return ("以日期或年份為主", "it is mostly a date or a year")
    return ("由常見字詞組成", "it is made of common words")


def check_strength(password: str, names: Iterable[str]) -> None:
    """Refuse a password an offline guesser would find soon (NIST SP 800-63B), given the
    person's and organisation's ``names``."""
    result = zxcvbn(password[:_ESTIMATED_UP_TO], user_inputs=_guessable_words(names))
    if result["score"] >= MIN_STRENGTH:
        return
    raise _too_guessable(*_why_weak(result))


def check_policy(password: str, username: str, email: str, *, names: Iterable[str] = ()) -> None:
    """The whole policy; ``names`` are the person's and organisation's names, code and the like."""
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
    if any(word in folded for word in _own_words([username, *names])):  # however long the rest is
        raise _too_guessable(*OWN_WORDS)
    check_strength(password, [username, email, *names])


def names_of(session: Session, user: User) -> list[str]:
    """What a guesser who knows the person would try: their name and their organisation's."""
    org = session.get(Organisation, user.organisation_id)
    found = [user.full_name]
    if org is not None:
        found += [org.code, org.name, org.abbreviation or ""]
    return found


def set_password(session: Session, user: User, password: str, *, now: dt.datetime, must_change: bool) -> None:
    """Apply the policy, refuse any of the user's last passwords, and keep the new hash in the
    history (which holds the newest ``HISTORY`` only)."""
    check_policy(password, user.username, user.email, names=names_of(session, user))
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

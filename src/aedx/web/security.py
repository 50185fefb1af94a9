"""CSRF tokens and the sealed state of a sign-in between its steps.

A signed-in person's forms carry ``HMAC(secret_key, "session:" + SHA-256 of the session token)``:
bound to the session, made by the server only, and worthless after the session ends. The sign-in
forms, before any session exists, use a double-submit cookie: a random ``aedx_csrf`` cookie whose
HMAC the form must carry.

Between the password step and the code step, the username and password travel in a cookie sealed
with AES-256-GCM under a key derived from ``secret_key``, for five minutes at most; the core then
checks both again together with the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aedx.accounts.sessions import digest

CSRF_FIELD = "csrf_token"
PRE_SESSION_COOKIE = "aedx_csrf"
PENDING_COOKIE = "aedx_pending"
PENDING_SECONDS = 300


def _mac(secret_key: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def session_token(secret_key: bytes, session_token_value: str) -> str:
    """The CSRF token of the forms of the session."""
    return _mac(secret_key, "aedx-csrf-session", digest(session_token_value))


def new_pre_session_cookie() -> str:
    return secrets.token_urlsafe(32)


def pre_session_token(secret_key: bytes, cookie: str) -> str:
    """The CSRF token of the sign-in forms, bound to the pre-session cookie."""
    return _mac(secret_key, "aedx-csrf-pre-session", cookie)


def matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass(frozen=True)
class Pending:
    """A sign-in waiting for its code: who, their password, and whether they are enrolling."""

    username: str
    password: str
    enrolling: bool


def _sealing_key(secret_key: bytes) -> bytes:
    return hashlib.sha256(b"aedx-web-pending-sign-in\x00" + secret_key).digest()


def seal(secret_key: bytes, pending: Pending, *, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + PENDING_SECONDS)
    body = json.dumps({"u": pending.username, "p": pending.password, "e": pending.enrolling, "x": expires})
    nonce = os.urandom(12)
    sealed = AESGCM(_sealing_key(secret_key)).encrypt(nonce, body.encode(), b"aedx-pending")
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret_key: bytes, value: str | None, *, now: float | None = None) -> Pending | None:
    """The pending sign-in, or None when missing, tampered with or expired."""
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value.encode())
        body = json.loads(AESGCM(_sealing_key(secret_key)).decrypt(raw[:12], raw[12:], b"aedx-pending"))
    except (ValueError, InvalidTag, TypeError):
        return None
    if int(body["x"]) < (now if now is not None else time.time()):
        return None
    return Pending(str(body["u"]), str(body["p"]), bool(body["e"]))

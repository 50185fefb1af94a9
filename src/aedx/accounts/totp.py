"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): SHA-1, 6 digits, 30-second
steps, one step of drift either way; and the secrets' encryption at rest (AES-256-GCM, bound to
the user they belong to)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os
import secrets
import struct
from urllib.parse import quote, urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted before and after the current one
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for SHA-1
ISSUER = "aedx 行政執行資料交換平台"
_NONCE = 12


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it: base32 without padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def from_base32(text: str) -> bytes:
    cleaned = text.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(secret: bytes, counter: int, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    """RFC 4226: the dynamically truncated HMAC of the counter, as ``digits`` decimal digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), algorithm).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step_at(when: dt.datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def code_at(secret: bytes, when: dt.datetime, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    return hotp(secret, step_at(when), digits, algorithm)


def matching_step(secret: bytes, code: str, when: dt.datetime, after: int | None = None) -> int | None:
    """The time step within the window whose code is ``code``, later than ``after`` (the last step
    accepted, so that no code is accepted twice); None when there is none."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = step_at(when)
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        # compare every candidate, in constant time, so the timing tells nothing
        if hmac.compare_digest(hotp(secret, step), code) and found is None:
            found = step
    if found is None or (after is not None and found <= after):
        return None
    return found


def uri(secret: bytes, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` URI that authenticator apps read from a QR code."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": to_base32(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def encrypt(key: bytes, secret: bytes, user_id: int) -> str:
    """The secret sealed with AES-256-GCM; the user's id is bound in as associated data, so a
    sealed secret copied to another user's row does not open."""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_checked(key)).encrypt(nonce, secret, _context(user_id))
    return base64.b64encode(nonce + sealed).decode()


def decrypt(key: bytes, stored: str, user_id: int) -> bytes:
    raw = base64.b64decode(stored)
    try:
        return AESGCM(_checked(key)).decrypt(raw[:_NONCE], raw[_NONCE:], _context(user_id))
    except InvalidTag:
        raise ValueError("the TOTP secret does not open with this key") from None


def _context(user_id: int) -> bytes:
    return f"aedx-totp:user:{user_id}".encode()


def _checked(key: bytes) -> bytes:
    if len(key) != 32:
        raise ValueError("the secret key must be 32 bytes (AEDX_SECRET_KEY)")
    return key

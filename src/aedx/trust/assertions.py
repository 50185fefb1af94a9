"""Client assertions for OAuth 2.0 ``private_key_jwt`` (RFC 7523): the short JWT an organisation's
server signs with its private key to get an access token. The platform checks them
(``aedx.accounts.clients``); the organisations' client makes them (``aedx.client``). Needs only
``cryptography``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def make_assertion(
    client_id: str,
    key: PrivateKey,
    audience: str,
    *,
    alg: str | None = None,
    lifetime: dt.timedelta = dt.timedelta(minutes=2),
    now: dt.datetime | None = None,
    **claims: Any,
) -> str:
    """A client assertion as an agency's server makes it (RS256 or PS256 with an RSA key, ES256 with
    an EC P-256 key); ``claims`` override or add claims."""
    alg = alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    t = int((now or dt.datetime.now(dt.UTC)).timestamp())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": t,
        "exp": t + int(lifetime.total_seconds()),
        "jti": str(uuid.uuid4()),
    } | claims
    return sign_jwt({"alg": alg, "typ": "JWT"}, body, key)


def sign_jwt(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    data = signing_input.encode("ascii")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif header.get("alg") == "PS256":
        signature = key.sign(
            data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
        )
    else:
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"

"""API clients and OAuth 2.0 client credentials with ``private_key_jwt`` (RFC 6749 §4.4, RFC 7521,
RFC 7523).

An organisation's server is registered as a client with a public key (RSA of at least 2048 bits or
EC P-256), given as a PEM public key or taken from a signing certificate the organisation holds on
the platform. To get an access token it signs a short JWT — the client assertion — with its private
key and posts it to ``/oauth/token``; the platform checks the signature against the registered key
and the claims, remembers the assertion's ``jti`` until it expires so that it is never accepted
twice, and answers with an opaque access token valid for ten minutes. Only the token's SHA-256 is
kept. The token carries the organisation's grants and reading scopes (``accounts.scopes``) at issue
time, narrowed by the requested scope; each request is allowed what the token carries *and* the
organisation still holds, so revoking a grant, disabling the client or the organisation takes
effect at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aedx.accounts import grants, scopes
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import CLIENT_PERMISSIONS, Permission
from aedx.errors import Denied, Invalid, NotFound, Unauthenticated
from aedx.storage.tables import AccessToken, ApiClient, Certificate, Organisation, UsedAssertion, utcnow
from aedx.trust import audit, refusals
from aedx.trust.assertions import PrivateKey as PrivateKey
from aedx.trust.assertions import make_assertion as make_assertion
from aedx.trust.assertions import sign_jwt as sign_jwt
from aedx.trust.caller import Caller

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "PS256", "ES256")
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
TOKEN_LIFETIME = dt.timedelta(minutes=10)
MAX_ASSERTION_LIFETIME = dt.timedelta(minutes=5)  # exp at most this far ahead
SKEW = dt.timedelta(seconds=60)  # allowed clock difference for exp, iat and nbf
MAX_ASSERTION_BYTES = 8192
MAX_JTI = 200
MIN_RSA_BITS = 2048
TOKEN_PREFIX = "aedx_at_"  # noqa: S105 - a prefix, not a secret


# -- clients --------------------------------------------------------------------------------------


def _may_manage(caller: Caller, organisation_id: int) -> bool:
    own = caller.organisation_id == organisation_id and caller.may(Permission.ACCOUNTS_MANAGE_OWN)
    return caller.may(Permission.ACCOUNTS_MANAGE) or own


def _deny(
    session: Session, caller: Caller, action: str, org: Organisation, object_id: str | None
) -> NoReturn:
    audit.by_caller(
        session,
        caller,
        action,
        outcome="denied",
        organisation_id=org.id,
        object_type="client",
        object_id=object_id,
    )
    denied = Denied(
        f"{caller.code} 無權管理 {org.code} 之介接用戶端",
        f"{caller.code} may not manage {org.code}'s API clients",
    )
    audit.refuse(session, denied)


def load_public_key(pem: bytes) -> tuple[rsa.RSAPublicKey | ec.EllipticCurvePublicKey, str]:
    """A client's public key and its type (``RSA-3072``, ``EC-P256``); other keys are refused."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise Invalid("公鑰格式有誤（須為 PEM）", "the public key cannot be read (PEM expected)") from None
    return _checked(key)


def public_key_from_jwk(text: str) -> bytes:
    """A public JWK (RFC 7517: ``kty`` RSA with ``n`` and ``e``, or EC P-256 with ``x`` and ``y``)
    as a PEM public key, for ``register``."""
    try:
        jwk = json.loads(text)
        if not isinstance(jwk, dict):
            raise TypeError
        if jwk.get("kty") == "RSA":
            key: object = rsa.RSAPublicNumbers(_jwk_int(jwk["e"]), _jwk_int(jwk["n"])).public_key()
        elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            key = ec.EllipticCurvePublicNumbers(
                _jwk_int(jwk["x"]), _jwk_int(jwk["y"]), ec.SECP256R1()
            ).public_key()
        else:
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise Invalid(
            "JWK 格式有誤（須為 RSA 或 EC P-256 公鑰）",
            "the JWK cannot be read (an RSA or EC P-256 public key)",
        ) from None
    public_key, _ = _checked(key)
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk_int(value: object) -> int:
    if not isinstance(value, str):
        raise TypeError
    return int.from_bytes(_b64decode(value), "big")


def _checked(key: object) -> tuple[rsa.RSAPublicKey | ec.EllipticCurvePublicKey, str]:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return key, f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "EC-P256"
    raise Invalid(
        "金鑰須為 RSA（至少 2048 位元）或 EC P-256",
        "the key must be RSA of at least 2048 bits or EC P-256",
    )


def register(
    session: Session,
    caller: Caller,
    code: str,
    *,
    public_key_pem: bytes | None = None,
    certificate_pem: bytes | None = None,
    label: str = "",
) -> ApiClient:
    """A new client of the organisation, known by a PEM public key or by one of the organisation's
    signing certificates on the platform (valid and not revoked). Returns it with its new
    ``client_id``."""
    org = orgs.get(session, code)
    if not _may_manage(caller, org.id):
        _deny(session, caller, "client.register", org, None)
    if (public_key_pem is None) == (certificate_pem is None):
        raise Invalid("請提供公鑰或憑證其一", "give either a public key or a certificate")
    if len(label) > 100:
        raise Invalid("說明至多 100 字", "the label has at most 100 characters")
    certificate_id = None
    if certificate_pem is not None:
        cert_row, key = _held_certificate(session, org, certificate_pem)
        certificate_id = cert_row.id
        public_key, key_type = _checked(key)
    else:
        public_key, key_type = load_public_key(public_key_pem or b"")
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    client = ApiClient(
        client_id=new_client_id(),
        organisation_id=org.id,
        label=label,
        public_key=pem.decode(),
        key_type=key_type,
        key_fingerprint=hashlib.sha256(der).hexdigest(),
        certificate_id=certificate_id,
        active=True,
    )
    session.add(client)
    session.flush()
    audit.by_caller(
        session,
        caller,
        "client.register",
        organisation_id=org.id,
        object_type="client",
        object_id=client.client_id,
        detail={"key_type": key_type, "fingerprint": client.key_fingerprint, "label": label}
        | ({"certificate_id": certificate_id} if certificate_id else {}),
    )
    return client


def new_client_id() -> str:
    return f"aedx-{secrets.token_hex(12)}"


def _held_certificate(session: Session, org: Organisation, cert_pem: bytes) -> tuple[Certificate, object]:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise Invalid("憑證格式有誤（須為 PEM）", "the certificate cannot be read (PEM expected)") from None
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    row = session.scalar(
        select(Certificate).where(
            Certificate.fingerprint == fingerprint, Certificate.organisation_id == org.id
        )
    )
    now = utcnow()
    if row is None or row.revoked_at is not None or not (row.not_before <= now < row.not_after):
        raise Invalid(
            f"此憑證不是 {org.code} 在平台上有效之憑證",
            f"this certificate is not a valid certificate {org.code} holds on the platform",
        )
    if row.usage != "signing":
        raise Invalid("介接用戶端須使用簽章憑證", "an API client needs a signing certificate")
    return row, cert.public_key()


def get(session: Session, client_id: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise NotFound(f"查無介接用戶端 {client_id}", f"no API client {client_id}")
    return client


def disable(session: Session, caller: Caller, client_id: str) -> ApiClient:
    """The client gets no new tokens, and its tokens stop working at once."""
    client = get(session, client_id)
    org = session.get_one(Organisation, client.organisation_id)
    if not _may_manage(caller, org.id):
        _deny(session, caller, "client.disable", org, client_id)
    if client.active:
        client.active = False
        client.disabled_at = utcnow()
        session.execute(delete(AccessToken).where(AccessToken.client_id == client.id))
        audit.by_caller(
            session,
            caller,
            "client.disable",
            organisation_id=org.id,
            object_type="client",
            object_id=client_id,
        )
    return client


def listing(session: Session, caller: Caller, code: str | None = None) -> list[tuple[ApiClient, str]]:
    """(client, organisation code): every organisation's for HQ administrators, else one's own."""
    stmt = (
        select(ApiClient, Organisation.code)
        .join(Organisation, Organisation.id == ApiClient.organisation_id)
        .order_by(Organisation.code, ApiClient.id)
    )
    if not caller.may(Permission.ACCOUNTS_MANAGE):
        stmt = stmt.where(ApiClient.organisation_id == caller.organisation_id)
    if code is not None:
        stmt = stmt.where(Organisation.code == code)
    return [(c, org_code) for c, org_code in session.execute(stmt)]


# -- the token endpoint ---------------------------------------------------------------------------


class OAuthError(Exception):
    """A refused token request, as RFC 6749 §5.2 answers it. ``reason`` is for the audit log only;
    the caller learns ``error`` and a description that does not say why a client failed."""

    def __init__(
        self,
        error: str,
        reason: str,
        *,
        status: int = 400,
        description: str | None = None,
        client: ApiClient | None = None,
    ) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.status = status
        self.description = description or {
            "invalid_client": "client authentication failed / 用戶端驗證失敗",
            "invalid_request": "the request is malformed / 請求格式有誤",
            "unsupported_grant_type": "only client_credentials is supported / 僅支援 client_credentials",
            "invalid_scope": "the requested scope is not granted / 所請求之範圍未獲授權",
        }.get(error, error)
        self.client_id: str | None = None  # who asked, when known: plain values, kept after rollback
        self.organisation_id: int | None = None
        self.claimed_client_id: str | None = None  # named by the request, but not established
        self.about(client)

    def about(self, client: ApiClient | None) -> None:
        if client is not None:
            self.client_id, self.organisation_id = client.client_id, client.organisation_id


def _client_failure(reason: str, client: ApiClient | None = None) -> OAuthError:
    return OAuthError("invalid_client", reason, status=401, client=client)


@dataclass(frozen=True)
class TokenRequest:
    """The form fields of ``POST /oauth/token``."""

    grant_type: str | None
    client_assertion_type: str | None
    client_assertion: str | None
    scope: str | None = None
    client_id: str | None = None  # optional; when given it must be the assertion's issuer


@dataclass(frozen=True)
class Issued:
    access_token: str
    expires_in: int
    scope: str
    client_id: str

    def response(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 answer."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


def token(
    session: Session, request: TokenRequest, audiences: Collection[str], now: dt.datetime | None = None
) -> Issued:
    """Check a client-credentials request with a client assertion and issue an access token.
    Raises ``OAuthError``; the refusal is recorded by ``record_refusal`` in a transaction of its own."""
    try:
        return _token(session, request, audiences, now or utcnow())
    except OAuthError as e:
        if e.organisation_id is None:
            _name_claimed(session, e, request)
        raise


def _name_claimed(session: Session, error: OAuthError, request: TokenRequest) -> None:
    """A refusal before the client was established, of a request that names a known client id (as
    ``client_id`` or as the assertion's unverified ``iss``): recorded under that client's
    organisation too, so that it sees attempts made in its client's name."""
    claimed = [request.client_id, _unverified_issuer(request.client_assertion)]
    for client_id in filter(None, claimed):
        found = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:MAX_JTI]))
        if found is not None:
            error.claimed_client_id, error.organisation_id = found.client_id, found.organisation_id
            return


def _unverified_issuer(assertion: str | None) -> str | None:
    """The ``iss`` an assertion claims, read without checking anything else."""
    parts = (assertion or "")[:MAX_ASSERTION_BYTES].split(".")
    try:
        claims = json.loads(_b64decode(parts[1])) if len(parts) == 3 else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _token(session: Session, request: TokenRequest, audiences: Collection[str], now: dt.datetime) -> Issued:
    if request.grant_type != GRANT_TYPE:
        raise OAuthError(
            "unsupported_grant_type" if request.grant_type else "invalid_request",
            f"grant_type {str(request.grant_type)[:40]!r}",
        )
    if request.client_assertion_type != ASSERTION_TYPE or not request.client_assertion:
        raise OAuthError("invalid_request", "no client assertion of the jwt-bearer type")
    header, claims, signing_input, signature = _decode(request.client_assertion)
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise _client_failure("iss and sub differ or are missing")
    if request.client_id is not None and request.client_id != client_id:
        raise _client_failure("client_id differs from the assertion's issuer")
    found = session.execute(
        select(ApiClient, Organisation)
        .join(Organisation, Organisation.id == ApiClient.organisation_id)
        .where(ApiClient.client_id == client_id)
    ).first()
    if found is None:
        raise _client_failure("unknown client")
    client, org = found
    _verify_signature(client, header, signing_input, signature)
    if not client.active:
        raise _client_failure("client disabled", client)
    if not org.active:
        raise _client_failure("organisation disabled", client)
    if client.certificate_id is not None:
        cert = session.get_one(Certificate, client.certificate_id)
        if cert.revoked_at is not None or not (cert.not_before <= now < cert.not_after):
            raise _client_failure("certificate revoked or expired", client)
    exp = _check_claims(client, claims, audiences, now)
    _remember_jti(session, client, claims.get("jti"), exp, now)

    held = grants.of(session, org.id)
    pairs, readable = held, scopes.reading(org.role, held)
    if request.scope is not None:
        pairs = held & grants.parse_scope(request.scope)
        readable = readable & scopes.parse(request.scope)
        if not pairs and not readable:
            raise OAuthError("invalid_scope", f"scope {request.scope[:200]!r} not granted", client=client)
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    scope_text = scopes.text(pairs, readable)
    session.execute(delete(AccessToken).where(AccessToken.expires_at <= now))
    session.add(
        AccessToken(
            digest=_digest(value),
            client_id=client.id,
            organisation_id=org.id,
            scope=scope_text,
            issued_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    client.last_used_at = now
    audit.record(
        session,
        actor=f"client:{client.client_id}",
        actor_organisation_id=org.id,
        organisation_id=org.id,
        action="client.token",
        object_type="client",
        object_id=client.client_id,
        detail={"scope": scope_text, "alg": header["alg"]},
    )
    return Issued(value, int(TOKEN_LIFETIME.total_seconds()), scope_text, client.client_id)


def record_refusal(session: Session, error: OAuthError, remote: str) -> None:
    """The refused token request in the audit log, with the reason the caller was not told."""
    refusals.record(  # repeated ones are counted, not written one by one
        session,
        actor=f"client:{error.client_id}" if error.client_id else f"anonymous:{remote}",
        organisation_id=error.organisation_id,
        action="client.token",
        object_type="client",
        object_id=error.client_id or error.claimed_client_id,
        detail={"error": error.error, "reason": error.reason[:300]}
        | ({"claimed": True} if error.claimed_client_id else {}),
    )


def _b64decode(part: str) -> bytes:
    if not part or any(c not in _B64URL for c in part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _decode(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise _client_failure("assertion too long")
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _client_failure("not a signed JWT (three parts expected)")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _client_failure("the JWT cannot be decoded") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _client_failure("the JWT header or claims are not objects")
    if header.get("alg") not in ALGORITHMS:
        raise _client_failure(f"alg {str(header.get('alg'))[:20]!r} refused")
    if "crit" in header:
        raise _client_failure("critical header extensions are not supported")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def _verify_signature(
    client: ApiClient, header: dict[str, Any], signing_input: bytes, signature: bytes
) -> None:
    key = serialization.load_pem_public_key(client.public_key.encode())
    alg = header["alg"]
    try:
        if isinstance(key, rsa.RSAPublicKey) and alg == "RS256":
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, rsa.RSAPublicKey) and alg == "PS256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)  # RFC 7518 §3.5
            key.verify(signature, signing_input, pss, hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey) and alg == "ES256" and len(signature) == 64:
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise _client_failure(f"alg {alg} does not fit the client's {client.key_type} key", client)
    except InvalidSignature:
        raise _client_failure("bad signature", client) from None


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _client_failure(f"{name} is not a number")
    return float(value)


def _check_claims(
    client: ApiClient, claims: dict[str, Any], audiences: Collection[str], now: dt.datetime
) -> dt.datetime:
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in audiences for a in given):
        raise _client_failure(f"aud {str(aud)[:200]!r} is not this token endpoint", client)
    t = now.timestamp()
    skew, longest = SKEW.total_seconds(), MAX_ASSERTION_LIFETIME.total_seconds()
    try:
        exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    except OAuthError as e:
        e.about(client)
        raise
    if exp is None:
        raise _client_failure("exp missing", client)
    if exp <= t - skew:
        raise _client_failure("assertion expired", client)
    if exp > t + longest + skew:
        raise _client_failure("exp more than 5 minutes ahead", client)
    if iat is not None and iat > t + skew:
        raise _client_failure("iat in the future", client)
    if nbf is not None and nbf > t + skew:
        raise _client_failure("not valid yet (nbf)", client)
    return dt.datetime.fromtimestamp(exp, dt.UTC)


def _remember_jti(
    session: Session, client: ApiClient, jti: object, exp: dt.datetime, now: dt.datetime
) -> None:
    if not isinstance(jti, str) or not (0 < len(jti) <= MAX_JTI):
        raise _client_failure("jti missing or longer than 200 characters", client)
    # Kept until the assertion could no longer be accepted anyway.
    session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now - SKEW))
    used = session.get(UsedAssertion, (client.id, jti))
    if used is not None:
        raise _client_failure("jti replayed", client)
    try:
        with session.begin_nested():
            session.add(UsedAssertion(client_id=client.id, jti=jti, expires_at=exp + SKEW))
    except IntegrityError:  # the same assertion, at the same moment, on another connection
        raise _client_failure("jti replayed", client) from None


# -- access tokens --------------------------------------------------------------------------------


def authenticate(session: Session, access_token: str | None, now: dt.datetime | None = None) -> Caller:
    """The caller an access token stands for: the client's organisation, the client permissions,
    and the grants the token carries that the organisation still holds."""
    if not access_token or not access_token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("請提供有效之存取權杖", "a valid bearer token is required")
    now = now or utcnow()
    found = session.execute(
        select(AccessToken, ApiClient, Organisation)
        .join(ApiClient, ApiClient.id == AccessToken.client_id)
        .join(Organisation, Organisation.id == AccessToken.organisation_id)
        .where(
            AccessToken.digest == _digest(access_token),
            AccessToken.expires_at > now,
            ApiClient.active,
            Organisation.active,
        )
    ).first()
    if found is None:
        raise Unauthenticated("存取權杖無效或已過期", "the access token is not valid or has expired")
    tok, client, org = found
    held = grants.of(session, org.id)
    return Caller(
        organisation_id=org.id,
        code=org.code,
        role=org.role,
        actor=f"client:{client.client_id}",
        permissions=frozenset(CLIENT_PERMISSIONS),
        grants=grants.parse_scope(tok.scope) & held,
        scopes=frozenset(scopes.parse(tok.scope) & scopes.reading(org.role, held)),
    )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- the client's side ----------------------------------------------------------------------------


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

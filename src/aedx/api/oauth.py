"""The OAuth 2.0 token endpoint: client credentials with a client assertion (``private_key_jwt``,
RFC 6749 §4.4, RFC 7523).

Unlike the rest of the API, this endpoint answers in the OAuth shapes of RFC 6749 §5.1 and §5.2, so
that standard OAuth clients understand it: ``{"access_token", "token_type", "expires_in", "scope"}``
on success, ``{"error", "error_description"}`` with 400 (``invalid_request``,
``unsupported_grant_type``, ``invalid_scope``) or 401 (``invalid_client``) on refusal. Why a client
failed is written to the audit log, never told to the caller.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from aedx.accounts import clients
from aedx.api.ratelimit import Limiter, limiter
from aedx.exchange.platform import Platform

router = APIRouter(tags=["oauth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"
FIELDS = ("grant_type", "client_assertion_type", "client_assertion", "scope", "client_id")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the token type, not a secret
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    error: str
    error_description: str


def audiences(platform: Platform, request: Request) -> set[str]:
    """The URL a client assertion must name as its audience: the configured public base URL's token
    endpoint, or the URL this request came to."""
    base = platform.settings.public_url
    if base:
        return {base.rstrip("/") + clients.TOKEN_PATH}
    return {str(request.url.replace(query="", fragment=""))}


def _form(content_type: str, body: bytes) -> clients.TokenRequest:
    if content_type.split(";")[0].strip().lower() != FORM:
        raise clients.OAuthError("invalid_request", f"content type {content_type[:60]!r}")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise clients.OAuthError("invalid_request", "the form is not UTF-8") from None
    if any(len(v) > 1 for v in fields.values()):  # RFC 6749 §3.2: no parameter twice
        raise clients.OAuthError("invalid_request", "a parameter was given twice")
    one = {name: values[0] for name, values in fields.items() if name in FIELDS}
    return clients.TokenRequest(
        grant_type=one.get("grant_type"),
        client_assertion_type=one.get("client_assertion_type"),
        client_assertion=one.get("client_assertion"),
        scope=one.get("scope"),
        client_id=one.get("client_id"),
    )


def _issue(
    platform: Platform, limiter: Limiter, content_type: str, body: bytes, accepted: set[str], remote: str
) -> Any:
    try:
        form = _form(content_type, body)
        if client_id := claimed_client(form):
            limiter.hit("token_client", client_id)
        with platform.db.transaction() as session:
            issued = clients.token(session, form, accepted)
    except clients.OAuthError as e:
        with platform.db.transaction() as session:  # recorded though the request fails
            clients.record_refusal(session, e, remote)
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_client"'} if e.status == 401 else {}
        return refusal(e.status, e.error, e.description, challenge)
    return JSONResponse(issued.response(), headers=NO_STORE)


def refusal(status: int, error: str, description: str, headers: dict[str, str]) -> JSONResponse:
    """A refusal in the OAuth shape (RFC 6749 §5.2)."""
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=NO_STORE | headers)


def claimed_client(form: clients.TokenRequest) -> str | None:
    """The client id a token request names (``client_id``, else the assertion's unverified ``iss``):
    only to count its requests, never to trust it."""
    if form.client_id:
        return form.client_id[:100]
    try:
        payload = (form.client_assertion or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer[:100] if isinstance(issuer, str) else None


@router.post(
    clients.TOKEN_PATH,
    summary="取得存取權杖 Get an access token (client credentials, private_key_jwt)",
    description=(
        "Form-encoded (`application/x-www-form-urlencoded`): `grant_type=client_credentials`, "
        f"`client_assertion_type={clients.ASSERTION_TYPE}`, `client_assertion` = a JWT signed with the "
        "client's private key (RS256, PS256 or ES256) with `iss` = `sub` = the client id, `aud` = this "
        "endpoint's URL, `exp` at most 5 minutes ahead, a single-use `jti`, optional `iat`/`nbf`; "
        "optional `scope` (space-separated `kind:direction` grants and the reading scopes "
        "`submissions:read`, `cases:read`, `audit:read`) narrows what the organisation may use. "
        "Answers follow RFC 6749 §5.1/§5.2 (not the API's own error shape): "
        '`{"error": "invalid_client"|"invalid_request"|"unsupported_grant_type"|"invalid_scope", '
        '"error_description": …}` with 401 or 400; too many requests from one address or for one client '
        "id get 429 `temporarily_unavailable` with `Retry-After`. The access token is valid for 10 minutes."
    ),
    response_model=TokenResponse,
    responses={status: {"model": OAuthErrorBody} for status in (400, 401, 429)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_assertion_type", "client_assertion"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": [clients.GRANT_TYPE]},
                            "client_assertion_type": {"type": "string", "enum": [clients.ASSERTION_TYPE]},
                            "client_assertion": {"type": "string", "minLength": 1},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request) -> Any:
    platform: Platform = request.app.state.platform
    body = await request.body()
    remote = request.client.host if request.client else "-"
    content_type = request.headers.get("content-type", "")
    accepted = audiences(platform, request)
    return await run_in_threadpool(_issue, platform, limiter(request), content_type, body, accepted, remote)

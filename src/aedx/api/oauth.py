"""The OAuth 2.0 token endpoint: client credentials with a client assertion (``private_key_jwt``,
RFC 6749 §4.4, RFC 7523).

Unlike the rest of the API, this endpoint answers in the OAuth shapes of RFC 6749 §5.1 and §5.2, so
that standard OAuth clients understand it: ``{"access_token", "token_type", "expires_in", "scope"}``
on success, ``{"error", "error_description"}`` with 400 (``invalid_request``,
``unsupported_grant_type``, ``invalid_scope``) or 401 (``invalid_client``) on refusal. Why a client
failed is written to the audit log, never told to the caller.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from aedx.accounts import clients
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


def _issue(platform: Platform, content_type: str, body: bytes, accepted: set[str], remote: str) -> Any:
    try:
        form = _form(content_type, body)
        with platform.db.transaction() as session:
            issued = clients.token(session, form, accepted)
    except clients.OAuthError as e:
        with platform.db.transaction() as session:  # recorded though the request fails
            clients.record_refusal(session, e, remote)
        headers = NO_STORE | (
            {"WWW-Authenticate": 'Bearer error="invalid_client"'} if e.status == 401 else {}
        )
        return JSONResponse(
            {"error": e.error, "error_description": e.description}, status_code=e.status, headers=headers
        )
    return JSONResponse(issued.response(), headers=NO_STORE)


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
        '"error_description": …}` with 401 or 400. The access token is valid for 10 minutes.'
    ),
    response_model=TokenResponse,
    responses={400: {"model": OAuthErrorBody}, 401: {"model": OAuthErrorBody}},
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
                            "client_assertion": {"type": "string"},
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
    return await run_in_threadpool(_issue, platform, content_type, body, audiences(platform, request), remote)

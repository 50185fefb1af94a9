"""What every route needs: the platform, and the caller authenticated from its access token
(``POST /oauth/token``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aedx.accounts import clients
from aedx.api.ratelimit import limiter
from aedx.errors import Unauthenticated
from aedx.exchange.platform import Platform
from aedx.trust import refusals
from aedx.trust.caller import Caller

bearer = HTTPBearer(
    auto_error=False,
    description="An access token from `POST /oauth/token` (client credentials, signed client assertion)",
)


def platform(request: Request) -> Platform:
    found: Platform = request.app.state.platform
    return found


def caller(
    request: Request,
    p: Annotated[Platform, Depends(platform)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    token = credentials.credentials if credentials else None
    with p.db.transaction() as session:
        try:
            found = clients.authenticate(session, token)
        except Unauthenticated:
            found = None
    if found is not None:
        limiter(request).hit("api_client", found.actor)
        return found
    with p.db.transaction() as session:  # the denial is recorded even though the request fails
        refusals.record(  # repeated ones are counted, not written one by one
            session,
            actor=f"anonymous:{request.client.host if request.client else '-'}",
            action="request.authenticate",
            detail={"method": request.method, "path": request.url.path[:200]},
        )
    raise Unauthenticated("請提供有效之存取權杖", "a valid bearer token is required")


PlatformDep = Annotated[Platform, Depends(platform)]
CallerDep = Annotated[Caller, Depends(caller)]

"""What every route needs: the platform, and the caller authenticated from its access token
(``POST /oauth/token``), holding the scope the route needs. Each route names its scope here, in its
caller's type (``SubmissionsReader``, ``Sender``…), so that no endpoint is reached without one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aedx.accounts import clients
from aedx.accounts.scopes import Scope
from aedx.api.ratelimit import limiter
from aedx.errors import Denied, Unauthenticated
from aedx.exchange.platform import Platform
from aedx.trust import audit, refusals
from aedx.trust.caller import Caller, Direction

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
    with p.db.reading() as session:
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


def _scope_refused(p: Platform, request: Request, who: Caller, needed: str) -> Denied:
    with p.db.transaction() as session:  # the refusal is recorded though the request fails
        audit.by_caller(
            session,
            who,
            "request.scope",
            outcome="denied",
            detail={"method": request.method, "path": request.url.path[:200], "needed": needed},
        )
    return Denied(
        f"存取權杖未含所需範圍 {needed}", f"the access token lacks the scope {needed}", code="auth.scope"
    )


def reading(scope: Scope) -> Callable[[Request, Platform, Caller], Caller]:
    """The caller, whose token must carry the reading scope (403 ``auth.scope`` otherwise)."""

    def scoped(
        request: Request, p: Annotated[Platform, Depends(platform)], who: Annotated[Caller, Depends(caller)]
    ) -> Caller:
        if not who.scoped(scope):
            raise _scope_refused(p, request, who, scope.value)
        return who

    return scoped


def exchanging(direction: Direction) -> Callable[[Request, Platform, Caller], Caller]:
    """The caller, whose token must carry at least one ``kind:direction`` scope; which kind is
    checked against the object (the upload's or the package's kind) in the core."""

    def scoped(
        request: Request, p: Annotated[Platform, Depends(platform)], who: Annotated[Caller, Depends(caller)]
    ) -> Caller:
        if not who.exchanges(direction):
            raise _scope_refused(p, request, who, f"<kind>:{direction.value}")
        return who

    return scoped


PlatformDep = Annotated[Platform, Depends(platform)]
CallerDep = Annotated[Caller, Depends(caller)]
SubmissionsReader = Annotated[Caller, Depends(reading(Scope.SUBMISSIONS_READ))]
CasesReader = Annotated[Caller, Depends(reading(Scope.CASES_READ))]
AuditReader = Annotated[Caller, Depends(reading(Scope.AUDIT_READ))]
Sender = Annotated[Caller, Depends(exchanging(Direction.SEND))]
Receiver = Annotated[Caller, Depends(exchanging(Direction.RECEIVE))]

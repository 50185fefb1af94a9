"""OAuth scopes of an access token: what each API endpoint needs.

A token carries two sorts of scope. Exchange scopes are the organisation's grants, ``kind:send``
and ``kind:receive`` (``accounts.grants``); reading scopes open the organisation's own records:
``submissions:read`` (its uploads, their reports and receipts), ``cases:read`` (the case index) and
``audit:read`` (its audit events). A token asked without ``scope`` carries every scope the
organisation may use; a ``scope`` parameter narrows it. Each request is allowed what the token
carries *and* the organisation may still use, so revoking a grant takes effect at once.
"""

from __future__ import annotations

from enum import StrEnum

from aedx.accounts import grants
from aedx.trust.caller import Direction

Pair = grants.Pair


class Scope(StrEnum):
    SUBMISSIONS_READ = "submissions:read"
    CASES_READ = "cases:read"
    AUDIT_READ = "audit:read"


def reading(role: str, held: frozenset[Pair]) -> frozenset[Scope]:
    """The reading scopes an organisation may use: its submissions when it may send (HQ reads
    every one's), the case index for HQ, branches and agencies (the cases they hold or referred),
    and its own audit events always."""
    found = {Scope.AUDIT_READ}
    if role == "hq" or any(direction is Direction.SEND for _, direction in held):
        found.add(Scope.SUBMISSIONS_READ)
    if role in {"hq", "branch", "agency"}:
        found.add(Scope.CASES_READ)
    return frozenset(found)


def parse(scope: str) -> frozenset[Scope]:
    """The reading scopes named in a space-separated OAuth scope; other items are left out."""
    known = {s.value for s in Scope}
    return frozenset(Scope(item) for item in scope.split() if item in known)


def text(pairs: frozenset[Pair], readable: frozenset[Scope]) -> str:
    """A token's scope: its grants (``kind:direction``) then its reading scopes, space-separated."""
    return " ".join(filter(None, [grants.scope_of(pairs), " ".join(sorted(readable))]))

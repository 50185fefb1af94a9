"""Who is asking: an authenticated organisation, through one of its API clients or one of its
people, with the permissions of the role and the organisation's grants. Every query is scoped to
the organisation; every decision asks ``may`` or ``granted``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Direction(StrEnum):
    SEND = "send"  # the organisation may submit files of the kind
    RECEIVE = "receive"  # the organisation may be delivered packages of the kind


@dataclass(frozen=True)
class Caller:
    organisation_id: int
    code: str
    role: str  # the organisation's: hq, branch, agency, partner
    actor: str  # client:<id>, user:<id>, or the operator's command
    permissions: frozenset[str] = field(default_factory=frozenset)
    grants: frozenset[tuple[str, Direction]] = field(default_factory=frozenset)  # (kind, direction)
    # An access token's reading scopes (submissions:read, cases:read, audit:read); None for a
    # person, whom the role alone bounds.
    scopes: frozenset[str] | None = None

    @property
    def is_hq(self) -> bool:
        return self.role == "hq"

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def granted(self, kind: str, direction: Direction) -> bool:
        return (kind, direction) in self.grants

    def scoped(self, scope: str) -> bool:
        """Whether the caller's token carries the reading scope (a person's session always does)."""
        return self.scopes is None or scope in self.scopes

    def exchanges(self, direction: Direction) -> bool:
        """Whether the caller may send (or receive) at least one kind."""
        return any(d is direction for _, d in self.grants)

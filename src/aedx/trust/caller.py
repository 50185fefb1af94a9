"""Who is asking: an authenticated organisation (and, for people, the user), to which every query
is scoped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    organisation_id: int
    code: str
    role: str  # hq, branch, agency, partner
    actor: str  # token:<id>, or the operator's command

    @property
    def is_hq(self) -> bool:
        return self.role == "hq"

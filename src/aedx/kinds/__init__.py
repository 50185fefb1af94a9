"""The registry of exchange kinds: each kind is declared once, in its own module."""

from __future__ import annotations

from aedx.kinds.case_referral import CASE_REFERRAL
from aedx.kinds.payment import PAYMENT
from aedx.kinds.status_feedback import STATUS_FEEDBACK
from aedx.schema import Kind

KINDS: dict[str, Kind] = {k.name: k for k in (CASE_REFERRAL, PAYMENT, STATUS_FEEDBACK)}


class UnknownKind(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown kind {name!r}; known kinds: {', '.join(KINDS)}")


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(name) from None

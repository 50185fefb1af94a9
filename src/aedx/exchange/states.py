"""The submission state machine. Every transition is one transaction that writes its audit event.

received → validating → accepted | rejected;  accepted → routed → delivered → acknowledged.
A submission accepted before a concurrent file opened the same cases is rejected at routing
(accepted → rejected), so the case index never holds a case twice. A submission whose processing
fails ``Settings.job_attempts`` times ends ``failed`` from whatever step it had reached: final, with
its reason, a signed receipt and an alert to HQ, instead of being retried for ever.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from aedx.storage.tables import Submission, utcnow
from aedx.trust import audit


class State(StrEnum):
    RECEIVED = "received"
    VALIDATING = "validating"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ROUTED = "routed"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"


NEXT: dict[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.VALIDATING, State.FAILED}),
    State.VALIDATING: frozenset({State.ACCEPTED, State.REJECTED, State.FAILED}),
    State.ACCEPTED: frozenset({State.ROUTED, State.REJECTED, State.FAILED}),
    State.ROUTED: frozenset({State.DELIVERED, State.FAILED}),
    State.DELIVERED: frozenset({State.ACKNOWLEDGED}),
    State.REJECTED: frozenset(),
    State.ACKNOWLEDGED: frozenset(),
    State.FAILED: frozenset(),
}
FINISHED = frozenset({State.REJECTED, State.DELIVERED, State.ACKNOWLEDGED, State.FAILED})  # no worker needed
OUTCOMES = {State.REJECTED: "rejected", State.FAILED: "failed"}  # the audit outcome, "ok" otherwise


class StaleState(Exception):
    """Another process moved the submission first; the caller re-reads and carries on."""


def transition(
    session: Session,
    submission_id: str,
    to: State,
    *,
    actor: str,
    detail: dict[str, Any] | None = None,
    **changes: Any,
) -> Submission:
    """Move a submission one step, in the caller's transaction, with its audit event."""
    sub = session.get(Submission, submission_id, with_for_update=True)
    if sub is None:
        raise LookupError(submission_id)
    current = State(sub.state)
    if to not in NEXT[current]:
        raise StaleState(f"{submission_id} is {current}, cannot become {to}")
    sub.state = to.value
    sub.updated_at = utcnow()
    for name, value in changes.items():
        setattr(sub, name, value)
    audit.record(
        session,
        actor=actor,
        action=f"submission.{to.value}",
        organisation_id=sub.sender_id,
        object_type="submission",
        object_id=sub.id,
        submission_id=sub.id,
        kind=sub.kind,
        outcome=OUTCOMES.get(to, "ok"),
        detail={"from": current.value} | (detail or {}),
    )
    return sub

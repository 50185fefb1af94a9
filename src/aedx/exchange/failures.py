"""Giving up on a submission: after its last attempt it ends ``failed``, a final state, with its
reason, a signed receipt that says so, and an alert to HQ (and to the sender), instead of being
retried for ever."""

from __future__ import annotations

from aedx import notify
from aedx.exchange.platform import Platform
from aedx.exchange.process import receipt_of
from aedx.exchange.states import FINISHED, State, transition
from aedx.storage.tables import Organisation, Submission
from aedx.trust import receipts

REASON_LENGTH = 500
FAILED_ZH = "平台處理本檔案多次失敗，已停止處理並通知總署；請勿重送，總署將與貴機關聯繫"
FAILED_EN = (
    "the platform failed to process this file repeatedly; it has stopped and alerted HQ. "
    "Do not send it again: HQ will contact your organisation"
)


def reason_of(error: BaseException) -> str:
    """The error as operators read it: its type and message, bounded."""
    return f"{type(error).__name__}: {error}"[:REASON_LENGTH]


def give_up(platform: Platform, submission_id: str, actor: str, *, attempts: int, reason: str) -> State:
    """End the submission ``failed`` (unless another worker finished it first); returns its state."""
    with platform.db.transaction() as session:
        sub = session.get_one(Submission, submission_id)
        sender = session.get_one(Organisation, sub.sender_id)
    if State(sub.state) in FINISHED:
        return State(sub.state)
    receipt = receipt_of(sub, sender, State.FAILED) | {
        "attempts": attempts,
        "message_zh": FAILED_ZH,
        "message_en": FAILED_EN,
    }
    # A receipt of its own: one already given for the acceptance stays as it was signed.
    receipt_key = f"receipts/{sub.id}.failed.p7s"
    platform.blobs.put(receipt_key, [receipts.make(receipt, platform.signer)])
    with platform.db.transaction() as session:
        transition(
            session,
            sub.id,
            State.FAILED,
            actor=actor,
            detail={"attempts": attempts, "reason": reason},
            failure=reason,
            receipt_key=receipt_key,
        )
        notify.failed(session, sub.id)
    return State.FAILED

"""Organisations' webhooks: an https (or http) URL that hears of the organisation's events, each
call a JSON body signed with HMAC-SHA256 under the webhook's own secret.

The signature (see ``sign`` and ``verify``)::

    X-AEDX-Event:      report_ready | rejected | package_ready | file_missing | failed
    X-AEDX-Delivery:   <the message's id: the same on every retry; receivers drop ones seen before>
    X-AEDX-Timestamp:  <Unix seconds when this attempt was signed>
    X-AEDX-Signature:  v1=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>.<body>")>

A receiver recomputes the signature over the raw body, compares it in constant time, refuses a
timestamp more than five minutes from its clock, and drops a delivery id it has already taken:
a captured call replayed later, or altered, is refused.

The secret is shown once, when the webhook is added, and kept sealed with the data keys
(``aedx.trust.vault``), bound to the webhook's row. URLs must be absolute http(s) URLs without
user information; the platform does not follow redirects. Which hosts an organisation may reach
is not restricted further here: the outbound firewall decides that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid
from aedx.storage.tables import OutboxAttempt, OutboxMessage, Webhook, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.trust.vault import Keyring

TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its clock
MAX_URL = 500
PER_ORGANISATION = 10


class BadWebhook(Invalid):
    pass


@dataclass(frozen=True)
class Added:
    webhook: Webhook
    secret: str  # shown once


def _context(webhook: Webhook) -> bytes:
    return f"webhook.secret\x1f{webhook.id}\x1f{webhook.organisation_id}".encode()


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhook("網址須為 http 或 https 開頭之完整網址", "the URL must be an absolute http(s) URL")
    if parts.username or parts.password or any(c.isspace() for c in url):
        raise BadWebhook("網址不得含帳號、密碼或空白", "the URL must not hold credentials or spaces")
    return url


def may_manage(caller: Caller, organisation_id: int) -> bool:
    """HQ for any organisation; an organisation's administrator for their own."""
    if caller.is_hq and caller.may(Permission.ACCOUNTS_MANAGE):
        return True
    return caller.organisation_id == organisation_id and caller.may(Permission.ACCOUNTS_MANAGE_OWN)


def _require(session: Session, caller: Caller, organisation_id: int, action: str) -> None:
    if not may_manage(caller, organisation_id):
        audit.by_caller(session, caller, action, outcome="denied", detail={"reason": "permission"})
        audit.refuse(session, Denied("無權管理此機關之 Webhook", "not permitted to manage these webhooks"))


def add(session: Session, caller: Caller, keyring: Keyring, organisation_id: int, url: str) -> Added:
    _require(session, caller, organisation_id, "webhook.add")
    url = check_url(url)
    if len(listing(session, organisation_id)) >= PER_ORGANISATION:
        raise BadWebhook("Webhook 數量已達上限", "the organisation has as many webhooks as allowed")
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        organisation_id=organisation_id,
        url=url,
        secret_sealed="",
        active=True,
        created_by=caller.actor,
        created_at=utcnow(),
    )
    session.add(hook)
    session.flush()
    hook.secret_sealed = base64.b64encode(keyring.seal(secret.encode(), _context(hook))).decode()
    audit.by_caller(
        session,
        caller,
        "webhook.add",
        object_type="webhook",
        object_id=str(hook.id),
        detail={"organisation_id": organisation_id, "scheme": urlsplit(url).scheme},
    )
    return Added(hook, secret)


def disable(session: Session, caller: Caller, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    _require(session, caller, hook.organisation_id if hook else -1, "webhook.disable")
    assert hook is not None  # noqa: S101 - _require refused otherwise
    if hook.active:
        hook.active = False
        hook.disabled_at = utcnow()
        audit.by_caller(session, caller, "webhook.disable", object_type="webhook", object_id=str(hook.id))
    return hook


def listing(session: Session, organisation_id: int) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook)
            .where(Webhook.organisation_id == organisation_id, Webhook.active.is_(True))
            .order_by(Webhook.id)
        )
    )


@dataclass(frozen=True)
class Attempt:
    message_id: int
    event: str
    state: str
    attempts: int
    at: object  # datetime of the attempt
    status: int | None
    error: str | None


def recent_attempts(session: Session, organisation_id: int, limit: int = 20) -> list[Attempt]:
    """The latest calls to the organisation's webhooks, newest first."""
    rows = session.execute(
        select(OutboxMessage, OutboxAttempt)
        .join(Webhook, Webhook.id == OutboxMessage.webhook_id)
        .join(OutboxAttempt, OutboxAttempt.message_id == OutboxMessage.id)
        .where(Webhook.organisation_id == organisation_id)
        .order_by(OutboxAttempt.id.desc())
        .limit(limit)
    )
    return [Attempt(m.id, m.event, m.state, m.attempts, a.at, a.status, a.error) for m, a in rows]


def secret_of(keyring: Keyring, hook: Webhook) -> bytes:
    return keyring.open(base64.b64decode(hook.secret_sealed), _context(hook))


def sign(secret: bytes, timestamp: int, delivery: str, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.{delivery}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, delivery: str, body: bytes, signature: str, now: float) -> bool:
    """What a receiver does (delivery ids already taken are its own to remember)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), delivery, body), signature)

"""The outbox: e-mails and webhook calls written with their events, sent by workers.

A worker leases one due message at a time (``claim``: on PostgreSQL with ``FOR UPDATE SKIP
LOCKED``, so two workers never lease the same one), commits the lease, sends, and records the
outcome. A worker that dies while sending leaves a lease that runs out after ``LEASE``; another
worker then sends the message again: at least once, never lost. A failure (an SMTP error, a
timeout, an answer other than 2xx) is retried after an exponential back-off; after
``MAX_ATTEMPTS`` the message is given up as ``failed``, each attempt kept in ``outbox_attempts``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aedx.exchange import expected
from aedx.exchange.platform import Platform
from aedx.notify import digest, mail, webhooks
from aedx.storage.tables import OutboxAttempt, OutboxMessage, User, Webhook, utcnow
from aedx.trust import audit
from aedx.workdays import calendar

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 6
FIRST_BACKOFF = dt.timedelta(seconds=30)
MAX_BACKOFF = dt.timedelta(hours=1)
TIMEOUT = 10.0


class Failed(Exception):
    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(error)
        self.status = status


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, … up to an hour."""
    wait: dt.timedelta = FIRST_BACKOFF * (2 ** max(0, min(attempts, 20) - 1))
    return min(MAX_BACKOFF, wait)


def claim(platform: Platform, actor: str, now: dt.datetime) -> int | None:
    """Lease the next due message; its id, or None when nothing is due."""
    with platform.db.transaction() as session:
        stmt = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == "pending",
                OutboxMessage.due_at <= now,
                (OutboxMessage.leased_until.is_(None)) | (OutboxMessage.leased_until < now),
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(1)
        )
        if not platform.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        found = session.scalar(stmt)
        if found is None:
            return None
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == found)
            .values(leased_until=now + LEASE, leased_by=actor[:100])
        )
        return int(found)


def work(
    platform: Platform,
    actor: str,
    smtp: mail.Smtp | None,
    *,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> int:
    """Send what is due, up to ``limit`` messages; returns how many were tried."""
    n = 0
    while n < limit:
        at = now or utcnow()
        message_id = claim(platform, actor, at)
        if message_id is None:
            break
        send(platform, message_id, smtp, at)
        n += 1
    return n


def send(platform: Platform, message_id: int, smtp: mail.Smtp | None, now: dt.datetime) -> str:
    """Send one leased message and record the outcome; returns its new state."""
    with platform.db.transaction() as session:
        message = session.get_one(OutboxMessage, message_id)
        channel, body, user_id, webhook_id = (
            message.channel,
            message.body,
            message.user_id,
            message.webhook_id,
        )
        user = session.get(User, user_id) if user_id is not None else None
        hook = session.get(Webhook, webhook_id) if webhook_id is not None else None
        address = user.email if user is not None and user.active else None
        url = hook.url if hook is not None and hook.active else None
        secret = webhooks.secret_of(platform.keyring, hook) if hook is not None and url else None
    status: int | None = None
    try:
        if channel == "email":
            if smtp is None or address is None:
                return _finish(
                    platform,
                    message_id,
                    now,
                    "skipped",
                    "no SMTP host configured" if smtp is None else "the person's account is closed",
                )
            payload = json.loads(body)
            base = platform.settings.public_url or ""
            smtp.send(
                mail.compose(smtp.sender, address, payload["event"], payload["link"], payload["params"], base)
            )
        else:
            if url is None or secret is None:
                return _finish(platform, message_id, now, "skipped", "the webhook was disabled")
            status = _call(url, secret, message_id, body)
    except Exception as e:  # any failure of the far end is retried
        error = e.args[0] if isinstance(e, Failed) else f"{type(e).__name__}: {e}"
        status = e.status if isinstance(e, Failed) else status
        return _failed(platform, message_id, now, str(error)[:500], status)
    return _finish(platform, message_id, now, "sent", None, status)


def _call(url: str, secret: bytes, message_id: int, body: str) -> int:
    raw = body.encode()
    stamp = int(time.time())
    event = json.loads(body).get("event", "")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "aedx-webhook/1",
        "X-AEDX-Event": str(event),
        "X-AEDX-Delivery": str(message_id),
        "X-AEDX-Timestamp": str(stamp),
        "X-AEDX-Signature": webhooks.sign(secret, stamp, str(message_id), raw),
    }
    answer = httpx.post(url, content=raw, headers=headers, timeout=TIMEOUT, follow_redirects=False)
    if not 200 <= answer.status_code < 300:
        raise Failed(f"HTTP {answer.status_code}", answer.status_code)
    return answer.status_code


def _attempt(
    session: Session, message_id: int, now: dt.datetime, status: int | None, error: str | None
) -> None:
    session.add(OutboxAttempt(message_id=message_id, at=now, status=status, error=error))


def _finish(
    platform: Platform,
    message_id: int,
    now: dt.datetime,
    state: str,
    error: str | None,
    status: int | None = None,
) -> str:
    with platform.db.transaction() as session:
        message = session.get_one(OutboxMessage, message_id, with_for_update=True)
        message.attempts += 1
        message.state, message.last_error, message.finished_at = state, error, now
        message.leased_until = message.leased_by = None
        _attempt(session, message_id, now, status, error)
    return state


def _failed(platform: Platform, message_id: int, now: dt.datetime, error: str, status: int | None) -> str:
    with platform.db.transaction() as session:
        message = session.get_one(OutboxMessage, message_id, with_for_update=True)
        message.attempts += 1
        message.last_error = error
        message.leased_until = message.leased_by = None
        _attempt(session, message_id, now, status, error)
        if message.attempts < MAX_ATTEMPTS:
            message.due_at = now + backoff(message.attempts)
            return "pending"
        message.state, message.finished_at = "failed", now
        audit.record(
            session,
            actor="notify",
            action=f"notify.{message.channel}",
            outcome="failed",
            object_type="outbox",
            object_id=str(message_id),
            detail={"attempts": message.attempts, "error": error},
        )
        log.warning("outbox message %s given up after %s attempts: %s", message_id, message.attempts, error)
        return "failed"


class Notifier:
    """The notifications part of a running worker: every ``every`` seconds it notices missing
    expected files, makes the daily digests once their hour has come (``aedx.notify.digest``)
    and sends the outbox's due messages. A failure is logged, never raised."""

    def __init__(self, platform: Platform, actor: str, every: float = 5.0) -> None:
        self.platform = platform
        self.actor = actor
        self.every = every
        self.smtp = mail.Smtp.from_env()
        self._next = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        try:
            with self.platform.db.transaction() as session:
                expected.check(session, utcnow(), calendar(self.platform.settings.holiday_calendar))
            digest.make_due(self.platform)
            work(self.platform, self.actor, self.smtp, limit=20)
        except Exception:
            log.exception("notifications failed")

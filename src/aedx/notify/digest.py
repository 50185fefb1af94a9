"""The daily digest: one e-mail a day to each person who chose it for some events, summarising the
notices of those events since the last one (counts per event, then each file with its link).

A notice a person wants in the digest waits in the outbox as a ``held`` entry (``events.emit``).
From ``Settings.digest_hour`` (Taipei) each day, a running worker gathers each person's entries made
before that hour into one e-mail and puts it in the outbox, which sends it as any other e-mail. The
day's digest is recorded in ``notification_digests`` in the same transaction, one row per person and
day with that pair as its key: a second worker, or the same one after a restart, finds it made
(or is refused by the key) and does nothing, so a person gets at most one digest a day. A person
without entries gets none; entries made after the hour wait for the next day's digest. An entry
withdrawn before the hour is left out; a package taken before it is listed as taken.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aedx.exchange.platform import Platform
from aedx.settings import TAIPEI
from aedx.storage.tables import NotificationDigest, OutboxMessage, utcnow

EVENT = "digest"
LINK = "/portal/notifications"


class _Nothing(Exception):
    """No entries left for the person: leave without recording a digest."""


def cutoff(day: dt.date, hour: int) -> dt.datetime:
    """When the day's digests go: the hour on that day in Taipei, in UTC."""
    return dt.datetime.combine(day, dt.time(hour), TAIPEI).astimezone(dt.UTC)


def due_day(now: dt.datetime, hour: int) -> dt.date | None:
    """The Taipei day whose digests are due at ``now``; None before the day's hour."""
    day = now.astimezone(TAIPEI).date()
    return day if now >= cutoff(day, hour) else None


def make_due(platform: Platform, now: dt.datetime | None = None) -> int:
    """Make the digests due at ``now`` that nobody made yet; returns how many were made."""
    at = now or utcnow()
    hour = platform.settings.digest_hour
    day = due_day(at, hour)
    if day is None:
        return 0
    until = cutoff(day, hour)
    with platform.db.transaction() as session:
        made = select(NotificationDigest.user_id).where(NotificationDigest.day == day)
        people = session.scalars(
            select(OutboxMessage.user_id)
            .where(
                OutboxMessage.channel == "digest",
                OutboxMessage.state == "held",
                OutboxMessage.created_at < until,
                OutboxMessage.user_id.is_not(None),
                OutboxMessage.user_id.not_in(made),
            )
            .distinct()
        ).all()
    return sum(make(platform, int(p), day, until, at) for p in sorted(p for p in people if p is not None))


def make(platform: Platform, user_id: int, day: dt.date, until: dt.datetime, now: dt.datetime) -> bool:
    """The person's digest of ``day``: its entries made before ``until`` in one e-mail, recorded
    with the day. False when it was made already (here or by another worker) or has no entries."""
    try:
        with platform.db.transaction() as session:
            record = NotificationDigest(user_id=user_id, day=day, entries=0, made_at=now)
            session.add(record)
            session.flush()  # the day's digest made already: refused by its key
            entries = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.user_id == user_id,
                    OutboxMessage.channel == "digest",
                    OutboxMessage.state == "held",
                    OutboxMessage.created_at < until,
                )
                .order_by(OutboxMessage.id)
            ).all()
            if not entries:
                raise _Nothing
            local = until.astimezone(TAIPEI)
            params = {
                "day": day.isoformat(),
                "until": local.strftime("%H:%M"),
                "items": [json.loads(e.body) for e in entries],
            }
            body = {"event": EVENT, "link": LINK, "params": params}
            message = OutboxMessage(
                channel="email",
                event=EVENT,
                body=json.dumps(body, ensure_ascii=False),
                user_id=user_id,
                state="pending",
                attempts=0,
                due_at=now,
            )
            session.add(message)
            session.flush()
            for e in entries:
                e.state, e.finished_at = "digested", now
            record.entries, record.message_id = len(entries), message.id
    except (IntegrityError, _Nothing):
        return False
    return True

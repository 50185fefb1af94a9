"""Events that notify people: who hears of them, by which channel, and what is written for each.

An event concerns one organisation. Its people who hold the event's permission hear of it in the
portal and by e-mail, as each has chosen (``preferences``; without a choice the defaults apply);
the organisation's webhooks hear of every event. Everything is written in the caller's
transaction, with the change that caused it: the e-mails and webhook calls go to the outbox,
which a worker sends (``aedx.notify.outbox``). Nothing personal is written: kinds, identifiers,
counts and days only.

A person chooses for each event's e-mail: none, one each time, or the event in one daily digest
(``aedx.notify.digest``); a digest entry waits in the outbox, ``held``, until the day's digest.

Notices stay true. Each names its ``subject`` (``submission:<id>``, ``delivery:<id>``):

- one submission gives its sender one decision notice. Acceptance is announced when the file is
  routed, once no concurrent file can still turn it into a rejection; a decision that changes
  later (a routed file that the platform then gives up on) withdraws the earlier notice: it is no
  longer listed nor counted, and its e-mail or digest entry not yet sent is withdrawn too;
- a waiting package's notice is settled when the package is downloaded completely, then when it
  is acknowledged (in the portal or by the organisation's API client): it stays listed, saying
  when and through which it was taken, is no longer counted as unread, and its e-mail not yet
  sent is withdrawn (a digest lists it as taken). Webhooks hear every event as it happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aedx.accounts.organisations import HQ_CODE
from aedx.accounts.roles import ROLE_PERMISSIONS, Permission
from aedx.storage.tables import (
    Delivery,
    Notification,
    NotificationPreference,
    Organisation,
    OutboxMessage,
    Submission,
    User,
    Webhook,
    utcnow,
)


class Event(StrEnum):
    REPORT_READY = "report_ready"  # a submission validated: accepted, perhaps with warnings
    REJECTED = "rejected"  # a submission rejected, with its report
    PACKAGE_READY = "package_ready"  # a package waits in the organisation's inbox
    FILE_MISSING = "file_missing"  # an expected file did not arrive in time
    FAILED = "failed"  # the platform gave up processing a submission (HQ and the sender hear)


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"  # an e-mail each time
    DIGEST = "digest"  # in the daily digest e-mail instead (never with EMAIL)


PERMISSIONS: dict[Event, Permission] = {
    Event.REPORT_READY: Permission.SUBMISSIONS_READ,
    Event.REJECTED: Permission.SUBMISSIONS_READ,
    Event.PACKAGE_READY: Permission.DELIVERIES_READ,
    Event.FILE_MISSING: Permission.SUBMISSIONS_READ,
    Event.FAILED: Permission.SUBMISSIONS_READ,
}
DEFAULTS: dict[Channel, frozenset[Event]] = {
    Channel.IN_APP: frozenset(Event),
    Channel.EMAIL: frozenset({Event.REJECTED, Event.FILE_MISSING, Event.FAILED}),
    Channel.DIGEST: frozenset(),
}
DECISIONS = (Event.REPORT_READY, Event.REJECTED)  # what one submission's sender hears of, once
INBOX = "/portal/inbox"
DASHBOARD = "/portal/"


@dataclass(frozen=True)
class Notice:
    event: Event
    organisation_id: int
    link: str  # the portal page concerned
    params: Mapping[str, Any]  # no personal data
    subject: str | None = None  # what it is about: submission:<id>, delivery:<id>


def submission_link(submission_id: str) -> str:
    return f"/portal/submissions/{submission_id}"


def submission_subject(submission_id: str) -> str:
    return f"submission:{submission_id}"


def delivery_subject(delivery_id: str) -> str:
    return f"delivery:{delivery_id}"


def decided(session: Session, submission_id: str) -> None:
    """A submission was rejected, or accepted and routed (called with its transition): its
    sender's one decision notice, in place of any earlier one."""
    sub = session.get_one(Submission, submission_id, populate_existing=True)
    event = Event.REJECTED if sub.state == "rejected" else Event.REPORT_READY
    subject = submission_subject(sub.id)
    withdraw(session, subject, DECISIONS)
    params = {
        "submission_id": sub.id,
        "filename": sub.filename,  # the name the organisation gave its file, so people know which
        "kind": sub.kind,
        "records": sub.records,
        "error_rows": sub.error_rows,
        "warning_rows": sub.warning_rows,
    }
    emit(session, Notice(event, sub.sender_id, submission_link(sub.id), params, subject))


def failed(session: Session, submission_id: str) -> None:
    """The platform gave up on a submission (called with its transition): HQ is alerted, and
    the sender told its file will not go further; an acceptance announced before is withdrawn."""
    sub = session.get_one(Submission, submission_id)
    params = {"submission_id": sub.id, "kind": sub.kind, "sender": _code(session, sub.sender_id)}
    subject = submission_subject(sub.id)
    withdraw(session, subject, DECISIONS)
    hq = session.scalar(select(Organisation.id).where(Organisation.code == HQ_CODE))
    for organisation_id in dict.fromkeys(o for o in (hq, sub.sender_id) if o is not None):
        emit(session, Notice(Event.FAILED, organisation_id, submission_link(sub.id), params, subject))


def _code(session: Session, organisation_id: int) -> str:
    return session.get_one(Organisation, organisation_id).code


def packages_ready(session: Session, deliveries: Iterable[Delivery]) -> None:
    """Packages were put into their recipients' inboxes (called as they are released)."""
    for d in deliveries:
        params = {"delivery_id": d.id, "submission_id": d.submission_id, "kind": d.kind, "records": d.records}
        emit(session, Notice(Event.PACKAGE_READY, d.recipient_id, INBOX, params, delivery_subject(d.id)))


def taken(session: Session, delivery_id: str, how: str, actor: str) -> None:
    """A package was downloaded completely, or acknowledged (``how``), by ``actor`` (called with
    it): its notices are settled, saying so."""
    by = "api" if actor.startswith("client:") else "portal" if actor.startswith("user:") else "operator"
    settle(session, delivery_subject(delivery_id), how, by)


def withdraw(session: Session, subject: str, withdrawn: Iterable[Event]) -> int:
    """Withdraw the subject's notices of these events: no longer listed, their e-mails and digest
    entries not yet sent withdrawn (webhooks keep what happened). Returns the notices withdrawn."""
    names = [e.value for e in withdrawn]
    now = utcnow()
    done = session.execute(
        update(Notification)
        .where(
            Notification.subject == subject,
            Notification.event.in_(names),
            Notification.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.subject == subject,
            OutboxMessage.event.in_(names),
            OutboxMessage.channel.in_(["email", "digest"]),
            OutboxMessage.state.in_(["pending", "held"]),
            OutboxMessage.leased_until.is_(None) | (OutboxMessage.leased_until < now),  # not in flight
        )
        .values(state="withdrawn", finished_at=now)
    )
    return done.rowcount or 0  # type: ignore[attr-defined]


def settle(session: Session, subject: str, how: str, by: str) -> None:
    """What the subject's notices asked for is done (``how``, through ``by``): they say so and
    are no longer unread; an e-mail not yet sent is withdrawn, a digest entry says it too."""
    now = utcnow()
    session.execute(
        update(Notification)
        .where(Notification.subject == subject, Notification.withdrawn_at.is_(None))
        .values(settled_at=now, settled_as=how, settled_by=by)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.subject == subject,
            OutboxMessage.channel == "email",
            OutboxMessage.state == "pending",
            OutboxMessage.leased_until.is_(None) | (OutboxMessage.leased_until < now),  # not in flight
        )
        .values(state="withdrawn", finished_at=now)
    )
    held = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.subject == subject, OutboxMessage.channel == "digest", OutboxMessage.state == "held"
        )
    )
    for entry in held:
        body = json.loads(entry.body)
        body["settled"] = {"as": how, "by": by, "at": now.isoformat()}
        entry.body = json.dumps(body, ensure_ascii=False)


def emit(session: Session, notice: Notice) -> int:
    """Notify the organisation's people (as each prefers) and its webhooks; returns how many
    people were notified in the portal."""
    roles = [r.value for r, granted in ROLE_PERMISSIONS.items() if PERMISSIONS[notice.event] in granted]
    people = session.scalars(
        select(User.id)
        .where(User.organisation_id == notice.organisation_id, User.active.is_(True), User.role.in_(roles))
        .order_by(User.id)
    ).all()
    chosen = _choices(session, list(people), notice.event)
    params = json.dumps(dict(notice.params), ensure_ascii=False, sort_keys=True)
    now = utcnow()
    shown = 0
    for user_id in people:
        wants = chosen.get(user_id, {})
        if wants.get(Channel.IN_APP, notice.event in DEFAULTS[Channel.IN_APP]):
            session.add(
                Notification(
                    user_id=user_id,
                    organisation_id=notice.organisation_id,
                    event=notice.event.value,
                    link=notice.link,
                    params=params,
                    created_at=now,
                    subject=notice.subject,
                )
            )
            shown += 1
        body = {"event": notice.event.value, "link": notice.link, "params": dict(notice.params)}
        text = json.dumps(body, ensure_ascii=False)
        if wants.get(Channel.EMAIL, notice.event in DEFAULTS[Channel.EMAIL]):
            session.add(_message("email", notice, text, user_id=user_id))
        elif wants.get(Channel.DIGEST, notice.event in DEFAULTS[Channel.DIGEST]):
            session.add(_message("digest", notice, text, user_id=user_id, state="held"))
    hooks = session.scalars(
        select(Webhook.id).where(Webhook.organisation_id == notice.organisation_id, Webhook.active.is_(True))
    ).all()
    for hook in hooks:
        body = {
            "event": notice.event.value,
            "occurred_at": now.isoformat(),
            "link": notice.link,
            "data": dict(notice.params),
        }
        session.add(_message("webhook", notice, json.dumps(body, ensure_ascii=False), webhook_id=hook))
    return shown


def _message(
    channel: str,
    notice: Notice,
    body: str,
    *,
    user_id: int | None = None,
    webhook_id: int | None = None,
    state: str = "pending",
) -> OutboxMessage:
    return OutboxMessage(
        channel=channel,
        event=notice.event.value,
        body=body,
        user_id=user_id,
        webhook_id=webhook_id,
        state=state,
        attempts=0,
        due_at=utcnow(),
        subject=notice.subject,
    )


def _choices(session: Session, people: list[int], event: Event) -> dict[int, dict[Channel, bool]]:
    found: dict[int, dict[Channel, bool]] = {}
    if not people:
        return found
    rows = session.execute(
        select(
            NotificationPreference.user_id, NotificationPreference.channel, NotificationPreference.enabled
        ).where(NotificationPreference.user_id.in_(people), NotificationPreference.event == event.value)
    )
    for user_id, channel, enabled in rows:
        if channel in Channel.__members__.values():
            found.setdefault(user_id, {})[Channel(channel)] = enabled
    return found


# --- a person's preferences and notifications


def preferences(session: Session, user_id: int) -> dict[tuple[Event, Channel], bool]:
    """Every (event, channel) with the person's choice or the default."""
    chosen = {
        (p.event, p.channel): p.enabled
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    }
    return {(e, c): chosen.get((e.value, c.value), e in DEFAULTS[c]) for e in Event for c in Channel}


def set_preferences(session: Session, user_id: int, enabled: set[tuple[Event, Channel]]) -> None:
    """Keep the person's choice for every (event, channel): on when in ``enabled``, off otherwise;
    an e-mail each time wins over the digest."""
    enabled = {(e, c) for e, c in enabled if c is not Channel.DIGEST or (e, Channel.EMAIL) not in enabled}
    for e in Event:
        for c in Channel:
            row = session.get(NotificationPreference, (user_id, e.value, c.value))
            if row is None:
                session.add(
                    NotificationPreference(
                        user_id=user_id, event=e.value, channel=c.value, enabled=(e, c) in enabled
                    )
                )
            else:
                row.enabled = (e, c) in enabled


def listing(
    session: Session, user_id: int, *, before: int | None = None, limit: int = 25
) -> list[Notification]:
    """The person's notifications, newest first, ``limit`` of them older than ``before``;
    withdrawn ones are not listed."""
    stmt = select(Notification).where(Notification.user_id == user_id, Notification.withdrawn_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread(session: Session, user_id: int) -> int:
    """The person's notifications not yet read that still call for attention: neither withdrawn
    nor settled."""
    return (
        session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id,
                Notification.read_at.is_(None),
                Notification.withdrawn_at.is_(None),
                Notification.settled_at.is_(None),
            )
        )
        or 0
    )


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the person's notifications read (all of them when no id); returns how many."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return session.execute(stmt.values(read_at=utcnow())).rowcount or 0  # type: ignore[attr-defined]

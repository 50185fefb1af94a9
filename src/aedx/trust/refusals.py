"""Repeated refusals in the audit log: one event, not one each, and never a lost count.

The first refusal of an actor (``anonymous:<address>``, ``client:<id>``) and action, about one
organisation and object (the client a token request named), is written at once. Further ones within
``WINDOW`` are counted in ``refusal_windows``; the count is written as one event
(``detail.repeats``, first and last time) by the first refusal after the window, or by ``flush``
(the worker's sweep, ``aedx audit seal``). A flood of bad tokens thus costs a row per minute per
caller, while the audit log still says how many there were."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aedx.storage.tables import RefusalWindow, utcnow
from aedx.trust import audit

WINDOW = dt.timedelta(seconds=60)


def _key(actor: str, action: str, organisation_id: int | None, object_id: str | None) -> str:
    return hashlib.sha256(f"{actor}\x00{action}\x00{organisation_id}\x00{object_id}".encode()).hexdigest()


def _actor_organisation(actor: str, organisation_id: int | None) -> int | None:
    """A client acts for its organisation; an anonymous caller (one that only named a client it
    could not prove to be) for none, though the event is shown to the organisation it named."""
    return organisation_id if actor.startswith("client:") else None


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    organisation_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """A refusal: written, or counted when the same actor was refused the same action on the same
    object lately."""
    now = now or utcnow()
    key = _key(actor, action, organisation_id, object_id)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {"key": key, "actor": actor, "action": action, "organisation_id": organisation_id,
              "object_type": object_type, "object_id": object_id,
              "repeats": 0, "opened_at": now, "closes_at": now + WINDOW}  # fmt: skip
    opened = session.execute(
        insert(RefusalWindow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(RefusalWindow.key)
    ).first()
    window = session.scalars(select(RefusalWindow).where(RefusalWindow.key == key).with_for_update()).one()
    if opened is not None or window.closes_at <= now:
        _write_repeats(session, window)
        window.repeats, window.opened_at, window.closes_at = 0, now, now + WINDOW
        audit.record(session, actor=actor, action=action, outcome="denied",
                     actor_organisation_id=_actor_organisation(actor, organisation_id),
                     organisation_id=organisation_id, object_type=object_type, object_id=object_id,
                     detail=detail)  # fmt: skip
        return
    window.repeats += 1
    window.detail = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None


def _write_repeats(session: Session, window: RefusalWindow) -> None:
    if window.repeats <= 0:
        return
    detail = json.loads(window.detail) if window.detail else {}
    detail |= {"repeats": window.repeats, "since": window.opened_at.isoformat()}
    audit.record(session, actor=window.actor, action=window.action, outcome="denied",
                 actor_organisation_id=_actor_organisation(window.actor, window.organisation_id),
                 organisation_id=window.organisation_id, object_type=window.object_type,
                 object_id=window.object_id, detail=detail)  # fmt: skip
    window.repeats = 0


def flush(session: Session, now: dt.datetime | None = None) -> int:
    """Write the counts of the windows that have closed, and forget those windows; returns how many
    refusals were written."""
    now = now or utcnow()
    closed = session.scalars(
        select(RefusalWindow).where(RefusalWindow.closes_at <= now).with_for_update(skip_locked=True)
    ).all()
    written = sum(w.repeats for w in closed)
    for window in closed:
        _write_repeats(session, window)
    if closed:
        session.flush()
        session.execute(delete(RefusalWindow).where(RefusalWindow.key.in_([w.key for w in closed])))
    return written

"""Who an audit event's actor is, in words: the audit log keeps ``user:<id>`` and
``client:<client id>``, people search and read by username, name, client id or organisation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aedx.storage.tables import ApiClient, Organisation, User

MATCHED_AT_MOST = 500  # a search word as short as "a" must not turn into a huge IN list


@dataclass(frozen=True)
class Actors:
    """The actor strings and the acting organisations a search word stands for."""

    actors: tuple[str, ...]
    organisation_ids: tuple[int, ...]


def matching(session: Session, text: str) -> Actors:
    """The people (username or name), clients (client id or label) and organisations (code or
    name) whose words contain ``text``, and ``text`` itself as a recorded actor."""
    word = text.strip().casefold()
    people = session.scalars(
        select(User.id)
        .where(
            or_(
                func.lower(User.username).contains(word, autoescape=True),
                User.full_name.contains(text.strip(), autoescape=True),
            )
        )
        .limit(MATCHED_AT_MOST)
    )
    clients = session.scalars(
        select(ApiClient.client_id)
        .where(
            or_(
                func.lower(ApiClient.client_id) == word,
                func.lower(ApiClient.label).contains(word, autoescape=True),
            )
        )
        .limit(MATCHED_AT_MOST)
    )
    organisations = session.scalars(
        select(Organisation.id)
        .where(
            or_(
                func.lower(Organisation.code) == word,
                Organisation.name.contains(text.strip(), autoescape=True),
            )
        )
        .limit(MATCHED_AT_MOST)
    )
    actors = [text.strip(), *(f"user:{i}" for i in people), *(f"client:{c}" for c in clients)]
    return Actors(tuple(actors), tuple(organisations))


def labels(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """``王小明 (chen.mei)`` for a person, ``label (client id)`` for a client, by actor string."""
    wanted = {a for a in actors if len(a) < 60}
    ids = {int(a[5:]) for a in wanted if a.startswith("user:") and a[5:].isdigit()}
    client_ids = {a[7:] for a in wanted if a.startswith("client:")}
    found: dict[str, str] = {}
    if ids:
        for i, name, username in session.execute(
            select(User.id, User.full_name, User.username).where(User.id.in_(ids))
        ):
            found[f"user:{i}"] = f"{name} ({username})"
    if client_ids:
        for client_id, label in session.execute(
            select(ApiClient.client_id, ApiClient.label).where(ApiClient.client_id.in_(client_ids))
        ):
            found[f"client:{client_id}"] = f"{label} ({client_id})" if label else client_id
    return found

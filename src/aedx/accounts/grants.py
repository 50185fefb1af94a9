"""Grants: which exchange kinds an organisation may send and receive (organisation × kind ×
direction). Deny by default: an organisation without a grant neither sends nor receives the kind.

Only HQ's administrators (``Permission.ACCOUNTS_MANAGE``) grant and revoke; every change and every
refused attempt is audited. The reference set follows the kinds' own declarations — whoever a kind
names as its sender may send it, whoever it names as its recipient may receive it — and is applied
by ``apply_defaults``.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import organisations as orgs
from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid
from aedx.kinds import KINDS
from aedx.storage.tables import Grant, Organisation
from aedx.trust import audit
from aedx.trust.caller import Caller, Direction

Pair = tuple[str, Direction]  # (kind, direction)


def scope_of(pairs: frozenset[Pair] | set[Pair]) -> str:
    """Grants as an OAuth scope: ``kind:direction`` items, space-separated, sorted."""
    return " ".join(sorted(f"{kind}:{direction.value}" for kind, direction in pairs))


def parse_scope(scope: str) -> frozenset[Pair]:
    """An OAuth scope of ``kind:direction`` items; items that name no known kind or direction are
    left out."""
    pairs = set()
    for item in scope.split():
        kind, _, direction = item.partition(":")
        if kind in KINDS and direction in {d.value for d in Direction}:
            pairs.add((kind, Direction(direction)))
    return frozenset(pairs)


def defaults() -> dict[str, frozenset[Pair]]:
    """The reference grants per organisation role, from the kinds' declarations: each kind that is
    exchanged through the platform may be sent by its ``sender_role`` and received by its
    ``recipient_role``."""
    by_role: dict[str, set[Pair]] = defaultdict(set)
    for kind in KINDS.values():
        if kind.routing is None:  # not exchanged through the platform yet
            continue
        by_role[kind.sender_role].add((kind.name, Direction.SEND))
        by_role[kind.recipient_role].add((kind.name, Direction.RECEIVE))
    return {role: frozenset(pairs) for role, pairs in by_role.items()}


def of(session: Session, organisation_id: int) -> frozenset[Pair]:
    """The organisation's grants now."""
    rows = session.execute(
        select(Grant.kind, Grant.direction).where(Grant.organisation_id == organisation_id)
    ).all()
    return frozenset((kind, Direction(direction)) for kind, direction in rows)


def holders(session: Session, kind: str, direction: Direction) -> frozenset[str]:
    """The codes of the active organisations granted the kind in the direction."""
    codes = session.scalars(
        select(Organisation.code)
        .join(Grant, Grant.organisation_id == Organisation.id)
        .where(Grant.kind == kind, Grant.direction == direction.value, Organisation.active)
    ).all()
    return frozenset(codes)


def listing(session: Session, code: str | None = None) -> list[tuple[str, str, Direction]]:
    """(organisation code, kind, direction), by code, kind and direction."""
    stmt = (
        select(Organisation.code, Grant.kind, Grant.direction)
        .join(Grant, Grant.organisation_id == Organisation.id)
        .order_by(Organisation.code, Grant.kind, Grant.direction)
    )
    if code is not None:
        stmt = stmt.where(Organisation.code == code)
    return [(c, k, Direction(d)) for c, k, d in session.execute(stmt)]


def grant(session: Session, caller: Caller, code: str, kind: str, direction: Direction) -> bool:
    """Allow the organisation the kind in the direction; False when it held the grant already."""
    org = _managed(session, caller, "grant.add", code, kind, direction)
    if (kind, direction) in of(session, org.id):
        return False
    session.add(Grant(organisation_id=org.id, kind=kind, direction=direction.value))
    session.flush()
    _record(session, caller, "grant.add", org, kind, direction)
    return True


def revoke(session: Session, caller: Caller, code: str, kind: str, direction: Direction) -> bool:
    """Withdraw a grant; tokens already issued lose it at once. False when there was none."""
    org = _managed(session, caller, "grant.revoke", code, kind, direction)
    row = session.scalar(
        select(Grant).where(
            Grant.organisation_id == org.id, Grant.kind == kind, Grant.direction == direction.value
        )
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    _record(session, caller, "grant.revoke", org, kind, direction)
    return True


def give_defaults(session: Session, caller: Caller, org: Organisation) -> list[Pair]:
    """Give a new organisation the reference grants of its kind (``defaults``), each audited as
    a grant given by hand is; returns them, sorted. The caller's right to create it was checked."""
    given = sorted(defaults().get(org.role, frozenset()) - of(session, org.id))
    session.add_all(Grant(organisation_id=org.id, kind=k, direction=d.value) for k, d in given)
    session.flush()
    for kind, direction in given:
        _record(session, caller, "grant.add", org, kind, direction, reason="defaults")
    return given


def apply_defaults(session: Session, caller: Caller) -> int:
    """Give every active organisation the reference grants of its role that it lacks (nothing is
    taken away); returns how many grants were added. One audit event per organisation changed."""
    _require(session, caller, "grant.defaults", None)
    reference = defaults()
    held: dict[int, set[Pair]] = defaultdict(set)
    for org_id, kind, direction in session.execute(
        select(Grant.organisation_id, Grant.kind, Grant.direction)
    ):
        held[org_id].add((kind, Direction(direction)))
    added = 0
    organisations = session.scalars(
        select(Organisation).where(Organisation.active).order_by(Organisation.id)
    ).all()
    for org in organisations:
        missing = sorted(reference.get(org.role, frozenset()) - held[org.id])
        if not missing:
            continue
        session.add_all(Grant(organisation_id=org.id, kind=k, direction=d.value) for k, d in missing)
        audit.by_caller(
            session,
            caller,
            "grant.defaults",
            organisation_id=org.id,
            object_type="organisation",
            object_id=org.code,
            detail={"added": scope_of(set(missing))},
        )
        added += len(missing)
    session.flush()
    return added


def _managed(
    session: Session, caller: Caller, action: str, code: str, kind: str, direction: Direction
) -> Organisation:
    _require(session, caller, action, code)
    if kind not in KINDS:
        raise Invalid(f"不支援的交換類別 {kind}", f"unknown exchange kind {kind}")
    return orgs.get(session, code)


def _require(session: Session, caller: Caller, action: str, code: str | None) -> None:
    if caller.may(Permission.ACCOUNTS_MANAGE):
        return
    audit.by_caller(session, caller, action, outcome="denied", object_type="organisation", object_id=code)
    audit.refuse(session, Denied("僅行政執行署管理者可管理授權", "only HQ's administrators manage grants"))


def _record(
    session: Session,
    caller: Caller,
    action: str,
    org: Organisation,
    kind: str,
    direction: Direction,
    **detail: str,
) -> None:
    audit.by_caller(
        session,
        caller,
        action,
        organisation_id=org.id,
        object_type="grant",
        object_id=f"{org.code}:{kind}:{direction.value}",
        kind=kind,
        detail={"direction": direction.value, **detail},
    )

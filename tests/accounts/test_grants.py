"""Grants (organisation × kind × direction): the reference set follows the kinds' declarations,
only HQ's administrators change grants, every change is audited; and the operator's commands."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from aedx import refdata
from aedx.accounts import clients, grants
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid
from aedx.kinds import KINDS
from aedx.storage.db import Database
from aedx.storage.tables import AuditEvent
from aedx.trust.caller import Caller, Direction
from tests.exchange.hub import AGENCIES

SEND, RECEIVE = Direction.SEND, Direction.RECEIVE
BRANCHES = frozenset(b.code for b in refdata.branches())


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    with database.transaction() as session:
        orgs.seed_reference(session, "test")
        orgs.upsert(session, AGENCIES, "test")
    return database


def test_the_reference_grants_follow_the_kinds_declarations() -> None:
    assert grants.defaults() == {
        "agency": {("case_referral", SEND), ("payment", SEND), ("status_feedback", RECEIVE)},
        "branch": {("status_feedback", SEND), ("case_referral", RECEIVE), ("payment", RECEIVE)},
    }
    for role, pairs in grants.defaults().items():
        for kind, direction in pairs:
            declared = KINDS[kind].sender_role if direction is SEND else KINDS[kind].recipient_role
            assert declared == role


def test_defaults_are_applied_once_and_audited(db: Database) -> None:
    with db.transaction() as session:
        operator = orgs.operator(session, "test")
        assert grants.apply_defaults(session, operator) == 3 * (len(BRANCHES) + len(AGENCIES))
        assert grants.apply_defaults(session, operator) == 0
        hq = orgs.get(session, orgs.HQ_CODE)
        assert grants.of(session, hq.id) == frozenset()
        assert grants.of(session, orgs.get(session, "sly").id) == grants.defaults()["branch"]
        assert grants.holders(session, "case_referral", RECEIVE) == BRANCHES
        assert grants.holders(session, "case_referral", SEND) == {a.code for a in AGENCIES}
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "grant.defaults")
        )
        assert events == len(BRANCHES) + len(AGENCIES)


def test_grant_and_revoke(db: Database) -> None:
    with db.transaction() as session:
        operator = orgs.operator(session, "test")
        grants.apply_defaults(session, operator)
        assert grants.revoke(session, operator, "A383000000", "payment", SEND)
        assert not grants.revoke(session, operator, "A383000000", "payment", SEND)
        assert grants.holders(session, "payment", SEND) == {"A397000000"}
        assert grants.grant(session, operator, "A383000000", "payment", SEND)
        assert not grants.grant(session, operator, "A383000000", "payment", SEND)
        orgs.get(session, "A397000000").active = False
        assert grants.holders(session, "payment", SEND) == {"A383000000"}
        with pytest.raises(Invalid):
            grants.grant(session, operator, "A383000000", "no_such_kind", SEND)
        with pytest.raises(Invalid):
            grants.grant(session, operator, "NOPE", "payment", SEND)
        assert ("A383000000", "payment", SEND) in grants.listing(session, "A383000000")
        actions = session.scalars(
            select(AuditEvent.object_id).where(AuditEvent.action.in_(["grant.add", "grant.revoke"]))
        ).all()
        assert actions == ["A383000000:payment:send", "A383000000:payment:send"]


def test_only_hq_administrators_change_grants(db: Database) -> None:
    with db.transaction() as session:
        org = orgs.get(session, "A383000000")
        own_admin = Caller(org.id, org.code, org.role, "user:3", frozenset({Permission.ACCOUNTS_MANAGE_OWN}))
    for change in (grants.grant, grants.revoke):
        with pytest.raises(Denied), db.transaction() as session:
            change(session, own_admin, "A383000000", "status_feedback", SEND)
    with pytest.raises(Denied), db.transaction() as session:
        grants.apply_defaults(session, own_admin)
    with db.transaction() as session:
        assert grants.of(session, org.id) == frozenset()
    with db.transaction() as session:
        denied = session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "user:3", AuditEvent.outcome == "denied")
        ).all()
        assert denied == ["grant.add", "grant.revoke", "grant.defaults"]


def aedx(*args: str, url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AEDX_DATABASE_URL": url, "AEDX_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "aedx", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_clients_and_grants_commands(database_url: str, tmp_path: Path) -> None:
    agencies = tmp_path / "agencies.csv"
    agencies.write_text("code,name,category\nA383000000,財政部臺北國稅局,tax\n", encoding="utf-8")
    assert (
        "aedx grants defaults"
        in aedx("orgs", "import", str(agencies), url=database_url, data=tmp_path).stderr
    )
    done = aedx("grants", "defaults", url=database_url, data=tmp_path)
    assert done.returncode == 0 and "added 42 grants" in done.stderr, done.stderr
    revoked = aedx("grants", "revoke", "A383000000", "payment", "send", url=database_url, data=tmp_path)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    listed = aedx("grants", "list", "A383000000", url=database_url, data=tmp_path).stdout
    assert list(csv.reader(io.StringIO(listed))) == [
        ["organisation", "kind", "direction"],
        ["A383000000", "case_referral", "send"],
        ["A383000000", "status_feedback", "receive"],
    ]
    bad = aedx("grants", "grant", "A383000000", "payment", "sideways", url=database_url, data=tmp_path)
    assert bad.returncode == 2

    public = tmp_path / "public.pem"
    public.write_bytes(clients.public_key_pem(ec.generate_private_key(ec.SECP256R1())))
    registered = aedx(
        "clients", "register", "A383000000", "--public-key", str(public), "--label", "batch",
        url=database_url, data=tmp_path,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    client_id = registered.stdout.strip()
    assert client_id.startswith("aedx-")
    assert aedx("clients", "register", "A383000000", url=database_url, data=tmp_path).returncode == 2
    weak = tmp_path / "weak.pem"
    weak.write_bytes(clients.public_key_pem(ec.generate_private_key(ec.SECP384R1())))
    refused = aedx(
        "clients", "register", "A383000000", "--public-key", str(weak), url=database_url, data=tmp_path
    )
    assert refused.returncode == 1 and "EC P-256" in refused.stderr
    assert aedx("clients", "disable", client_id, url=database_url, data=tmp_path).returncode == 0
    rows = list(csv.DictReader(io.StringIO(aedx("clients", "list", url=database_url, data=tmp_path).stdout)))
    assert [(r["client_id"], r["organisation"], r["label"], r["state"]) for r in rows] == [
        (client_id, "A383000000", "batch", "disabled")
    ]
    assert aedx("orgs", "token", "A383000000", url=database_url, data=tmp_path).returncode == 2

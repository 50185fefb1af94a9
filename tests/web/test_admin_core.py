"""What the management portal added to the core, called as the command line calls it: agencies
and partner offices made, corrected and disabled by HQ only (refusals audited), public keys as
JWK, the audit filters by actor, outcome and object, newest first."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from aedx.accounts import clients, grants
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.errors import Conflict, Denied, Invalid
from aedx.storage.tables import AuditEvent
from aedx.trust import audit
from aedx.trust.caller import Caller, Direction
from tests.web.conftest import Portal


def _agency_admin(portal: Portal) -> Caller:
    with portal.platform.db.transaction() as s:
        org = orgs.get(s, "A383000000")
        return Caller(org.id, org.code, org.role, "user:99", frozenset(ROLE_PERMISSIONS[Role.AGENCY_ADMIN]))


def test_hq_makes_corrects_and_disables_an_agency(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        hq = orgs.operator(s, "cli:test")
        org = orgs.create(s, hq, "A999000001", "  某市  政府 ", "partner", preferred_encoding="BIG5")
        assert (org.name, org.role, org.preferred_encoding, org.active) == (
            "某市 政府",
            "partner",
            "cp950",
            True,
        )
        with pytest.raises(Conflict):
            orgs.create(s, hq, "A999000001", "另一機關")
        for bad in ("a999", "A", "A99900000123"):
            with pytest.raises(Invalid):
                orgs.create(s, hq, bad, "某機關")
        with pytest.raises(Invalid):
            orgs.create(s, hq, "B1", "某機關", "branch")  # branches come from the reference tables
        orgs.update(s, hq, "A999000001", name="某市政府", role="agency", preferred_format="fixed",
                    preferred_encoding="utf-8")  # fmt: skip
        with pytest.raises(Invalid):
            orgs.update(s, hq, "tpy", name="臺北分署", role="agency", preferred_format="csv",
                        preferred_encoding="utf-8")  # fmt: skip
        with pytest.raises(Invalid):
            orgs.set_active(s, hq, "aea", False)
        assert orgs.set_active(s, hq, "A999000001", False).active is False
        assert [o.code for o in orgs.listing(s, role="agency", active=False)] == ["A999000001"]
        assert [o.code for o in orgs.listing(s, search="健康保險")] == ["A397000000"]
        assert [o.code for o in orgs.listing(s, search="%")] == []  # a wildcard is a character
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.object_id == "A999000001")).all()
        assert actions == ["organisation.create", "organisation.update", "organisation.disable"]


def test_only_hq_manages_organisations_and_a_refusal_is_kept(portal: Portal) -> None:
    caller = _agency_admin(portal)
    with pytest.raises(Denied), portal.platform.db.transaction() as s:
        orgs.create(s, caller, "A999000002", "某機關")
    with portal.platform.db.transaction() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "organisation.create")).one()
        assert (refused.outcome, refused.actor, refused.object_id) == ("denied", "user:99", "A999000002")
        assert s.scalar(select(orgs.Organisation).where(orgs.Organisation.code == "A999000002")) is None


def _b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def test_a_jwk_becomes_the_same_public_key_in_pem() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = key.public_numbers()
    jwk = json.dumps({"kty": "RSA", "n": _b64(numbers.n, 256), "e": _b64(numbers.e, 3)})
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert clients.public_key_from_jwk(jwk) == pem
    small = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505 - refused
    for bad in ("{}", "[1]", '{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}', '{"kty": "RSA", "n": 5}',
                json.dumps({"kty": "RSA", "n": _b64(small.n, 128), "e": _b64(small.e, 3)})):  # fmt: skip
        with pytest.raises(Invalid):
            clients.public_key_from_jwk(bad)
    ec_numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    ec_jwk = json.dumps(
        {"kty": "EC", "crv": "P-256", "x": _b64(ec_numbers.x, 32), "y": _b64(ec_numbers.y, 32)}
    )
    assert clients.load_public_key(clients.public_key_from_jwk(ec_jwk))[1] == "EC-P256"


def test_the_audit_filters_by_actor_outcome_and_object_newest_first(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        hq = orgs.operator(s, "cli:test")
        for n in range(3):
            audit.record(s, actor=f"user:{n % 2}", action="x.test", outcome="denied" if n else "ok",
                         object_id=f"o{n}")  # fmt: skip
    with portal.platform.db.transaction() as s:

        def ids(**given: object) -> list[str | None]:
            f = audit.Filter(action="x.test", **given)  # type: ignore[arg-type]
            return [e["object_id"] for e in audit.query(s, hq, f)]

        assert ids() == ["o0", "o1", "o2"]
        assert ids(newest_first=True) == ["o2", "o1", "o0"]
        assert ids(actor="user:0") == ["o0", "o2"]
        assert ids(outcome="denied") == ["o1", "o2"]
        assert ids(object_id="o1") == ["o1"]
        newest = audit.query(s, hq, audit.Filter(action="x.test", newest_first=True, limit=1))
        assert ids(newest_first=True, before_id=newest[0]["id"]) == ["o1", "o0"]
        exported = list(audit.export(s, hq, audit.Filter(action="x.test", newest_first=True)))
        assert [e["object_id"] for e in exported] == ["o0", "o1", "o2"]  # an export is oldest first
        lines = "".join(audit.csv_lines(iter(exported))).splitlines()
        assert lines[0] == ",".join(audit.HEADINGS) and len(lines) == 4
        assert lines[0].startswith("id,at (UTC),") and lines[1].split(",")[1].endswith("+00:00")


def test_an_exported_csv_never_holds_a_formula(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        hq = orgs.operator(s, "cli:test")
        audit.record(s, actor="user:1", action="x.test", object_id='=HYPERLINK("http://x")', outcome="denied")
        events = list(audit.export(s, hq, audit.Filter(action="x.test")))
    rows = list(csv.DictReader(io.StringIO("".join(audit.csv_lines(iter(events))))))
    assert rows[0]["object_id"] == '\'=HYPERLINK("http://x")' and rows[0]["actor"] == "user:1"


def test_a_new_organisation_gets_the_grants_its_kind_needs_each_audited(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        hq = orgs.operator(s, "cli:test")
        agency = orgs.create(s, hq, "A999000003", "某縣政府")
        partner = orgs.create(s, hq, "A999000004", "某合作機關", "partner")
        # from the kinds' declarations: an agency sends referrals and payments, receives feedback
        expected = {
            ("case_referral", Direction.SEND),
            ("payment", Direction.SEND),
            ("status_feedback", Direction.RECEIVE),
        }
        assert grants.of(s, agency.id) == grants.defaults()["agency"] == expected
        assert grants.of(s, partner.id) == grants.defaults().get("partner", frozenset())
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "grant.add").order_by(AuditEvent.object_id)
        ).all()
        assert [(e.object_id, e.actor, json.loads(e.detail or "{}")) for e in events] == [
            ("A999000003:case_referral:send", "cli:test", {"direction": "send", "reason": "defaults"}),
            ("A999000003:payment:send", "cli:test", {"direction": "send", "reason": "defaults"}),
            (
                "A999000003:status_feedback:receive",
                "cli:test",
                {"direction": "receive", "reason": "defaults"},
            ),
        ]
        assert grants.revoke(s, hq, "A999000003", "payment", Direction.SEND)  # they stay editable

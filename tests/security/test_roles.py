"""The authorisation matrix by kind of caller: every endpoint of ``/openapi.json`` (the test fails
when one is added without a row here) × every kind of caller we have — the HQ client, another
branch's, another agency's, an agency with no grants, one whose send grant was revoked (after its
token was issued), one whose organisation was disabled — against another organisation's objects.
No caller sees another's data; sending is refused without the grant, and the refusal is audited.

``tests/exchange/test_authorisation.py`` tries each object endpoint with the other agency and branch;
this file adds the kinds of caller it does not have and the sending and listing side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aedx.accounts import grants
from aedx.accounts import organisations as orgs
from aedx.storage.tables import AuditEvent, Submission
from aedx.trust.caller import Direction
from tests.builders import records
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import referrals

OWNER, BRANCH = "A383000000", "sly"
NO_GRANTS, REVOKED, DISABLED = "A900000001", "A900000002", "A900000003"
CALLERS = {  # kind of caller → the organisation it acts for
    "hq": "aea",
    "another branch": "tpy",
    "another agency": "A397000000",
    "agency without grants": NO_GRANTS,
    "agency with its send grant revoked": REVOKED,
}

# (method, path) → what it reaches: an object of OWNER's ("submission") or BRANCH's ("delivery"),
# a list scoped to the caller, the upload, the token endpoint, or what is public.
ENDPOINTS = {
    ("POST", "/api/v1/submissions"): "send",
    ("GET", "/api/v1/submissions"): "list",
    ("GET", "/api/v1/submissions/{submission_id}"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/report"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/report/{fmt}"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/receipt"): "submission",
    ("GET", "/api/v1/inbox"): "list",
    ("GET", "/api/v1/deliveries/{delivery_id}"): "delivery",
    ("GET", "/api/v1/deliveries/{delivery_id}/content"): "delivery",
    ("POST", "/api/v1/deliveries/{delivery_id}/ack"): "delivery",
    ("GET", "/api/v1/audit"): "list",
    ("GET", "/api/v1/cases"): "list",
    ("GET", "/api/v1/trust/certificates/{name}"): "public",
    ("GET", "/api/v1/trust/crl"): "public",
    ("GET", "/api/v1/kinds"): "public",
    ("GET", "/api/v1/kinds/{kind}"): "public",
    ("POST", "/api/v1/uploads"): "send",
    ("GET", "/api/v1/uploads"): "upload",
    ("GET", "/api/v1/uploads/{upload_id}"): "upload",
    ("DELETE", "/api/v1/uploads/{upload_id}"): "upload",
    ("PATCH", "/api/v1/uploads/{upload_id}"): "upload",
    ("POST", "/api/v1/uploads/{upload_id}/complete"): "upload",
    ("POST", "/oauth/token"): "token",
    ("GET", "/health"): "public",
    ("GET", "/ready"): "public",
}
# HQ oversees every organisation's submissions (Permission.SUBMISSIONS_READ of HQ); packages are
# for their recipients alone.
ALLOWED = {("hq", "submission")}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Hub, dict[str, str]]]:
    hub = Hub(database_url, tmp_path)
    with hub.platform.db.transaction() as session:
        rows = [
            orgs.OrgRow(code, f"測試機關 {code}", "agency", "tax") for code in (NO_GRANTS, REVOKED, DISABLED)
        ]
        orgs.upsert(session, rows, "test")
        operator = orgs.operator(session, "test")
        for code in (REVOKED, DISABLED):
            for kind, direction in grants.defaults()["agency"]:
                grants.grant(session, operator, code, kind, direction)
    for code in (NO_GRANTS, REVOKED, DISABLED):
        hub.enrol(code)
        if code != NO_GRANTS:
            hub.token(code)  # issued while the grant and the organisation are still there
    with hub.platform.db.transaction() as session:
        grants.revoke(session, orgs.operator(session, "test"), REVOKED, "case_referral", Direction.SEND)
        orgs.get(session, DISABLED).active = False
    sub = hub.send(OWNER, "case_referral", referrals("sly"))  # nothing of it goes to another branch
    (delivery,) = hub.inbox(BRANCH)
    hub.send(BRANCH, "status_feedback", records("status_feedback", {"agency_case_no": "C00000"}))
    yield hub, {"submission": sub["id"], "delivery": delivery["id"], "sha256": sub["sha256"]}
    hub.close()


def _path(template: str, objects: dict[str, str]) -> str:
    return template.format(
        submission_id=objects["submission"],
        delivery_id=objects["delivery"],
        fmt="csv",
        name="platform-encryption",
        kind="payment",
        upload_id=objects.get("upload", "0" * 32),
    )


def test_every_endpoint_has_a_row(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world
    paths = hub.client.get("/openapi.json").json()["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} == set(ENDPOINTS)


def _leaks(response: Any, objects: dict[str, str]) -> list[str]:
    return [value for value in objects.values() if value in response.text]


@pytest.mark.parametrize("caller", CALLERS)
def test_objects_of_another_organisation(world: tuple[Hub, dict[str, str]], caller: str) -> None:
    hub, objects = world
    org = CALLERS[caller]
    for (method, template), reach in ENDPOINTS.items():
        if reach not in ("submission", "delivery"):
            continue
        response = hub.client.request(method, _path(template, objects), headers=hub.auth(org))
        if (caller, reach) in ALLOWED:
            assert response.status_code in (200, 409), (caller, template, response.text)
            continue
        assert response.status_code in (403, 404), (caller, template, response.text)
        assert set(response.json()["error"]) == {"code", "message_zh", "message_en"}
        assert _leaks(response, objects) == [], (caller, template)


@pytest.mark.parametrize("caller", CALLERS)
def test_lists_hold_nothing_of_another_organisation(world: tuple[Hub, dict[str, str]], caller: str) -> None:
    hub, objects = world
    org = CALLERS[caller]
    with hub.platform.db.transaction() as session:
        own_id = orgs.get(session, org).id
    queries = {
        "/api/v1/submissions": [{}, {"kind": "case_referral"}, {"state": "routed"}],
        "/api/v1/inbox": [{}, {"include_acknowledged": True}, {"kind": "case_referral"}],
        "/api/v1/audit": [{}, {"organisation": OWNER}, {"submission_id": objects["submission"]}],
        "/api/v1/cases": [{}, {"agency_code": OWNER}, {"agency_case_no": "C00000"}],
    }
    assert set(queries) == {t for (_, t), reach in ENDPOINTS.items() if reach == "list"}
    for path, variants in queries.items():
        for params in variants:
            response = hub.get(org, path, params=params | {"limit": 1000})
            if response.status_code == 403:  # a scope the caller's token lacks, or another's events
                assert (caller, path) in WITHOUT_SCOPE or params.get("organisation") == OWNER, (caller, path)
                assert objects["submission"] not in response.text
                continue
            assert response.status_code == 200, (caller, path, response.text)
            found = response.json()
            if caller == "hq" and path != "/api/v1/inbox":
                continue  # HQ oversees submissions, cases and the audit log of every organisation
            assert objects["delivery"] not in response.text, (caller, path, params)
            if path == "/api/v1/audit":
                assert {e["organisation"] for e in found} <= {org}, (caller, params)
            elif path == "/api/v1/cases":
                assert found == [], (caller, params)  # OWNER's case, held by BRANCH
            else:
                assert objects["submission"] not in response.text, (caller, path, params)
    with hub.platform.db.transaction() as session:
        assert own_id is not None and session.get(Submission, objects["submission"]) is not None


WITHOUT_SCOPE = {  # lists a caller's token has no scope for (403 auth.scope)
    ("hq", "/api/v1/inbox"),  # HQ receives no kind
    ("agency without grants", "/api/v1/inbox"),
    ("agency without grants", "/api/v1/submissions"),  # it sends nothing, so reads no submissions
}
SENDABLE = {  # what the default grants let each send; the rest must be refused
    "hq": set(),
    "another branch": {"status_feedback"},
    "another agency": {"case_referral", "payment"},
    "agency with its send grant revoked": {"payment"},
}


@pytest.mark.parametrize("caller", CALLERS)
def test_sending_needs_the_grant(world: tuple[Hub, dict[str, str]], caller: str) -> None:
    hub, _ = world
    org = CALLERS[caller]
    for kind in ("case_referral", "status_feedback", "payment"):
        if kind in SENDABLE.get(caller, set()):
            continue
        with hub.platform.db.transaction() as session:
            last = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
        before = hub.count(Submission)
        response = hub.upload(org, kind, b"a,b\n1,2\n")
        assert response.status_code == 403, (caller, kind, response.text)
        assert response.json()["error"]["code"] == "auth.denied"
        assert hub.count(Submission) == before
        with hub.platform.db.transaction() as session:
            denied = session.scalars(
                select(AuditEvent).where(AuditEvent.id > last, AuditEvent.outcome == "denied")
            ).all()
            assert [(e.action, e.kind, json.loads(e.detail or "{}")["reason"]) for e in denied] == [
                ("submission.create", kind, "not_granted")
            ]


def test_a_disabled_organisation_reaches_nothing(world: tuple[Hub, dict[str, str]]) -> None:
    """Its token was issued while it was active; every endpoint that needs one refuses it now, and
    no new token is issued."""
    hub, objects = world
    for (method, template), reach in ENDPOINTS.items():
        path = _path(template, objects)
        if reach == "public":
            assert hub.client.request(method, path).status_code == 200, path
            continue
        if reach == "token":
            response = hub.request_token(DISABLED)
            assert response.status_code == 401 and response.json()["error"] == "invalid_client"
            continue
        response = hub.client.request(method, path, headers=hub.auth(DISABLED))
        assert response.status_code == 401, (template, response.text)
        assert _leaks(response, objects) == []


def test_an_organisation_without_grants_gets_no_token_scope(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world
    response = hub.request_token(NO_GRANTS)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "audit:read cases:read"  # its own events and referred cases
    narrowed = hub.request_token("A397000000", scope="case_referral:receive")
    assert narrowed.status_code == 400 and narrowed.json()["error"] == "invalid_scope"

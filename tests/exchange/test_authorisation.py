"""Every endpoint, tried with another organisation's objects: an agency never sees another
agency's submissions, reports, inbox or feedback; a branch never sees another branch's deliveries.
The test fails when an endpoint is added without being tried here."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from aedx.storage.tables import AuditEvent, utcnow
from aedx.trust import refusals
from tests.builders import records
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import referrals

OWNER, OTHER_AGENCY = "A383000000", "A397000000"
BRANCH, OTHER_BRANCH = "sly", "tpy"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Hub, dict[str, str]]]:
    hub = Hub(database_url, tmp_path)
    sub = hub.send(OWNER, "case_referral", referrals("sly", "tpy"))
    (delivery,) = hub.inbox(BRANCH)
    status = records("status_feedback", {"agency_case_no": "C00000"})
    hub.send(BRANCH, "status_feedback", status)
    (feedback,) = hub.inbox(OWNER)
    yield hub, {"submission": sub["id"], "delivery": delivery["id"], "feedback": feedback["id"]}
    hub.close()


ENDPOINTS = {  # (method, path) → the object of OWNER or BRANCH that others must not reach
    ("POST", "/api/v1/submissions"): None,
    ("GET", "/api/v1/submissions"): None,
    ("GET", "/api/v1/submissions/{submission_id}"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/report"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/report/{fmt}"): "submission",
    ("GET", "/api/v1/submissions/{submission_id}/receipt"): "submission",
    ("GET", "/api/v1/inbox"): None,
    ("GET", "/api/v1/deliveries/{delivery_id}"): "delivery",
    ("GET", "/api/v1/deliveries/{delivery_id}/content"): "delivery",
    ("POST", "/api/v1/deliveries/{delivery_id}/ack"): "delivery",
    ("GET", "/api/v1/audit"): None,
    ("GET", "/api/v1/cases"): None,  # a list: see test_cases_are_seen_by_who_referred_or_holds_them
    # upload sessions: tried with another organisation's session in tests/client/test_uploads.py
    ("POST", "/api/v1/uploads"): None,
    ("GET", "/api/v1/uploads"): None,
    ("GET", "/api/v1/uploads/{upload_id}"): None,
    ("DELETE", "/api/v1/uploads/{upload_id}"): None,
    ("PATCH", "/api/v1/uploads/{upload_id}"): None,
    ("POST", "/api/v1/uploads/{upload_id}/complete"): None,
}
PUBLIC = {  # what anyone may fetch: the platform's certificates and CRL, the kinds' specs
    ("GET", "/api/v1/trust/certificates/{name}"): "/api/v1/trust/certificates/platform-encryption",
    ("GET", "/api/v1/trust/crl"): "/api/v1/trust/crl",
    ("GET", "/api/v1/kinds"): "/api/v1/kinds",
    ("GET", "/api/v1/kinds/{kind}"): "/api/v1/kinds/payment",
}


def test_every_endpoint_is_in_the_matrix(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world
    paths = hub.client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path) for path, ops in paths.items() if path.startswith("/api/") for method in ops
    }
    assert routes == set(ENDPOINTS) | set(PUBLIC)
    for path in PUBLIC.values():
        response = hub.client.get(path)
        assert response.status_code == 200
        assert response.text.startswith(
            "-----BEGIN" if "/trust/" in path else "[" if path.endswith("kinds") else "{"
        )


def _path(template: str, objects: dict[str, str], which: str) -> str:
    return template.format(submission_id=objects["submission"], delivery_id=objects[which], fmt="csv")


@pytest.mark.parametrize(("method", "template"), [k for k, v in ENDPOINTS.items() if v])
def test_objects_of_others_are_not_found(
    world: tuple[Hub, dict[str, str]], method: str, template: str
) -> None:
    hub, objects = world
    owner_object = {"submission": (OWNER, "delivery"), "delivery": (BRANCH, "delivery")}[
        ENDPOINTS[(method, template)] or ""
    ]
    owner, which = owner_object
    outsiders = [OTHER_AGENCY, OTHER_BRANCH] + ([BRANCH] if owner == OWNER else [OWNER])
    for org in outsiders:
        response = hub.client.request(method, _path(template, objects, which), headers=hub.auth(org))
        assert response.status_code == 404, (org, template, response.text)
        assert set(response.json()["error"]) == {"code", "message_zh", "message_en"}
    # every refusal stays in the audit log, although the request failed
    action = "submission.read" if ENDPOINTS[(method, template)] == "submission" else "delivery.read"
    with hub.platform.db.transaction() as session:
        denied = session.scalars(
            select(AuditEvent.actor_organisation_id).where(
                AuditEvent.action == action, AuditEvent.outcome == "denied"
            )
        ).all()
    assert len(denied) == len(outsiders)
    if owner == BRANCH:  # HQ receives no kind: its token carries no <kind>:receive scope
        response = hub.client.request(method, _path(template, objects, which), headers=hub.auth("aea"))
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.scope"
    if template.endswith("/ack"):  # acknowledging needs one complete download first
        content = _path(template, objects, which).replace("/ack", "/content")
        assert hub.get(owner, content).status_code == 200
    mine = hub.client.request(method, _path(template, objects, which), headers=hub.auth(owner))
    assert mine.status_code == 200, mine.text
    # Feedback packages are deliveries to the agency: the branch that sent them cannot read them.
    if "delivery" in template:
        for org in (BRANCH, OTHER_AGENCY, OTHER_BRANCH):
            response = hub.client.request(method, _path(template, objects, "feedback"), headers=hub.auth(org))
            assert response.status_code == 404


def test_lists_hold_only_the_callers_own(world: tuple[Hub, dict[str, str]]) -> None:
    hub, objects = world
    assert [s["id"] for s in hub.get(OTHER_AGENCY, "/api/v1/submissions").json()] == []
    assert objects["submission"] in [s["id"] for s in hub.get(OWNER, "/api/v1/submissions").json()]
    assert objects["submission"] in [s["id"] for s in hub.get("aea", "/api/v1/submissions").json()]
    assert hub.inbox(OTHER_AGENCY) == []
    assert objects["delivery"] not in [d["id"] for d in hub.inbox(OTHER_BRANCH, include_acknowledged=True)]
    assert objects["feedback"] not in [d["id"] for d in hub.inbox(BRANCH, include_acknowledged=True)]


def test_the_audit_log_shows_others_nothing(world: tuple[Hub, dict[str, str]]) -> None:
    hub, objects = world
    for org in (OTHER_AGENCY, OTHER_BRANCH):
        for params in ({}, {"organisation": org}, {"submission_id": objects["submission"]}):
            events = hub.get(org, "/api/v1/audit", params=params | {"limit": 1000}).json()
            assert {e["organisation"] for e in events} <= {org}, (org, params)
        # naming another organisation is refused, not answered with one's own events
        refused = hub.get(org, "/api/v1/audit", params={"organisation": OWNER})
        assert refused.status_code == 403, refused.text
        assert set(refused.json()["error"]) == {"code", "message_zh", "message_en"}
    denied = hub.get(OTHER_AGENCY, "/api/v1/audit", params={"action": "audit.read"}).json()
    assert [(e["outcome"], e["object_id"]) for e in denied] == [("denied", OWNER)]
    own = hub.get(OWNER, "/api/v1/audit", params={"submission_id": objects["submission"]}).json()
    assert [e["action"] for e in own][:4] == [
        "submission.received",
        "submission.validating",
        "submission.accepted",
        "submission.routed",
    ]
    everyone = hub.get("aea", "/api/v1/audit", params={"organisation": BRANCH, "limit": 1000}).json()
    assert {e["organisation"] for e in everyone} == {BRANCH}
    assert "delivery.ready" in {e["action"] for e in everyone}


def test_a_sender_cannot_send_in_another_agencys_name(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world
    forged = referrals("sly", prefix="F")
    sub = hub.send(OTHER_AGENCY, "case_referral", forged)
    assert sub["state"] == "rejected"
    assert "sender.mismatch" in hub.codes(OTHER_AGENCY, sub["id"])
    status = records(
        "status_feedback", {"agency_case_no": "C00000", "branch_code": BRANCH, "event": "PENDING"}
    )
    sub = hub.send(OTHER_BRANCH, "status_feedback", status)
    assert sub["state"] == "rejected"


def test_every_endpoint_needs_a_valid_token(world: tuple[Hub, dict[str, str]]) -> None:
    hub, objects = world
    for (method, template), which in ENDPOINTS.items():
        path = _path(template, objects, "delivery") if which else template
        for headers in ({}, {"Authorization": "Bearer aedx_not-a-token"}, {"Authorization": "Basic eDp5"}):
            response = hub.client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "auth.required"
    with hub.platform.db.transaction() as session:  # the repeats are counted, then written as one
        refusals.flush(session, now=utcnow() + refusals.WINDOW)
    denied = hub.get("aea", "/api/v1/audit", params={"action": "request.authenticate", "limit": 1000}).json()
    assert {e["outcome"] for e in denied} == {"denied"}
    assert 1 + sum(e["detail"].get("repeats", 0) for e in denied) == 3 * len(ENDPOINTS) and len(denied) == 2


def test_disabled_clients_stop_working(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world
    from aedx.accounts import clients
    from aedx.accounts import organisations as orgs

    assert hub.get(OTHER_AGENCY, "/api/v1/inbox").status_code == 200
    with hub.platform.db.transaction() as session:
        clients.disable(session, orgs.operator(session, "test"), hub.client_ids[OTHER_AGENCY])
    assert hub.get(OTHER_AGENCY, "/api/v1/inbox").status_code == 401
    assert pl.DataFrame(hub.inbox(OWNER)).height == 1


def test_hq_filters_the_audit_log_by_time_kind_and_organisation(world: tuple[Hub, dict[str, str]]) -> None:
    hub, objects = world
    everything = hub.get("aea", "/api/v1/audit", params={"limit": 1000}).json()
    assert {e["kind"] for e in everything} >= {"case_referral", "status_feedback"}
    status = hub.get("aea", "/api/v1/audit", params={"kind": "status_feedback", "limit": 1000}).json()
    assert status and {e["kind"] for e in status} == {"status_feedback"}
    middle = everything[len(everything) // 2]["at"]
    later = hub.get("aea", "/api/v1/audit", params={"since": middle, "limit": 1000}).json()
    earlier = hub.get("aea", "/api/v1/audit", params={"until": middle, "limit": 1000}).json()
    assert len(later) + len(earlier) == len(everything) and all(e["at"] >= middle for e in later)
    paged = hub.get("aea", "/api/v1/audit", params={"after": everything[9]["id"], "limit": 5}).json()
    assert [e["id"] for e in paged] == [e["id"] for e in everything[10:15]]
    agency = hub.get(
        "aea", "/api/v1/audit", params={"organisation": OWNER, "submission_id": objects["submission"]}
    ).json()
    assert agency and {(e["organisation"], e["submission_id"]) for e in agency} == {
        (OWNER, objects["submission"])
    }


def test_cases_are_seen_by_who_referred_or_holds_them(world: tuple[Hub, dict[str, str]]) -> None:
    hub, _ = world

    def seen(org: str, **params: str) -> list[str]:
        response = hub.get(org, "/api/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return sorted(c["agency_case_no"] for c in response.json())

    assert seen(OWNER) == ["C00000", "C00001"]
    assert seen(BRANCH) == ["C00000"] and seen(OTHER_BRANCH) == ["C00001"]
    assert seen("aea") == ["C00000", "C00001"]
    assert seen(OTHER_AGENCY) == [] and seen("ksy") == []
    # Naming another organisation's case finds nothing either.
    assert seen(OTHER_AGENCY, agency_code=OWNER, agency_case_no="C00000") == []
    assert seen(OTHER_BRANCH, agency_case_no="C00000") == []
    assert seen(OTHER_BRANCH, obligor_id="A123456789") == ["C00001"]
    assert seen(BRANCH, obligor_id="A123456789") == ["C00000"]


# -- scopes: every endpoint needs one scope of the token, refused (403) without it ---------------

SCOPES = {  # (method, path) → (the organisation, the scope items the endpoint needs one of)
    ("POST", "/api/v1/submissions"): (OWNER, {"case_referral:send"}),
    ("GET", "/api/v1/submissions"): (OWNER, {"submissions:read"}),
    ("GET", "/api/v1/submissions/{submission_id}"): (OWNER, {"submissions:read"}),
    ("GET", "/api/v1/submissions/{submission_id}/report"): (OWNER, {"submissions:read"}),
    ("GET", "/api/v1/submissions/{submission_id}/report/{fmt}"): (OWNER, {"submissions:read"}),
    ("GET", "/api/v1/submissions/{submission_id}/receipt"): (OWNER, {"submissions:read"}),
    ("GET", "/api/v1/inbox"): (BRANCH, {"case_referral:receive", "payment:receive"}),
    ("GET", "/api/v1/deliveries/{delivery_id}"): (BRANCH, {"case_referral:receive"}),
    ("GET", "/api/v1/deliveries/{delivery_id}/content"): (BRANCH, {"case_referral:receive"}),
    ("POST", "/api/v1/deliveries/{delivery_id}/ack"): (BRANCH, {"case_referral:receive"}),
    ("GET", "/api/v1/audit"): (OWNER, {"audit:read"}),
    ("GET", "/api/v1/cases"): (OWNER, {"cases:read"}),
    ("POST", "/api/v1/uploads"): (OWNER, {"case_referral:send"}),
    ("GET", "/api/v1/uploads"): (OWNER, {"case_referral:send", "payment:send"}),
    ("GET", "/api/v1/uploads/{upload_id}"): (OWNER, {"case_referral:send"}),
    ("DELETE", "/api/v1/uploads/{upload_id}"): (OWNER, {"case_referral:send"}),
    ("PATCH", "/api/v1/uploads/{upload_id}"): (OWNER, {"case_referral:send"}),
    ("POST", "/api/v1/uploads/{upload_id}/complete"): (OWNER, {"case_referral:send"}),
}
ALLOWED_STATUS = {"POST": {200, 201, 202}, "GET": {200}, "PATCH": {200}, "DELETE": {204}}


def _token(hub: Hub, org: str, scope: set[str]) -> dict[str, str]:
    response = hub.request_token(org, scope=" ".join(sorted(scope)))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _request(hub: Hub, objects: dict[str, str], method: str, template: str) -> dict[str, object]:
    """The request the endpoint answers with success, made afresh (an upload session of OWNER's,
    filled when it is to be completed; a package downloaded before it is acknowledged)."""
    sealed = hub.seal(OWNER, f"{records('case_referral').write_csv()}".encode())
    kw: dict[str, object] = {}
    if template.startswith("/api/v1/uploads"):
        digest = hashlib.sha256(sealed).hexdigest()
        params = {"kind": "case_referral", "size": len(sealed), "sha256": digest}
        if template == "/api/v1/uploads" and method == "POST":
            kw["params"] = params
        elif "{upload_id}" in template:
            made = hub.client.post("/api/v1/uploads", params=params, headers=hub.auth(OWNER))
            objects["upload"] = made.json()["id"]
            fill = {"Upload-Offset": "0", "Content-Type": "application/octet-stream"}
            if method == "PATCH":
                kw = {"content": sealed, "headers": fill}
            elif template.endswith("/complete"):
                hub.client.patch(f"/api/v1/uploads/{objects['upload']}", content=sealed,
                                 headers=hub.auth(OWNER) | fill)  # fmt: skip
    elif method == "POST" and template == "/api/v1/submissions":
        kw = {"params": {"kind": "case_referral"}, "content": sealed}
    elif template.endswith("/ack"):
        assert hub.get(BRANCH, f"/api/v1/deliveries/{objects['delivery']}/content").status_code == 200
    path = template.format(submission_id=objects["submission"], delivery_id=objects["delivery"], fmt="csv",
                           upload_id=objects.get("upload", ""))  # fmt: skip
    return {"method": method, "url": path} | kw


@pytest.mark.parametrize(("method", "template"), list(SCOPES))
def test_every_endpoint_needs_its_scope(
    world: tuple[Hub, dict[str, str]], method: str, template: str
) -> None:
    hub, objects = world
    org, needed = SCOPES[(method, template)]
    everything = set(hub.request_token(org).json()["scope"].split())
    assert needed & everything, (org, needed)
    without = _token(hub, org, everything - needed)
    request = _request(hub, objects, method, template)
    headers = dict(request.pop("headers", {}))  # type: ignore[call-overload]
    refused = hub.client.request(**request, headers=without | headers)  # type: ignore[arg-type]
    assert refused.status_code == 403, (method, template, refused.text)
    assert set(refused.json()["error"]) == {"code", "message_zh", "message_en"}
    assert refused.json()["error"]["code"] in {"auth.scope", "auth.denied"}
    request = _request(hub, objects, method, template)
    headers = dict(request.pop("headers", {}))  # type: ignore[call-overload]
    allowed = hub.client.request(**request, headers=_token(hub, org, needed) | headers)  # type: ignore[arg-type]
    assert allowed.status_code in ALLOWED_STATUS[method], (method, template, allowed.text)


def test_the_scope_matrix_covers_every_endpoint() -> None:
    assert set(SCOPES) == set(ENDPOINTS)


def test_a_narrow_token_reads_nothing_else(world: tuple[Hub, dict[str, str]]) -> None:
    """The outside test's case: a token asked for ``payment:send`` only."""
    hub, objects = world
    narrow = _token(hub, OWNER, {"payment:send"})
    assert narrow and hub.request_token(OWNER, scope="payment:send").json()["scope"] == "payment:send"
    for path in ("/api/v1/inbox", f"/api/v1/deliveries/{objects['feedback']}", "/api/v1/cases",
                 "/api/v1/submissions", f"/api/v1/submissions/{objects['submission']}", "/api/v1/audit"):  # fmt: skip
        response = hub.client.get(path, headers=narrow)
        assert response.status_code == 403, (path, response.text)
    acked = hub.client.post(f"/api/v1/deliveries/{objects['feedback']}/ack", headers=narrow)
    assert acked.status_code == 403
    # a branch token for payments alone lists no referral package
    branch = _token(hub, BRANCH, {"payment:receive"})
    assert hub.client.get("/api/v1/inbox", headers=branch).json() == []
    refused = hub.get("aea", "/api/v1/audit", params={"action": "request.scope", "limit": 1000}).json()
    assert len(refused) == 7 and {e["organisation"] for e in refused} == {OWNER}

"""OAuth 2.0 client credentials with private_key_jwt, through the real token endpoint: the happy
path with each algorithm, every refusal (same answer to the caller, the reason in the audit log),
token expiry, scope narrowing, and grants revoked or clients disabled taking effect at once."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from aedx.accounts import clients, grants
from aedx.accounts import organisations as orgs
from aedx.accounts.certificates import issue
from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid, Unauthenticated
from aedx.storage.tables import AccessToken, ApiClient, AuditEvent, utcnow
from aedx.trust import refusals
from aedx.trust.caller import Caller, Direction
from aedx.trust.pki import Authority, Usage
from tests.builders import records
from tests.exchange.hub import TOKEN_URL, Hub

AGENCY, OTHER = "A383000000", "A397000000"
GENERIC = "client authentication failed / 用戶端驗證失敗"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def claims_of(hub: Hub, org: str, **changes: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    cid = hub.client_ids[org]
    base = {
        "iss": cid,
        "sub": cid,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": f"j-{now}-{id(changes)}",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def post(hub: Hub, assertion: str, **form: str) -> Any:
    fields = {
        "grant_type": clients.GRANT_TYPE,
        "client_assertion_type": clients.ASSERTION_TYPE,
        "client_assertion": assertion,
    } | form
    return hub.client.post(clients.TOKEN_PATH, data=fields)


def denials(hub: Hub) -> list[dict[str, Any]]:
    with hub.platform.db.transaction() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client.token", AuditEvent.outcome == "denied")
        ).all()
        return [json.loads(r.detail or "{}") | {"actor": r.actor} for r in rows]


def test_a_client_gets_a_token_with_its_grants_and_calls_the_api(hub: Hub) -> None:
    response = hub.request_token(AGENCY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600  # noqa: S105
    assert body["scope"] == (
        "case_referral:send payment:send status_feedback:receive audit:read cases:read submissions:read"
    )
    assert response.headers["cache-control"] == "no-store"
    token = body["access_token"]
    listed = hub.client.get("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.json() == []
    with hub.platform.db.transaction() as session:
        stored = session.scalars(select(AccessToken.digest)).all()
        assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in stored
        client = clients.get(session, hub.client_ids[AGENCY])
        assert client.last_used_at is not None
        caller = clients.authenticate(session, token)
        assert caller.actor == f"client:{client.client_id}" and caller.code == AGENCY
        assert caller.may(Permission.SUBMISSIONS_SEND) and not caller.may(Permission.ACCOUNTS_MANAGE)
        ok = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client.token", AuditEvent.outcome == "ok")
        ).all()
        assert [e.actor for e in ok] == [f"client:{client.client_id}"]


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_rsa_keys_sign_with_rs256_or_ps256(hub: Hub, alg: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with hub.platform.db.transaction() as session:
        client = clients.register(
            session, orgs.operator(session, "test"), OTHER, public_key_pem=clients.public_key_pem(key)
        )
        assert client.key_type == "RSA-2048"
    assertion = clients.make_assertion(client.client_id, key, TOKEN_URL, alg=alg)
    assert post(hub, assertion).status_code == 200
    # An RSA key does not sign ES256, and an EC key does not sign RS256.
    wrong = unsigned({"alg": "ES256"}, claims_of(hub, AGENCY, iss=client.client_id, sub=client.client_id))
    assert post(hub, wrong + "." + b64(b"x" * 64)).status_code == 401


def _hs256_with_public_key(hub: Hub) -> str:
    with hub.platform.db.transaction() as session:
        public = clients.get(session, hub.client_ids[AGENCY]).public_key.encode()
    head = unsigned({"alg": "HS256", "typ": "JWT"}, claims_of(hub, AGENCY))
    return head + "." + b64(hmac.new(public, head.encode(), hashlib.sha256).digest())


def _flipped(hub: Hub) -> str:
    header, claims, signature = hub.assertion(AGENCY).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[5] ^= 1
    return f"{header}.{claims}.{b64(bytes(raw))}"


def _signed(hub: Hub, **changes: Any) -> str:
    return clients.sign_jwt(
        {"alg": "ES256", "typ": "JWT"}, claims_of(hub, AGENCY, **changes), hub.keys[AGENCY]
    )


def _other_key(hub: Hub) -> str:
    return clients.sign_jwt({"alg": "ES256"}, claims_of(hub, AGENCY), ec.generate_private_key(ec.SECP256R1()))


REFUSALS: dict[str, Callable[[Hub], str]] = {
    "alg none": lambda hub: unsigned({"alg": "none"}, claims_of(hub, AGENCY)) + ".",
    "alg none with a signature part": lambda hub: unsigned({"alg": "none"}, claims_of(hub, AGENCY)) + ".eA",
    "HS256 keyed with the public key": _hs256_with_public_key,
    "bad signature": _flipped,
    "signed by another key": _other_key,
    "wrong aud": lambda hub: _signed(hub, aud="https://elsewhere.example/oauth/token"),
    "iss is not sub": lambda hub: _signed(hub, sub=hub.client_ids[OTHER]),
    "unknown client": lambda hub: _signed(hub, iss="aedx-unknown", sub="aedx-unknown"),
    "expired": lambda hub: _signed(hub, exp=int(dt.datetime.now(dt.UTC).timestamp()) - 120),
    "exp too far ahead": lambda hub: _signed(hub, exp=int(dt.datetime.now(dt.UTC).timestamp()) + 3600),
    "no exp": lambda hub: _signed(hub, exp=None),
    "iat in the future": lambda hub: _signed(hub, iat=int(dt.datetime.now(dt.UTC).timestamp()) + 600),
    "nbf in the future": lambda hub: _signed(hub, nbf=int(dt.datetime.now(dt.UTC).timestamp()) + 600),
    "no jti": lambda hub: _signed(hub, jti=None),
    "not a JWT": lambda hub: "not-a-jwt",
}


REASONS = {  # what the audit log says, and the caller is not told
    "alg none": "cannot be decoded",
    "alg none with a signature part": "alg 'none' refused",
    "HS256 keyed with the public key": "alg 'HS256' refused",
    "bad signature": "bad signature",
    "signed by another key": "bad signature",
    "wrong aud": "is not this token endpoint",
    "iss is not sub": "iss and sub differ",
    "unknown client": "unknown client",
    "expired": "assertion expired",
    "exp too far ahead": "exp more than 5 minutes ahead",
    "no exp": "exp missing",
    "iat in the future": "iat in the future",
    "nbf in the future": "nbf",
    "no jti": "jti missing",
    "not a JWT": "three parts expected",
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_bad_assertion_is_refused_alike(hub: Hub, case: str) -> None:
    response = post(hub, REFUSALS[case](hub))
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "invalid_client", "error_description": GENERIC}
    assert response.headers["www-authenticate"].startswith("Bearer")
    (denied,) = denials(hub)
    assert denied["error"] == "invalid_client" and REASONS[case] in denied["reason"]


def test_an_assertion_is_accepted_once(hub: Hub) -> None:
    assertion = hub.assertion(AGENCY)
    assert post(hub, assertion).status_code == 200
    again = post(hub, assertion)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    assert [d["reason"] for d in denials(hub)] == ["jti replayed"]
    assert post(hub, hub.assertion(AGENCY)).status_code == 200  # a new jti is fine


def test_disabled_clients_and_organisations_get_no_tokens(hub: Hub) -> None:
    token = hub.token(AGENCY)
    with hub.platform.db.transaction() as session:
        clients.disable(session, orgs.operator(session, "test"), hub.client_ids[AGENCY])
        orgs.get(session, OTHER).active = False
    assert post(hub, hub.assertion(AGENCY)).status_code == 401
    assert post(hub, hub.assertion(OTHER)).status_code == 401
    assert sorted(d["reason"] for d in denials(hub)) == ["client disabled", "organisation disabled"]
    assert {d["actor"] for d in denials(hub)} == {f"client:{hub.client_ids[c]}" for c in (AGENCY, OTHER)}
    response = hub.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": ""}, "invalid_request"),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
            "invalid_request",
        ),
        ({"client_assertion": ""}, "invalid_request"),
    ],
)
def test_malformed_requests_are_invalid(hub: Hub, form: dict[str, str], error: str) -> None:
    response = post(hub, hub.assertion(AGENCY), **form)
    assert response.status_code == 400 and response.json()["error"] == error
    assert [d["error"] for d in denials(hub)] == [error]


def test_the_form_must_be_form_encoded_once(hub: Hub) -> None:
    as_json = hub.client.post(
        clients.TOKEN_PATH,
        json={"grant_type": clients.GRANT_TYPE, "client_assertion": hub.assertion(AGENCY)},
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    twice = hub.client.post(
        clients.TOKEN_PATH,
        content=f"grant_type=client_credentials&grant_type=client_credentials&client_assertion_type="
        f"{clients.ASSERTION_TYPE}&client_assertion={hub.assertion(AGENCY)}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"


def test_tokens_expire_after_ten_minutes(hub: Hub) -> None:
    token = hub.token(AGENCY)
    with hub.platform.db.transaction() as session:
        issued = session.scalars(select(AccessToken)).one()
        assert issued.expires_at - issued.issued_at == dt.timedelta(minutes=10)
        clients.authenticate(session, token, now=issued.issued_at + dt.timedelta(minutes=9))
        with pytest.raises(Unauthenticated):
            clients.authenticate(session, token, now=issued.issued_at + dt.timedelta(minutes=10))
        with pytest.raises(Unauthenticated):
            clients.authenticate(session, token[:-2] + "xx")


def test_a_revoked_grant_stops_an_existing_token_at_once(hub: Hub) -> None:
    body = records("case_referral", {"agency_case_no": "G1"}).write_csv().encode()
    assert hub.upload(AGENCY, "case_referral", body).status_code == 202
    with hub.platform.db.transaction() as session:
        assert grants.revoke(session, orgs.operator(session, "test"), AGENCY, "case_referral", Direction.SEND)
    refused = hub.upload(AGENCY, "case_referral", body + b"\n")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "auth.denied"
    assert "case_referral:send" in refused.json()["error"]["message_en"]
    events = hub.get(AGENCY, "/api/v1/audit", params={"action": "submission.create"}).json()
    assert [(e["outcome"], e["detail"]["reason"]) for e in events] == [("denied", "not_granted")]
    # the token still carries the grant; given back, it works again
    with hub.platform.db.transaction() as session:
        grants.grant(session, orgs.operator(session, "test"), AGENCY, "case_referral", Direction.SEND)
    assert hub.upload(AGENCY, "case_referral", body + b"\n").status_code == 202


def test_a_requested_scope_narrows_the_token(hub: Hub) -> None:
    response = hub.request_token(AGENCY, scope="payment:send status_feedback:send")
    assert response.status_code == 200 and response.json()["scope"] == "payment:send"
    hub.tokens[AGENCY] = response.json()["access_token"]
    body = records("case_referral", {"agency_case_no": "S1"}).write_csv().encode()
    assert hub.upload(AGENCY, "case_referral", body).status_code == 403
    payment = records("payment", {"agency_case_no": "S1"}).write_csv().encode()
    assert hub.upload(AGENCY, "payment", payment).status_code == 202
    refused = hub.request_token(AGENCY, scope="status_feedback:send")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_a_branch_may_not_send_referrals(hub: Hub) -> None:
    body = records("case_referral", {"agency_case_no": "B1"}).write_csv().encode()
    response = hub.upload("sly", "case_referral", body)
    assert response.status_code == 403 and response.json()["error"]["code"] == "auth.denied"


def test_keys_must_be_strong_enough(hub: Hub) -> None:
    weak = [
        rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - refused
        ec.generate_private_key(ec.SECP384R1()),
    ]
    with hub.platform.db.transaction() as session:
        operator = orgs.operator(session, "test")
        for key in weak:
            with pytest.raises(Invalid):
                clients.register(session, operator, AGENCY, public_key_pem=clients.public_key_pem(key))
        with pytest.raises(Invalid):
            clients.register(session, operator, AGENCY, public_key_pem=b"-----BEGIN PUBLIC KEY-----\nxx")


def test_a_client_from_a_certificate_the_organisation_holds(hub: Hub, tmp_path: Path) -> None:
    authority = Authority.create(tmp_path / "ca")
    with hub.platform.db.transaction() as session:
        operator = orgs.operator(session, "test")
        signing = issue(session, authority, AGENCY, Usage.SIGNING, "test")
        encryption = issue(session, authority, AGENCY, Usage.ENCRYPTION, "test")
        client = clients.register(session, operator, AGENCY, certificate_pem=signing.certificate.pem.encode())
        assert client.certificate_id == signing.certificate.id and client.key_type == "RSA-3072"
        with pytest.raises(Invalid):  # not OTHER's certificate
            clients.register(session, operator, OTHER, certificate_pem=signing.certificate.pem.encode())
        with pytest.raises(Invalid):  # one key, one use
            clients.register(session, operator, AGENCY, certificate_pem=encryption.certificate.pem.encode())
    assert signing.key_pem is not None
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(signing.key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert post(hub, clients.make_assertion(client.client_id, key, TOKEN_URL)).status_code == 200
    from aedx.accounts.certificates import revoke

    with hub.platform.db.transaction() as session:
        revoke(session, signing.certificate.serial, "key_compromise", "test")
    assert post(hub, clients.make_assertion(client.client_id, key, TOKEN_URL)).status_code == 401
    assert [d["reason"] for d in denials(hub)] == ["certificate revoked or expired"]


def test_an_organisation_manages_only_its_own_clients(hub: Hub) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with hub.platform.db.transaction() as session:
        org = orgs.get(session, AGENCY)
        admin = Caller(org.id, org.code, org.role, "user:7", frozenset({Permission.ACCOUNTS_MANAGE_OWN}))
        mine = clients.register(session, admin, AGENCY, public_key_pem=clients.public_key_pem(key), label="x")
        assert {c.client_id for c, _ in clients.listing(session, admin)} == {
            mine.client_id,
            hub.client_ids[AGENCY],
        }
        assert len(clients.listing(session, orgs.operator(session, "test"))) == len(hub.client_ids) + 1
    with pytest.raises(Denied), hub.platform.db.transaction() as session:
        clients.register(session, admin, OTHER, public_key_pem=clients.public_key_pem(key))
    with pytest.raises(Denied), hub.platform.db.transaction() as session:
        clients.disable(session, admin, hub.client_ids[OTHER])
    with hub.platform.db.transaction() as session:
        assert session.scalars(
            select(ApiClient.active).where(ApiClient.client_id == hub.client_ids[OTHER])
        ).one()
        clients.disable(session, admin, mine.client_id)
        events = session.execute(
            select(AuditEvent.action, AuditEvent.outcome)
            .where(AuditEvent.actor == "user:7")
            .order_by(AuditEvent.id)
        ).all()
        assert [tuple(e) for e in events] == [  # the refusals are kept although their requests failed
            ("client.register", "ok"),
            ("client.register", "denied"),
            ("client.disable", "denied"),
            ("client.disable", "ok"),
        ]


def test_refusals_that_name_a_known_client_are_recorded_under_its_organisation(hub: Hub) -> None:
    """Before the client is established (claims that do not fit, a JWT that cannot be read), the
    refusal still names the client the request claimed, so that its organisation sees it."""
    cid = hub.client_ids[AGENCY]
    other_sub = unsigned({"alg": "ES256"}, claims_of(hub, AGENCY, sub="someone-else")) + ".c2ln"
    assert post(hub, other_sub).status_code == 401
    assert post(hub, "not-a-jwt", client_id=cid).status_code == 401
    assert post(hub, "not-a-jwt", client_id="aedx-unknown").status_code == 401
    with hub.platform.db.transaction() as session:  # the repeat about the same client is counted
        refusals.flush(session, now=utcnow() + refusals.WINDOW)
    with hub.platform.db.transaction() as session:
        agency = orgs.get(session, AGENCY).id
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "client.token", AuditEvent.outcome == "denied")
            .order_by(AuditEvent.id)
        ).all()
        recorded = [(r.organisation_id, r.object_id, r.actor.startswith("anonymous:")) for r in rows]
        repeats = [json.loads(r.detail or "{}").get("repeats") for r in rows]
    assert recorded == [(agency, cid, True), (None, None, True), (agency, cid, True)]
    assert repeats == [None, None, 1]
    seen = hub.get(AGENCY, "/api/v1/audit", params={"action": "client.token"}).json()
    assert [e["object_id"] for e in seen if e["outcome"] == "denied"] == [cid, cid]

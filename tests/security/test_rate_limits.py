"""Rate limits (429 with ``Retry-After``) on the token endpoint by client id and by address, on the
API and on the portal's sign-in; counters shared through the database on PostgreSQL; repeated
refusals written to the audit log as one event with their number, the chain still verifying."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.accounts import clients
from aedx.api.app import create_app
from aedx.api.ratelimit import DatabaseStorage
from aedx.exchange.platform import Platform
from aedx.storage.tables import AuditEvent
from aedx.trust import ledger, refusals
from aedx.web.portal import SIGN_IN
from tests.exchange.hub import Hub

AGENCY = "A383000000"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    made = Hub(database_url, tmp_path)
    yield made
    made.close()
    made.platform.close()


def limited(hub: Hub, **limits: str) -> TestClient:
    settings = dataclasses.replace(
        hub.platform.settings, rate_limits=tuple(limits.items()), secret_key=b"s" * 32
    )
    return TestClient(create_app(Platform(settings)))


def token_form(hub: Hub, org: str = AGENCY) -> dict[str, str]:
    return {
        "grant_type": clients.GRANT_TYPE,
        "client_assertion_type": clients.ASSERTION_TYPE,
        "client_assertion": hub.assertion(org),
    }


def assert_retry_after(answer: object) -> None:
    retry_after = answer.headers["retry-after"]  # type: ignore[attr-defined]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60


def test_tokens_are_limited_by_client_id(hub: Hub) -> None:
    client = limited(hub, token_client="3/minute")  # noqa: S106 - a limit, not a password
    for _ in range(3):
        assert client.post(clients.TOKEN_PATH, data=token_form(hub)).status_code == 200
    refused = client.post(clients.TOKEN_PATH, data=token_form(hub))
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert_retry_after(refused)
    other = client.post(clients.TOKEN_PATH, data=token_form(hub, "A397000000"))
    assert other.status_code == 200  # another client is not held back


def test_tokens_are_limited_by_address(hub: Hub) -> None:
    client = limited(hub, token_address="2/minute")  # noqa: S106 - a limit, not a password
    for _ in range(2):
        assert client.post(clients.TOKEN_PATH, data={"grant_type": "x"}).status_code == 400
    refused = client.post(clients.TOKEN_PATH, data=token_form(hub))
    assert refused.status_code == 429
    assert_retry_after(refused)


def test_the_api_is_limited_by_address_and_by_client(hub: Hub) -> None:
    client = limited(hub, api_address="4/minute", api_client="2/minute")
    auth = {"Authorization": f"Bearer {hub.token(AGENCY)}"}
    assert [client.get("/api/v1/submissions", headers=auth).status_code for _ in range(3)] == [200, 200, 429]
    refused = client.get("/api/v1/submissions")
    assert refused.status_code == 401  # another caller, same address: the address has room left
    assert client.get("/api/v1/submissions").status_code == 429
    last = client.get("/api/v1/submissions")
    assert last.json()["error"]["code"] == "request.too_many"
    assert_retry_after(last)


def test_the_portal_sign_in_is_limited_by_address(hub: Hub) -> None:
    client = limited(hub, sign_in_address="2/minute")
    form = {"username": "nobody", "password": "wrong"}
    answers = [client.post(SIGN_IN, data=form).status_code for _ in range(3)]
    assert answers[:2] != [429, 429] and answers[2] == 429
    assert client.get(SIGN_IN).status_code == 200  # reading the page is not limited


def test_the_database_counters_are_exact_under_concurrency(hub: Hub) -> None:
    storage = DatabaseStorage(hub.platform.db)
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: storage.incr("k", 60), range(80)))
    assert sorted(counts) == list(range(1, 81))
    assert storage.get("k") == 80
    assert storage.incr("short", 0) == 1 and storage.incr("short", 60) == 1  # an expired window restarts


def refusal_events(hub: Hub) -> list[tuple[str, str | None]]:
    with hub.platform.db.transaction() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.detail)
            .where(AuditEvent.action == "request.authenticate")
            .order_by(AuditEvent.id)
        )
        return [(actor, detail) for actor, detail in rows]


def test_repeated_refusals_are_one_event_with_their_number(hub: Hub) -> None:
    for _ in range(20):
        assert hub.client.get("/api/v1/submissions", headers={"Authorization": "Bearer x"}).status_code == 401
    assert len(refusal_events(hub)) == 1
    later = dt.datetime.now(dt.UTC) + refusals.WINDOW + dt.timedelta(seconds=1)
    with hub.platform.db.transaction() as session:
        assert refusals.flush(session, now=later) == 19
    events = refusal_events(hub)
    assert len(events) == 2 and events[1][0] == "anonymous:testclient"
    assert '"repeats": 19' in (events[1][1] or "")
    ledger.seal(hub.platform)
    assert ledger.verify(hub.platform).ok


def test_refused_token_requests_are_counted_too(hub: Hub) -> None:
    for _ in range(5):
        assert hub.client.post(clients.TOKEN_PATH, data={"grant_type": "x"}).status_code == 400
    with hub.platform.db.transaction() as session:
        denied = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "client.token")).all()
    assert len(denied) == 1

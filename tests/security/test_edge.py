"""The HTTP edge: headers every answer carries, the hosts answered, the proxies believed, 405 with
``Allow``, ``HEAD`` on the probes and 431 for an oversized head; over real HTTP where the server's
own handling matters (tests/served.py)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.api.app import create_app
from aedx.exchange.platform import Platform
from aedx.settings import Settings
from aedx.storage.tables import AuditEvent
from tests.exchange.hub import Hub
from tests.served import serving


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    made = Platform(Settings(tmp_path, f"sqlite:///{tmp_path / 'aedx.db'}", 1 << 20, b"k" * 32))
    made.db.migrate()
    yield made
    made.close()


def configured(platform: Platform, **changes: object) -> Platform:
    return Platform(dataclasses.replace(platform.settings, **changes))  # type: ignore[arg-type]


def denied_addresses(platform: Platform) -> list[str]:
    with platform.db.transaction() as session:
        return list(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "request.authenticate"))
        )


def test_api_answers_are_neither_stored_nor_sniffed(platform: Platform) -> None:
    client = TestClient(create_app(platform))
    refused = client.get("/api/v1/submissions")
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert client.get("/health").headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in refused.headers  # plain HTTP


def test_hsts_over_tls(platform: Platform) -> None:
    client = TestClient(create_app(platform), base_url="https://testserver")
    assert client.get("/health").headers["strict-transport-security"].startswith("max-age=31536000")


def test_other_hosts_are_refused_and_never_reflected(database_url: str, tmp_path: Path) -> None:
    hub = Hub(database_url, tmp_path)
    try:
        narrowed = configured(hub.platform, allowed_hosts=("testserver",))
        client = TestClient(create_app(narrowed))
        auth = {"Authorization": f"Bearer {hub.token('A383000000')}"}
        body = b"x" * 10
        params = {"kind": "case_referral", "size": "10", "sha256": hashlib.sha256(body).hexdigest()}
        opened = client.post("/api/v1/uploads", params=params, headers=auth)
        assert opened.status_code == 201, opened.text
        assert opened.json()["upload_url"].startswith("http://testserver/")
        forged = client.post("/api/v1/uploads", params=params, headers=auth | {"Host": "evil.example"})
        assert forged.status_code == 400
        assert forged.json()["error"]["code"] == "request.host"
        assert "evil.example" not in forged.text
    finally:
        hub.close()
        hub.platform.close()


def test_hosts_default_to_the_public_url_and_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AEDX_ALLOWED_HOSTS", raising=False)
    monkeypatch.setenv("AEDX_PUBLIC_URL", "https://aedx.example.gov.tw")
    settings = Settings.from_env(tmp_path)
    assert settings.allowed_hosts == ("aedx.example.gov.tw", "localhost", "127.0.0.1", "::1")
    monkeypatch.setenv("AEDX_ALLOWED_HOSTS", "aedx.example.gov.tw, *.aea.gov.tw")
    assert Settings.from_env(tmp_path).allowed_hosts == ("aedx.example.gov.tw", "*.aea.gov.tw")


def test_a_local_process_cannot_choose_the_audited_address(platform: Platform) -> None:
    with serving(platform) as url:
        httpx.get(f"{url}/api/v1/submissions", headers={"X-Forwarded-For": "203.0.113.9"})
        assert (
            "strict-transport-security"
            not in httpx.get(f"{url}/health", headers={"X-Forwarded-Proto": "https"}).headers
        )
    assert denied_addresses(platform) == ["anonymous:127.0.0.1"]


def test_a_configured_proxy_is_believed(platform: Platform) -> None:
    behind = configured(platform, trusted_proxies=("127.0.0.1",))
    with serving(behind) as url:
        httpx.get(f"{url}/api/v1/submissions", headers={"X-Forwarded-For": "203.0.113.9"})
        secure = httpx.get(f"{url}/health", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["strict-transport-security"].startswith("max-age=")
    assert denied_addresses(platform) == ["anonymous:203.0.113.9"]


def test_a_wrong_method_names_the_allowed_ones(platform: Platform) -> None:
    answer = TestClient(create_app(platform)).delete("/api/v1/submissions")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert answer.json()["error"]["code"] == "http.405"


def test_head_on_the_probes(platform: Platform) -> None:
    with serving(platform) as url:
        for path in ("/health", "/ready"):
            answer = httpx.head(f"{url}{path}")
            assert answer.status_code == 200, path
            assert answer.content == b""


def test_an_oversized_head_gets_431(platform: Platform) -> None:
    with serving(platform) as url:
        answer = httpx.get(f"{url}/health", headers={"X-Padding": "a" * (20 << 10)})
        assert httpx.get(f"{url}/health", headers={"X-Padding": "a" * (8 << 10)}).status_code == 200
    assert answer.status_code == 431
    assert answer.json()["error"]["code"] == "request.headers_too_large"

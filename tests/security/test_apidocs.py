"""``/docs`` and ``/redoc`` load their scripts, styles and icon from the platform itself: a closed
network has no CDN, and nothing a third party serves runs in the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aedx.api.app import create_app
from aedx.exchange.platform import Platform
from aedx.settings import Settings

REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    platform = Platform(Settings(tmp_path, f"sqlite:///{tmp_path / 'aedx.db'}", 1 << 20, b"k" * 32))
    platform.db.migrate()
    return TestClient(create_app(platform))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_loads_only_its_own_assets(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    references = [a or b for a, b in REFERENCE.findall(html.text)]
    assert any(r.endswith(".js") for r in references), references
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 500, reference
    assert "https://" not in html.text and "http://" not in html.text

"""README's "Calling the API", run as written with the openssl and curl command lines against a
real server on loopback: the key made with openssl, registered with ``aedx clients register``, the
client assertion signed with ``openssl dgst``, the token fetched and the API called with curl."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import records
from tests.exchange.hub import Hub
from tests.served import readme_blocks, serving

HEADING = "## 呼叫 API Calling the API"


def recipe() -> str:
    """The shell block of README's "Calling the API" section, for the server under test."""
    (block,) = readme_blocks(HEADING)
    return re.sub(r"^AEDX_URL=.*$", "", block, flags=re.M)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    hub = Hub(database_url, tmp_path / "platform")
    with serving(hub.platform) as url:
        yield hub, url
    hub.close()


def test_the_readme_recipe_gets_a_token_with_openssl_and_calls_the_api(
    served: tuple[Hub, str], database_url: str, tmp_path: Path
) -> None:
    hub, url = served
    sent = hub.upload("A383000000", "case_referral", records("case_referral", {}).write_csv().encode()).json()
    script = recipe()
    assert "openssl dgst -sha256 -sign" in script and "aedx clients register A383000000" in script
    env = os.environ | {
        "AEDX_URL": url,
        "AEDX_DATABASE_URL": database_url,
        "AEDX_DATA_DIR": str(hub.platform.settings.data_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    work = tmp_path / "agency"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [s["id"] for s in listed] == [sent["id"]]
    assert (work / "key.pem").exists() and (work / "public.pem").exists()
    events = hub.get("A383000000", "/api/v1/audit", params={"action": "client.token", "limit": 100}).json()
    assert [e["outcome"] for e in events] == ["ok", "ok"]  # the hub's own token, then the recipe's
    assert events[1]["detail"]["alg"] == "RS256"

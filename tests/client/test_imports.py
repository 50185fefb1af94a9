"""The client installs and runs without the platform's server side."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_ONLY = ("aedx.storage", "aedx.exchange", "aedx.api", "aedx.web", "aedx.accounts", "fastapi", "sqlalchemy",
               "starlette", "uvicorn", "polars")  # fmt: skip


def test_the_client_loads_nothing_of_the_server() -> None:
    code = (
        "import json, sys, aedx.client, aedx.client.cli, aedx.client.exchange;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "aedx.client.exchange" in loaded  # the check sees what was imported
    assert [m for m in loaded if m.split(".")[0] in SERVER_ONLY or m.startswith(SERVER_ONLY)] == []

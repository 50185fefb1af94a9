"""The operator's commands on a real database: organisations, the worker, the audit
export, the demonstration, and migrations that match the models."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aedx.accounts import clients
from aedx.storage.db import Database
from aedx.storage.tables import Base
from aedx.trust import audit
from tests.builders import records
from tests.exchange.hub import Hub

AEDX = [sys.executable, "-m", "aedx"]


def aedx(*args: str, database_url: str, data: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AEDX_DATABASE_URL": database_url, "AEDX_DATA_DIR": str(data)}
    return subprocess.run(
        [*AEDX, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()  # again: a no-op
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.dispose()


def test_orgs_import_and_list(database_url: str, tmp_path: Path) -> None:
    agencies = tmp_path / "agencies.csv"
    agencies.write_text(
        "\ufeffcode,name,role,category,preferred_format,preferred_encoding\n"
        "A383000000,財政部臺北國稅局,agency,tax,csv,utf-8\n"
        "A397000000,衛生福利部中央健康保險署,agency,nhi,fixed,big5\n"
        'A399000000,"=HYPERLINK(""http://x"")",agency,tax,csv,utf-8\n',
        encoding="utf-8",
    )
    done = aedx("orgs", "import", str(agencies), database_url=database_url, data=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 個機關，新增 3" in done.stderr
    again = aedx("orgs", "import", str(agencies), database_url=database_url, data=tmp_path)
    assert "新增 0" in again.stderr
    listed = aedx("orgs", "list", database_url=database_url, data=tmp_path).stdout
    assert "衛生福利部中央健康保險署" in listed and "cp950" in listed and "士林分署" in listed
    assert '\'=HYPERLINK(""http://x"")' in listed  # a script's CSV opens without a formula

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,category\nlower,名稱,tax\nA1,名稱,money\n", encoding="utf-8")
    refused = aedx("orgs", "import", str(bad), database_url=database_url, data=tmp_path)
    assert refused.returncode == 1
    assert "line 2" in refused.stderr and "line 3" in refused.stderr


def test_audit_export_and_worker_once(database_url: str, tmp_path: Path) -> None:
    hub = Hub(database_url, tmp_path)
    body = records("case_referral", {"agency_case_no": "X1"}).write_csv().encode()
    sub = hub.upload("A383000000", "case_referral", body).json()
    done = aedx("worker", "--once", database_url=database_url, data=tmp_path)
    assert done.returncode == 0 and "ran 1 jobs" in done.stderr, done.stderr
    with hub.platform.db.transaction() as session:
        audit.record(session, actor="user:1", action="x.test", kind="case_referral", object_id="=1+2")
    hub.close()
    out = tmp_path / "audit.jsonl"
    exported = aedx(
        "audit",
        "export",
        "--out",
        str(out),
        "--submission",
        sub["id"],
        database_url=database_url,
        data=tmp_path,
    )
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    actions = [e["action"] for e in events]
    assert actions[:5] == [
        "submission.received",
        "submission.validating",
        "submission.accepted",
        "submission.routed",
        "delivery.ready",
    ]
    assert actions[-1] == "submission.delivered"
    assert all(e["at"].endswith("+00:00") for e in events)
    as_csv = tmp_path / "audit.csv"
    aedx(
        "audit",
        "export",
        "--out",
        str(as_csv),
        "--kind",
        "case_referral",
        database_url=database_url,
        data=tmp_path,
    )
    exported_csv = as_csv.read_text(encoding="utf-8")
    assert exported_csv.startswith("id,at (UTC),actor,organisation,action")
    rows = list(csv.DictReader(io.StringIO(exported_csv)))
    assert [r["object_id"] for r in rows if r["action"] == "x.test"] == ["'=1+2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_demo_day_runs_on_the_embedded_default_and_keeps_serving(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEDX_")}
    proc = subprocess.Popen(
        [*AEDX, "demo", "--cases", "200", "--days", "2", "--serve", "--port", str(port),
         "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        lines = []
        assert proc.stderr is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}" in text, text
        assert "CLIENT_ID=" in text and "Authorization: Bearer aedx_at_" in text, text
        enrolled = json.loads((tmp_path / "demo-clients.json").read_text())
        key_file = Path(enrolled["aea"]["key"])
        assert key_file.stat().st_mode & 0o077 == 0
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        url = f"http://127.0.0.1:{port}/oauth/token"
        form = {
            "grant_type": clients.GRANT_TYPE,
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": clients.make_assertion(enrolled["aea"]["client_id"], key, url),
        }
        issued = httpx.post(url, data=form)
        assert issued.status_code == 200, issued.text
        auth = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        subs = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/submissions", headers=auth, params={"limit": 1000}
        ).json()
        states = {s["state"] for s in subs}
        assert {"acknowledged"} <= states and states <= {"acknowledged", "delivered", "rejected"}
        kinds = {s["kind"] for s in subs if s["state"] != "rejected"}
        assert kinds == {"case_referral", "payment", "status_feedback"}
        assert (tmp_path / "aedx.db").exists()
        # the printed portal login of the agency's person signs in (and must choose a password)
        found = re.search(r"chen\.yating / (\S+)（", text)
        assert found is not None, text
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            form = browser.get("/portal/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
            assert token is not None
            answer = browser.post(
                "/portal/sign-in",
                data={"username": "chen.yating", "password": found.group(1), "csrf_token": token.group(1)},
            )
            assert answer.status_code == 303 and answer.headers["location"] == "/portal/password"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health(database_url: str, tmp_path: Path, path: str) -> None:
    hub = Hub(database_url, tmp_path)
    assert hub.client.get(path).status_code == 200
    hub.close()


def test_openapi_is_3_1_and_errors_share_one_shape(database_url: str, tmp_path: Path) -> None:
    hub = Hub(database_url, tmp_path)
    spec = hub.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path, operations in spec["paths"].items():
        if path.startswith("/api/"):
            for op in operations.values():
                assert op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/Error"
                )
    bad = hub.get("A383000000", "/api/v1/inbox", params={"limit": "many"})
    assert bad.status_code == 422 and set(bad.json()["error"]) == {"code", "message_zh", "message_en"}
    hub.close()

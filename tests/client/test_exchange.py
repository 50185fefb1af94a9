"""The client against a real platform on loopback: push files the outbox holds, file them with
their receipts or reports, pull the packages, write them once, acknowledge them; and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from aedx import client as aedx_client
from aedx.client.exchange import Client
from aedx.client.http import Platform, PlatformError, Unreachable
from aedx.storage.tables import Delivery, Organisation, Submission
from aedx.trust import cms
from tests.builders import records, write
from tests.client.support import Server, client_folder, free_port
from tests.exchange.hub import Hub

AGENCY = "A383000000"


def referral(folder: Path, i: int, **override: str | None) -> Path:
    frame = records("case_referral", {"agency_case_no": f"113TAX{i:06d}"} | override)
    return write(folder / f"referral-{i:04d}.csv", "case_referral", frame)


def recipients(hub: Hub) -> dict[str, int]:
    """Deliveries made so far, by recipient code."""
    with hub.platform.db.transaction() as session:
        rows = session.execute(
            select(Organisation.code).join(Delivery, Delivery.recipient_id == Organisation.id)
        ).all()
    found: dict[str, int] = {}
    for (code,) in rows:
        found[code] = found.get(code, 0) + 1
    return found


def test_push_files_each_file_with_its_receipt_or_report(hub: Hub, server: Server, tmp_path: Path) -> None:
    config = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", server.url))
    c = Client(config)
    try:
        config.make_folders()
        good = [referral(config.outbox, i) for i in range(3)]
        bad = referral(config.outbox, 9, obligor_id="X")
        (config.outbox / "referral-0100.csv.part").write_bytes(b"half a file")
        (config.outbox / "unknown.txt").write_bytes(b"no pattern reads it")
        counts = c.push()
        assert (counts.accepted, counts.rejected, counts.skipped, counts.failed) == (3, 1, 1, 0)
        for f in good:
            assert (config.sent / f.name).exists() and not f.exists()
            signed = cms.verify((config.sent / f"{f.name}.receipt.p7s").read_bytes())
            assert json.loads(bytes(signed.content))  # the platform's decision, signed
        assert (config.rejected / bad.name).exists()
        assert "obligor_id" in (config.rejected / f"{bad.name}.report.csv").read_text(encoding="utf-8-sig")
        assert sorted(p.name for p in config.outbox.iterdir()) == ["referral-0100.csv.part", "unknown.txt"]
        # the same file again, by a second client of the organisation, is the same submission
        again = referral(config.outbox, 0)
        assert c.push().accepted == 1
        assert (config.sent / again.name).exists()
        with hub.platform.db.transaction() as session:
            assert len(session.scalars(select(Submission)).all()) == 4
    finally:
        c.close()


def test_pull_writes_each_package_once_and_acknowledges_it(hub: Hub, server: Server, tmp_path: Path) -> None:
    agency = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", server.url))
    pusher = Client(agency)
    agency.make_folders()
    for i in range(4):
        referral(agency.outbox, i)
    assert pusher.push().accepted == 4
    pusher.close()
    (branch, made), *_ = sorted(recipients(hub).items())
    config = aedx_client.load(client_folder(hub, branch, tmp_path / "branch", server.url))
    c = Client(config)
    try:
        counts = c.pull()
        assert (counts.written, counts.acknowledged, counts.failed) == (made, made, 0)
        written = sorted(config.inbox.iterdir())
        assert len(written) == made and all(b"113TAX" in p.read_bytes() for p in written)
        assert hub.inbox(branch) == []  # acknowledged
        assert c.pull().acknowledged == 0
    finally:
        c.close()


def test_the_command_line_runs_both_directions_and_writes_its_health(
    hub: Hub, server: Server, tmp_path: Path
) -> None:
    config_file = client_folder(hub, AGENCY, tmp_path / "agency", server.url)
    config = aedx_client.load(config_file)
    config.make_folders()
    referral(config.outbox, 1)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "aedx.client.cli", "sync", "--once", "--config", str(config_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    events = [json.loads(line)["event"] for line in run.stderr.splitlines()]
    assert "push.filed" in events and "pull.done" in events
    health = json.loads((config.state / "health.json").read_text())
    assert health["push"]["counts"]["accepted"] == 1 and "last_success" in health["pull"]
    assert "last_error" not in health


def test_a_wrong_configuration_is_said_in_both_languages(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('organisation = "A383000000"\nplatform_url = "ftp://x"\n')
    run = subprocess.run(
        [sys.executable, "-m", "aedx.client.cli", "push", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "設定錯誤" in run.stderr and "configuration error" in run.stderr


def test_a_key_others_may_read_is_refused(hub: Hub, tmp_path: Path) -> None:
    config_file = client_folder(hub, AGENCY, tmp_path / "agency", "http://127.0.0.1:9")
    (tmp_path / "agency" / "keys" / "oauth.key").chmod(0o644)
    with pytest.raises(aedx_client.ConfigError, match="chmod 600"):
        aedx_client.load(config_file)


def test_the_documented_example_configuration_reads(hub: Hub, tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "client" / "aedx-client.toml"
    made = client_folder(hub, AGENCY, tmp_path, "http://127.0.0.1:9")  # keys and certificates
    assert made.parent == tmp_path
    (tmp_path / "example.toml").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    config = aedx_client.load(tmp_path / "example.toml")
    assert config.every == 600 and config.rule("daily-referral-20261125.txt") is not None
    assert config.rule("daily-referral-20261125.txt").format == "fixed"  # type: ignore[union-attr]
    assert config.inbox == Path("/srv/aedx/inbox")


def test_an_unreachable_platform_is_retried_then_reported(hub: Hub, tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    config_file = client_folder(hub, AGENCY, tmp_path / "agency", f"http://127.0.0.1:{closed}", attempts=3)
    config = aedx_client.load(config_file)
    config.make_folders()
    referral(config.outbox, 1)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "aedx.client.cli",
            "sync",
            "--every",
            "1s",
            "--runs",
            "2",
            "--config",
            str(config_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3, run.stderr
    events = [json.loads(line)["event"] for line in run.stderr.splitlines()]
    assert events.count("push.unreachable") == 2 and events.count("pull.unreachable") == 2
    health = json.loads((config.state / "health.json").read_text())
    assert "gave up after 3 tries" in health["last_error"]["error"]
    assert "last_success" not in health["push"] and "last_success" not in health["pull"]
    assert (config.outbox / "referral-0001.csv").exists()  # nothing lost


class Flaky(BaseHTTPRequestHandler):
    """Answers 503, then 429 with Retry-After, then the certificate; counts the requests."""

    answers: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        body = b"-----BEGIN CERTIFICATE-----" if status == 200 else b"busy"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_5xx_and_429_are_retried_with_backoff(hub: Hub, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        config = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", url, attempts=4))
        waits: list[float] = []
        platform = Platform(config, sleep=waits.append)
        Flaky.answers = [503, 502, 429]
        response = platform.request("GET", "/api/v1/trust/certificates/root", auth=False)
        assert response.status_code == 200 and platform.retries == 3
        assert len(waits) == 3 and all(0 <= w <= 1 for w in waits)
        Flaky.answers = [503] * 4
        with pytest.raises(Unreachable, match="gave up after 4 tries"):
            platform.request("GET", "/api/v1/trust/certificates/root", auth=False)
        Flaky.answers = [404]
        with pytest.raises(PlatformError) as refused:  # not retried: a retry does not mend it
            platform.request("GET", "/api/v1/trust/certificates/root", auth=False)
        assert refused.value.status == 404 and Flaky.answers == []
        platform.close()
    finally:
        server.shutdown()


def test_a_file_the_platform_refuses_goes_to_rejected_with_its_answer(
    hub: Hub, server: Server, tmp_path: Path
) -> None:
    config = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", server.url))
    config.make_folders()
    frame = records("status_feedback")
    write(config.outbox / "feedback-0001.csv", "status_feedback", frame)  # an agency may not send it
    c = Client(config)
    try:
        counts = c.push()
    finally:
        c.close()
    assert (counts.rejected, counts.failed) == (1, 0)
    assert list(config.outbox.iterdir()) == []
    answer = (config.rejected / "feedback-0001.csv.refused.txt").read_text()
    assert "403" in answer and "auth.denied" in answer


def test_a_number_that_is_not_one_is_a_configuration_error(hub: Hub, tmp_path: Path) -> None:
    config_file = client_folder(hub, AGENCY, tmp_path / "agency", "http://127.0.0.1:9")
    text = config_file.read_text().replace("timeout_seconds = 20", 'timeout_seconds = "soon"')
    config_file.write_text(text)
    with pytest.raises(aedx_client.ConfigError, match="soon"):
        aedx_client.load(config_file)

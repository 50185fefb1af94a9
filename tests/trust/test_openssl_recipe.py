"""README's "Signed and encrypted exchange with curl and openssl", run as written against a real
server on loopback: the organisation's keys and CSRs made with openssl and certified with
``aedx pki issue``, a file signed and enveloped with ``openssl cms``, uploaded with curl, its
receipt verified with ``openssl cms -verify``; then a feedback package downloaded, decrypted,
verified and acknowledged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select

from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import Delivery
from tests.accounts.test_calling_the_api import recipe
from tests.builders import records
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import referrals
from tests.served import readme_blocks, serving

AGENCY = "A383000000"


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    hub = Hub(database_url, tmp_path / "platform")
    with serving(hub.platform) as url:
        yield hub, url
    hub.close()


def root_fingerprint(hub: Hub) -> str:
    return hub.platform.authority.root.fingerprint(hashes.SHA256()).hex()


def run(hub: Hub, script: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a block while this test plays the platform's worker."""
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        hub.worker.drain()
        time.sleep(0.2)
    out, err = process.communicate(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_an_agency_with_only_curl_and_openssl_sends_reads_its_receipt_and_opens_its_deliveries(
    served: tuple[Hub, str], database_url: str, tmp_path: Path
) -> None:
    hub, url = served
    token = recipe()
    send, receive = readme_blocks("## 簽章與加密 Signed and encrypted exchange")
    env = os.environ | {
        "AEDX_URL": url,
        "AEDX_DATABASE_URL": database_url,
        "AEDX_DATA_DIR": str(hub.platform.settings.data_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AEDX_ROOT_SHA256": root_fingerprint(hub),  # as HQ publishes it, out of band
    }
    work = tmp_path / "agency"
    work.mkdir()
    (work / "day.csv").write_bytes(
        encode_records(referrals("sly", "sly"), get_kind("case_referral"), "csv", "utf-8")
    )

    done = run(hub, token + send, work, env)
    assert done.returncode == 0, done.stderr
    receipt = json.loads((work / "receipt.json").read_text())
    assert receipt["sender"] == AGENCY and receipt["state"] == "accepted"
    assert (receipt["records"], receipt["error_rows"]) == (2, 0)
    assert receipt["recipients"] == [{"recipient": "sly", "records": 2}]  # which branch got what
    sub = hub.get(AGENCY, f"/api/v1/submissions/{receipt['submission_id']}").json()
    assert sub["sha256"] == receipt["sha256"] and sub["filename"] == "day.csv"
    assert sub["recipients"] == receipt["recipients"]
    assert subprocess.run(
        ["sha256sum", "day.csv"], cwd=work, capture_output=True, text=True
    ).stdout.startswith(receipt["sha256"])  # the receipt names the very content the agency signed

    # A root that is not the one HQ published stops the script before anything is sent.
    impostor = run(hub, token + send, work, env | {"AEDX_ROOT_SHA256": "00" * 32})
    assert impostor.returncode != 0 and "is not the root HQ published" in impostor.stderr

    # The branch answers; the agency's feedback package is sealed to its new encryption certificate.
    hub.send("sly", "status_feedback", records("status_feedback", {"agency_case_no": "C00000"}))
    done = run(hub, token + receive, work, env)
    assert done.returncode == 0, done.stderr
    with hub.platform.db.transaction() as session:
        feedback = session.scalars(select(Delivery).where(Delivery.kind == "status_feedback")).all()
        states = {d.state for d in feedback}
        (delivery_id,) = [d.id for d in feedback]
    package = (work / f"{delivery_id}.csv").read_text()  # each download under its own name
    assert "C00000" in package and package.count("\n") == 3  # header, the record, the control trailer
    assert states == {"acknowledged"}


def test_a_changed_receipt_fails_openssl_verification(served: tuple[Hub, str], tmp_path: Path) -> None:
    hub, _ = served
    sub = hub.send(AGENCY, "case_referral", referrals("sly"))
    receipt = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/receipt")
    assert receipt.status_code == 200 and receipt.headers["content-type"].startswith("application/pkcs7-mime")
    (tmp_path / "root.pem").write_bytes(hub.get(AGENCY, "/api/v1/trust/certificates/root").content)
    forged = receipt.content.replace(b'"records": 1', b'"records": 9')
    assert forged != receipt.content
    for name, data, ok in (("good.p7s", receipt.content, True), ("forged.p7s", forged, False)):
        (tmp_path / name).write_bytes(data)
        verified = subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", name, "-CAfile", "root.pem"],
            cwd=tmp_path, capture_output=True, check=False,
        )  # fmt: skip
        assert (verified.returncode == 0) is ok, verified.stderr

"""Benchmark: aedx-client on an agency's and the branches' servers, against the platform it talks to.

`aedx serve` runs on loopback (the embedded SQLite platform with its in-process worker, or
PostgreSQL with ``--database``). Each run, an agency's `aedx-client push` sends a new referral file
of N records (signed, enveloped, through an upload session above 8 MB) and waits until the platform
has delivered it; then the 13 branches' `aedx-client pull` download, verify, decrypt, write and
acknowledge their packages. Both are timed as whole processes, with their peak resident memory.

The baselines, in the same run: another file of the same size, already sealed, POSTed with a bare
HTTP client and waited for in the same way (the platform's own time, without the client's signing,
encryption, journal and filing); and its packages downloaded with a bare HTTP client (no
verification, decryption or durable write). Medians of K runs, each with new files; figures go to
bench/out/client.json.

    python bench/client.py [--records N] [--runs K] [--database URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aedx import refdata
from aedx.accounts import organisations as orgs
from aedx.exchange.platform import Platform
from aedx.kinds import get_kind
from aedx.settings import Settings
from aedx.sim import demo
from aedx.sim.adapter import encode_file, write_durably
from aedx.sim.agencies import DEMO_AGENCIES_CSV
from aedx.sim.network import Office
from aedx.sim.records import MAKERS, Setting
from aedx.trust import cms
from aedx.trust.pki import Identity
from measure import whole_process

OUT = Path(__file__).parent / "out"
AGENCY = "A383000000"
ACTOR = "bench"
FINISHED = {"rejected", "delivered", "acknowledged"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AEDX_CLIENT = str(Path(sys.executable).with_name("aedx-client"))


def client(command: str, office: Office) -> tuple[float, int]:
    return whole_process([AEDX_CLIENT, command, "--config", str(office.folder / "aedx-client.toml")])


def referrals(records: int, first: int, today: dt.date) -> bytes:
    kind = get_kind("case_referral")
    rng = np.random.default_rng(first)
    frame = MAKERS[kind.name](kind, rng, first, records, Setting(today, AGENCY, big5_only=False))
    return encode_file(frame, kind)


@contextmanager
def served(data_dir: Path, database: str | None, port: int) -> Iterator[httpx.Client]:
    command = [sys.executable, "-m", "aedx", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if database:
        command += ["--database", database]
    log = (OUT / "client-serve.log").open("w")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600)
    try:
        for _ in range(600):
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield http
    finally:
        http.close()
        server.terminate()
        server.wait()


def wait(http: httpx.Client, token: str, url: str) -> None:
    while (
        state := http.get(url, headers={"Authorization": f"Bearer {token}"}).json()["state"]
    ) not in FINISHED:
        time.sleep(0.05)
    if state != "delivered":
        raise SystemExit(f"{url} ended {state}")


def bare_push(http: httpx.Client, member: demo.Member, sealed: bytes) -> float:
    """The sealed file POSTed as one body, then waited for until delivered."""
    start = time.perf_counter()
    token = member.credentials.token(http)
    response = http.post(
        "/api/v1/submissions",
        params={"kind": "case_referral", "format": "csv", "encoding": "utf-8", "filename": "bare.csv"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pkcs7-mime"},
        content=sealed,
    )
    response.raise_for_status()
    wait(http, token, response.json()["status_url"])
    return time.perf_counter() - start


def bare_pull(http: httpx.Client, branches: list[demo.Member]) -> tuple[float, int]:
    """Each branch's waiting packages downloaded and acknowledged, nothing else; seconds and bytes."""
    start, size = time.perf_counter(), 0
    for b in branches:
        auth = {"Authorization": f"Bearer {b.credentials.token(http)}"}
        for d in http.get("/api/v1/inbox", headers=auth, params={"limit": 1000}).json():
            with http.stream("GET", f"/api/v1/deliveries/{d['id']}/content", headers=auth) as response:
                for block in response.iter_bytes(1 << 20):
                    size += len(block)
            http.post(f"/api/v1/deliveries/{d['id']}/ack", headers=auth).raise_for_status()
    return time.perf_counter() - start, size


def inbox_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", help="a PostgreSQL URL; the embedded SQLite by default")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="aedx-bench-client-"))
    try:
        settings = Settings.from_env(root / "platform", args.database)
        platform = Platform(settings)
        platform.db.migrate()
        with platform.db.transaction() as session:
            orgs.seed_reference(session, ACTOR)
            orgs.upsert(session, orgs.parse_csv(DEMO_AGENCIES_CSV), ACTOR)
        members = {m.code: m for m in demo.enrol(platform, ACTOR)}
        today = settings.current_day()
        platform.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        agency = Office(AGENCY, "agency", root / "offices" / AGENCY)
        branches = [Office(b.code, "branch", root / "offices" / b.code) for b in refdata.branches()]
        for office in [agency, *branches]:
            office.install(members[office.code].keys, url)
        rows: list[dict[str, float]] = []
        with served(root / "platform", args.database, port) as http:
            published = {
                name: x509.load_pem_x509_certificate(http.get(f"/api/v1/trust/certificates/{name}").content)
                for name in ("platform-encryption", "issuing")
            }
            keys = members[AGENCY].keys
            key = serialization.load_pem_private_key(keys.signing_key.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            certificate = x509.load_pem_x509_certificate(keys.signing_certificate.read_bytes())
            signer = Identity(key, certificate, published["issuing"])
            for run in range(args.runs):
                first = 1 + run * 2 * args.records
                data = referrals(args.records, first, today)
                write_durably(agency.folder / "outbox", f"case_referral-{AGENCY}-{run:03d}.csv", data)
                push_s, push_peak = client("push", agency)
                pulled = [client("pull", b) for b in branches]
                pull_s, pull_peak = sum(s for s, _ in pulled), max(p for _, p in pulled)
                written = sum(inbox_bytes(b.folder / "inbox") for b in branches)
                for b in branches:  # the next run counts its own packages
                    shutil.rmtree(b.folder / "inbox")
                other = referrals(args.records, first + args.records, today)
                sealed = b"".join(cms.seal(other, signer, published["platform-encryption"]))
                base_push_s = bare_push(http, members[AGENCY], sealed)
                base_pull_s, downloaded = bare_pull(http, [members[b.code] for b in branches])
                rows.append({
                    "client_push_s": push_s, "client_push_peak_mb": push_peak / 2**20,
                    "bare_push_s": base_push_s, "client_pull_s": pull_s,
                    "client_pull_peak_mb": pull_peak / 2**20, "bare_pull_s": base_pull_s,
                    "file_mb": len(data) / 2**20, "packages_mb": written / 2**20,
                    "downloaded_mb": downloaded / 2**20,
                })  # fmt: skip
                print(
                    json.dumps({"run": run + 1} | {k: round(v, 3) for k, v in rows[-1].items()}), flush=True
                )
        start_up = statistics.median(whole_process([AEDX_CLIENT, "--help"])[0] for _ in range(5))
        median = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        figures = {
            "records": args.records,
            "runs": args.runs,
            "database": "postgresql" if args.database else "sqlite",
            "median": {k: round(v, 3) for k, v in median.items()},
            "push_records_per_s": round(args.records / median["client_push_s"]),
            "push_mb_per_s": round(median["file_mb"] / median["client_push_s"], 1),
            "bare_push_records_per_s": round(args.records / median["bare_push_s"]),
            "push_time_vs_bare": round(median["client_push_s"] / median["bare_push_s"], 2),
            "pull_records_per_s": round(args.records / median["client_pull_s"]),
            "pull_mb_per_s": round(median["packages_mb"] / median["client_pull_s"], 1),
            "pull_time_vs_bare": round(median["client_pull_s"] / median["bare_pull_s"], 2),
            "client_start_up_s": round(start_up, 3),  # one process's start, in each push and each pull
        }
        (OUT / "client.json").write_text(json.dumps(figures, indent=1))
        print(json.dumps(figures, indent=1))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

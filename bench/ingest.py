"""Benchmark: files through the whole exchange on PostgreSQL, as agencies send them, in the clear
and with both hops protected (signed and enveloped uploads, signed and enveloped packages), the two
taking turns in one run.

A 1,000,000-record case_referral file is uploaded over HTTP to `aedx serve` and timed until its
deliveries are ready (validated, routed, indexed, packaged per branch); then 1,000,000 payments
against a case index of at least 5,000,000 cases (pre-filled in bulk, then grown by the referral
runs). The API and the worker run as separate processes, as in production, on a durable
PostgreSQL started from the machine's server binaries. Each run uses a new file (the platform
would answer a repeated file with the first submission), and the median is reported with the
peak memory of each process and, in the same run, pyarrow's raw parse time of the same file and the
protected exchange's share of the plain one's records/s.
Figures go to bench/out/ingest.json.

    python bench/ingest.py [--records N] [--index N] [--runs K]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pyarrow.csv as pacsv
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aedx import refdata
from aedx.accounts import certificates, clients, grants
from aedx.accounts import organisations as orgs
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.sim.demo import Credentials
from aedx.sim.records import MAKERS, Setting
from aedx.storage import bulk
from aedx.storage.db import Database
from aedx.storage.localpg import LocalPostgres
from aedx.trust import cms
from aedx.trust.pki import Authority, Identity, Usage

OUT = Path(__file__).parent / "out"
MODES = {  # both runs in one go: the exchange in the clear (the pipeline alone) and both hops protected
    "plain": {"AEDX_PLAIN_EXCHANGE": "1"},
    "protected": {},
}
AGENCY = "A383000000"
TODAY = dt.date.today()
PG_SETTINGS = {  # a production server's usual tuning for bulk loads (the defaults are for small machines)
    "shared_buffers": "2GB",
    "maintenance_work_mem": "512MB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
    "wal_compression": "lz4",
}


def referral_file(records: int, run: int) -> Path:
    """A file of new cases: each run's case numbers start where the last run's ended."""
    path = OUT / f"ingest-referral-{records}-{run}.csv"
    if not path.exists():
        kind = get_kind("case_referral")
        rng = np.random.default_rng(run)
        with path.open("wb") as out:
            for start in range(0, records, 200_000):
                n = min(200_000, records - start)
                frame = MAKERS[kind.name](
                    kind, rng, run * records + start + 1, n, Setting(TODAY, AGENCY, False)
                )
                out.write(encode_records(frame, kind, "csv", "utf-8", header=start == 0))
    return path


def payment_file(referral: Path, records: int, run: int) -> Path:
    """Payments for cases a referral run opened, each with its own receipt number."""
    path = OUT / f"ingest-payment-{records}-{run}.csv"
    if not path.exists():
        kind = get_kind("payment")
        cases = pl.read_csv(referral, columns=["agency_case_no"])["agency_case_no"]
        rng = np.random.default_rng(1000 + run)
        picked = cases.gather(rng.integers(0, cases.len(), records))
        frame = MAKERS[kind.name](kind, rng, run * records + 1, records, Setting(TODAY, AGENCY, True))
        frame = frame.with_columns(picked.alias("agency_case_no"))
        path.write_bytes(encode_records(frame, kind, "csv", "utf-8"))
    return path


def prefill(db: Database, cases: int) -> None:
    """Cases of 2,350 other agencies, loaded straight into the index in bulk."""
    rng = np.random.default_rng(5)
    branches = ["tpy", "sly", "pcy", "tyy", "scy", "tcy", "chy", "cyy", "tny", "ksy", "pty", "hly", "ily"]
    for start in range(0, cases, 1_000_000):
        n = min(1_000_000, cases - start)
        ids = np.arange(start, start + n)
        day = pl.lit(TODAY - dt.timedelta(days=400))
        frame = pl.DataFrame(
            {
                "agency_code": pl.Series(np.char.add("B", np.char.zfill((ids % 2350).astype(str), 9))),
                "agency_case_no": pl.Series(np.char.add("P", np.char.zfill(ids.astype(str), 12))),
                "branch_code": pl.Series(np.array(branches)[rng.integers(0, 13, n)]),
                "obligor_key": rng.integers(-(2**62), 2**62, n),
                "obligor_type": pl.Series(["P"] * n),
                "amount_due": rng.integers(100, 10**6, n),
                "collected": np.zeros(n, dtype=np.int64),
            }
        ).with_columns(
            day.alias("referral_date"),
            day.alias("due_date"),
            day.alias("enforcement_deadline"),
            pl.lit("REFERRED").alias("status"),
            pl.lit(True).alias("is_open"),
            day.alias("last_event_date"),
            pl.lit("prefill").alias("submission_id"),
        )
        with db.transaction() as session:
            bulk.insert(session, "cases", frame)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE cases")
        conn.exec_driver_sql("CHECKPOINT")  # the bulk load's checkpoint is not the runs' to pay


def peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            yield block


def submit_and_wait(client: httpx.Client, credentials: Credentials, kind: str, path: Path) -> float:
    start = time.perf_counter()
    media = "application/pkcs7-mime" if path.suffix == ".p7m" else "application/octet-stream"
    response = client.post(
        "/api/v1/submissions",
        params={"kind": kind, "format": "csv", "encoding": "utf-8", "filename": path.name},
        headers=credentials.headers(client) | {"Content-Type": media},
        content=chunks(path),
    )
    response.raise_for_status()
    url = response.json()["status_url"]
    while True:
        state = client.get(url, headers=credentials.headers(client)).json()
        if state["state"] in ("delivered", "rejected"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if state["state"] != "delivered":
        raise SystemExit(f"{path.name} was rejected: {state}")
    return elapsed


def pyarrow_parse(path: Path) -> float:
    start = time.perf_counter()
    pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=None, strings_can_be_null=True))
    return time.perf_counter() - start


def enrol(db: Database, authority: Authority) -> tuple[Credentials, Identity]:
    """The agency's API client and signing key; the branches' encryption certificates."""
    with db.transaction() as session:
        orgs.seed_reference(session, "bench")
        orgs.upsert(session, [orgs.OrgRow(AGENCY, "財政部臺北國稅局", "agency", "tax")], "bench")
        operator = orgs.operator(session, "bench")
        grants.apply_defaults(session, operator)
        key = ec.generate_private_key(ec.SECP256R1())
        client_id = clients.register(
            session, operator, AGENCY, public_key_pem=clients.public_key_pem(key), label="bench"
        ).client_id
        for branch in refdata.branches():
            certificates.issue(session, authority, branch.code, Usage.ENCRYPTION, "bench")
        issued = certificates.issue(session, authority, AGENCY, Usage.SIGNING, "bench")
    assert issued.key_pem is not None
    signing_key = serialization.load_pem_private_key(issued.key_pem, password=None)
    assert isinstance(signing_key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(issued.certificate.pem.encode())
    return Credentials(client_id, key), Identity(signing_key, cert, authority.issuing)


def sealed(path: Path, signer: Identity, platform: x509.Certificate) -> Path:
    """The file as the agency sends it: signed, enveloped to the platform (made before the clock
    starts: that is the agency's work)."""
    target = path.with_suffix(".p7m")
    with target.open("wb") as out:
        for part in cms.seal(path.read_bytes(), signer, platform):
            out.write(part)
    return target


@contextmanager
def platform_processes(env: dict[str, str], port: int) -> Iterator[tuple[httpx.Client, list[int]]]:
    """``aedx serve`` (the API) and ``aedx worker`` as separate processes, as in production."""
    aedx = [sys.executable, "-m", "aedx"]
    server = subprocess.Popen(
        [*aedx, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen([*aedx, "worker"], env=env, stderr=(OUT / "worker.log").open("a"))
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600)
    try:
        for _ in range(300):
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield client, [server.pid, worker.pid]
    finally:
        peaks[server.pid], peaks[worker.pid] = peak_bytes(server.pid), peak_bytes(worker.pid)
        client.close()
        server.terminate()
        worker.terminate()
        server.wait()
        worker.wait()


peaks: dict[int, int] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--index", type=int, default=4_000_000, help="cases loaded before the referral runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    (OUT / "worker.log").write_text("")
    print(f"preparing {2 * args.runs} referral and payment files of {args.records:,} records…", flush=True)
    referrals = [referral_file(args.records, run) for run in range(2 * args.runs)]
    payments = [payment_file(referrals[run], args.records, run) for run in range(2 * args.runs)]

    data_dir = OUT / "platform"
    shutil.rmtree(data_dir, ignore_errors=True)
    authority = Authority.create(data_dir / "pki")
    platform_certificate = authority.identity(Usage.ENCRYPTION).certificate
    authority.identity(Usage.SIGNING)
    with LocalPostgres(durable=True, settings=PG_SETTINGS) as pg:
        db = Database(pg.url)
        db.migrate()
        print(f"loading {args.index:,} cases into the index…", flush=True)
        prefill(db, args.index)
        credentials, signer = enrol(db, authority)
        env = os.environ | {"AEDX_DATABASE_URL": pg.url, "AEDX_DATA_DIR": str(data_dir)}
        times: dict[str, dict[str, list[float]]] = {m: {"case_referral": [], "payment": []} for m in MODES}
        memory: dict[str, list[int]] = {m: [] for m in MODES}
        raw: dict[str, list[float]] = {"case_referral": [], "payment": []}
        for run in range(args.runs):  # the two modes take turns, so the index grows alike for both
            for m, (mode, settings) in enumerate(MODES.items()):
                index = 2 * run + m
                files = {"case_referral": referrals[index], "payment": payments[index]}
                if mode == "protected":
                    files = {k: sealed(f, signer, platform_certificate) for k, f in files.items()}
                with platform_processes(env | settings, args.port) as (client, pids):
                    for kind, path in files.items():
                        raw[kind].append(
                            pyarrow_parse(referrals[index] if kind == "case_referral" else payments[index])
                        )
                        times[mode][kind].append(submit_and_wait(client, credentials, kind, path))
                        with db.engine.connect() as conn:
                            cases = conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one()
                        print(
                            f"  {mode:<9} {kind:<13} {times[mode][kind][-1]:.2f} s,"
                            f" {args.records / times[mode][kind][-1]:,.0f} records/s, index {cases:,} cases",
                            flush=True,
                        )
                memory[mode].extend(peaks[pid] for pid in pids)
    figures: dict[str, object] = {"records": args.records, "runs": args.runs, "index_cases_after": cases}
    print()
    for kind in ("case_referral", "payment"):
        parse = statistics.median(raw[kind])
        row = {}
        for mode in MODES:
            median = statistics.median(times[mode][kind])
            row[mode] = {
                "seconds": times[mode][kind],
                "median_seconds": median,
                "records_per_second": args.records / median,
                "ratio_to_pyarrow_parse": median / parse,
            }
        ratio = row["protected"]["records_per_second"] / row["plain"]["records_per_second"]
        figures[kind] = row | {"pyarrow_parse_seconds": parse, "protected_over_plain": ratio}
        for mode in MODES:
            f = row[mode]
            print(
                f"{kind:<14} {mode:<9} median {f['median_seconds']:.2f} s"
                f" = {f['records_per_second']:,.0f} records/s"
                f" (end to end / pyarrow parse {f['ratio_to_pyarrow_parse']:.1f}x)"
            )
        print(
            f"{kind:<14} both hops protected keep {ratio:.0%} of the plain records/s;"
            f" pyarrow parse {parse:.2f} s"
        )
    figures["peak_memory_bytes"] = {m: max(v) for m, v in memory.items()}
    print(
        "peak memory (largest process): "
        + ", ".join(f"{m} {v / 2**20:,.0f} MB" for m, v in figures["peak_memory_bytes"].items())
    )
    (OUT / "ingest.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

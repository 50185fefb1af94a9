"""Benchmark: files through the whole exchange on PostgreSQL, as agencies send them.

A 1,000,000-record case_referral file is uploaded over HTTP to `aedx serve` and timed until its
deliveries are ready (validated, routed, indexed, packaged per branch); then 1,000,000 payments
against a case index of at least 5,000,000 cases (pre-filled in bulk, then grown by the referral
runs). The API and the worker run as separate processes, as in production, on a durable
PostgreSQL started from the machine's server binaries. Each run uses a new file (the platform
would answer a repeated file with the first submission), and the median is reported with the
peak memory of each process and, in the same run, pyarrow's raw parse time of the same file.
Figures go to bench/out/ingest.json.

    python bench/ingest.py [--records N] [--index N] [--runs K]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pyarrow.csv as pacsv
from cryptography.hazmat.primitives.asymmetric import ec

from aedx.accounts import clients, grants
from aedx.accounts import organisations as orgs
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.sim.demo import Credentials
from aedx.sim.records import MAKERS, Setting
from aedx.storage import bulk
from aedx.storage.db import Database
from aedx.storage.localpg import LocalPostgres

OUT = Path(__file__).parent / "out"
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
    response = client.post(
        "/api/v1/submissions",
        params={"kind": kind, "format": "csv", "encoding": "utf-8", "filename": path.name},
        headers=credentials.headers(client) | {"Content-Type": "application/octet-stream"},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--index", type=int, default=4_000_000, help="cases loaded before the referral runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print(f"preparing {args.runs} referral and payment files of {args.records:,} records…", flush=True)
    referrals = [referral_file(args.records, run) for run in range(args.runs)]
    payments = [payment_file(referrals[run], args.records, run) for run in range(args.runs)]

    with LocalPostgres(durable=True, settings=PG_SETTINGS) as pg:
        db = Database(pg.url)
        db.migrate()
        print(f"loading {args.index:,} cases into the index…", flush=True)
        prefill(db, args.index)
        with db.transaction() as session:
            orgs.seed_reference(session, "bench")
            orgs.upsert(session, [orgs.OrgRow(AGENCY, "財政部臺北國稅局", "agency", "tax")], "bench")
            operator = orgs.operator(session, "bench")
            grants.apply_defaults(session, operator)
            key = ec.generate_private_key(ec.SECP256R1())
            client_id = clients.register(
                session, operator, AGENCY, public_key_pem=clients.public_key_pem(key), label="bench"
            ).client_id
        credentials = Credentials(client_id, key)
        env = os.environ | {"AEDX_DATABASE_URL": pg.url, "AEDX_DATA_DIR": str(OUT / "platform")}
        aedx = [sys.executable, "-m", "aedx"]
        server = subprocess.Popen(
            [*aedx, "serve", "--no-worker", "--port", str(args.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker = subprocess.Popen([*aedx, "worker"], env=env, stderr=(OUT / "worker.log").open("w"))
        client = httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=3600)
        for _ in range(200):
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        figures: dict[str, dict[str, object]] = {}
        try:
            for kind, files in (("case_referral", referrals), ("payment", payments)):
                times, raw = [], []
                for path in files:
                    raw.append(pyarrow_parse(path))
                    times.append(submit_and_wait(client, credentials, kind, path))
                    with db.engine.connect() as conn:
                        index = conn.exec_driver_sql("SELECT count(*) FROM cases").scalar_one()
                    print(
                        f"  {kind}: {path.name} {times[-1]:.2f} s, {args.records / times[-1]:,.0f} records/s,"
                        f" index {index:,} cases",
                        flush=True,
                    )
                median, parse = statistics.median(times), statistics.median(raw)
                figures[kind] = {
                    "records": args.records,
                    "runs": times,
                    "median_seconds": median,
                    "records_per_second": args.records / median,
                    "pyarrow_parse_seconds": parse,
                    "ratio_to_pyarrow_parse": median / parse,
                    "file_bytes": files[0].stat().st_size,
                    "index_cases_after": index,
                }
            figures["peak_memory_bytes"] = {"api": peak_bytes(server.pid), "worker": peak_bytes(worker.pid)}
        finally:
            server.terminate()
            worker.terminate()
            server.wait()
            worker.wait()
    (OUT / "ingest.json").write_text(json.dumps(figures, indent=2))
    print()
    for kind in ("case_referral", "payment"):
        f = figures[kind]
        print(
            f"{kind:<14} median {f['median_seconds']:.2f} s = {f['records_per_second']:,.0f} records/s;"
            f" pyarrow raw parse {f['pyarrow_parse_seconds']:.2f} s; end to end / parse ="
            f" {f['ratio_to_pyarrow_parse']:.1f}x; index {f['index_cases_after']:,} cases"
        )
    peaks = figures["peak_memory_bytes"]
    print(f"peak memory: api {peaks['api'] / 2**20:,.0f} MB, worker {peaks['worker'] / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()

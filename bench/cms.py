"""Benchmark: verify and decrypt a signed, encrypted 1,000,000-record file, as intake does.

The referral file of ``bench/ingest.py`` is signed by an agency and enveloped to the platform two
ways: by the platform's own ``cms.seal`` (AES-256-GCM, RSA-OAEP) and by ``openssl cms`` with its
usual agency defaults (AES-256-CBC, RSA PKCS #1 v1.5). Each is opened with ``cms.unwrap`` (decrypt,
then check the digest and the signature) several times; the median throughput in MB/s of the
envelope is reported with the peak memory, and, in the same run, the same work done by the openssl
command line (whole processes: ``openssl cms -decrypt`` then ``openssl cms -verify``) and the raw
cost of SHA-256 and AES over the same bytes. Figures go to bench/out/cms.json.

    python bench/cms.py [--records N] [--runs K]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sys.path.insert(0, str(Path(__file__).parent))

from aedx.trust import cms
from aedx.trust.pki import Authority, Usage
from ingest import OUT, referral_file

FLOOR_MB_S = 150
OURS = "aedx (AES-256-GCM, OAEP)"


def timed(f: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    plain = referral_file(args.records, 0)
    content = plain.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        authority = Authority.create(folder / "pki")
        agency, platform = authority.identity(Usage.SIGNING), authority.identity(Usage.ENCRYPTION)
        pki = authority.folder
        sealed = {OURS: b"".join(cms.seal(content, agency, platform.certificate))}
        subprocess.run(
            ["openssl", "cms", "-sign", "-binary", "-nodetach", "-in", plain, "-signer",
             pki / "platform-signing.pem", "-inkey", pki / "platform-signing.key", "-outform", "DER",
             "-out", folder / "file.p7s"],
            check=True,
        )  # fmt: skip
        subprocess.run(
            ["openssl", "cms", "-encrypt", "-binary", "-aes256", "-in", folder / "file.p7s", "-outform",
             "DER", "-out", folder / "file.p7m", pki / "platform-encryption.pem"],
            check=True,
        )  # fmt: skip
        sealed["openssl (AES-256-CBC, PKCS #1 v1.5)"] = (folder / "file.p7m").read_bytes()

        figures: dict[str, Any] = {"records": args.records, "content_bytes": len(content)}
        for label, data in sealed.items():
            times = timed(lambda data=data: cms.unwrap(data, platform), args.runs)
            assert bytes(cms.unwrap(data, platform).content) == content
            median = statistics.median(times)
            figures[label] = {
                "envelope_bytes": len(data),
                "seconds": times,
                "median_seconds": median,
                "mb_per_second": len(data) / median / 1e6,
                "records_per_second": args.records / median,
            }

        (folder / "ours.p7m").write_bytes(sealed[OURS])

        def openssl_both() -> None:
            subprocess.run(
                ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", folder / "ours.p7m",
                 "-recip", pki / "platform-encryption.pem", "-inkey", pki / "platform-encryption.key",
                 "-out", folder / "inner.p7s"],
                check=True,
            )  # fmt: skip
            subprocess.run(
                ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", folder / "inner.p7s",
                 "-CAfile", pki / "root.pem", "-out", folder / "out.csv"],
                check=True, capture_output=True,
            )  # fmt: skip

        openssl = statistics.median(timed(openssl_both, args.runs))
        size = len(sealed[OURS])
        figures["openssl command line, same envelope"] = {
            "median_seconds": openssl,
            "mb_per_second": size / openssl / 1e6,
        }
        key, iv = b"k" * 32, b"i" * 16
        sha = statistics.median(timed(lambda: hashlib.sha256(content).digest(), args.runs))
        gcm = statistics.median(
            timed(
                lambda: Cipher(algorithms.AES(key), modes.GCM(iv[:12])).encryptor().update(content), args.runs
            )
        )
        figures["raw"] = {
            "sha256_mb_per_second": len(content) / sha / 1e6,
            "aes_gcm_mb_per_second": len(content) / gcm / 1e6,
        }
        figures["peak_memory_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    (OUT / "cms.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"{args.records:,} records, content {len(content) / 1e6:,.0f} MB; medians of {args.runs}:")
    for label in sealed:
        f = figures[label]
        verdict = "ok" if f["mb_per_second"] >= FLOOR_MB_S else f"BELOW {FLOOR_MB_S} MB/s"
        print(
            f"  verify + decrypt, {label}: {f['median_seconds']:.2f} s = {f['mb_per_second']:,.0f} MB/s"
            f" = {f['records_per_second']:,.0f} records/s ({verdict})"
        )
    o, r = figures["openssl command line, same envelope"], figures["raw"]
    faster = o["median_seconds"] / figures[OURS]["median_seconds"]
    print(
        f"  openssl cms -decrypt then -verify (whole processes): {o['median_seconds']:.2f} s"
        f" = {o['mb_per_second']:,.0f} MB/s; aedx is {faster:.1f}x faster"
    )
    sha, gcm = r["sha256_mb_per_second"], r["aes_gcm_mb_per_second"]
    print(f"  raw, same bytes: SHA-256 {sha:,.0f} MB/s, AES-256-GCM {gcm:,.0f} MB/s")
    print(f"  peak memory {figures['peak_memory_bytes'] / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()

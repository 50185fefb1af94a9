"""Benchmark: `aedx validate` on 1,000,000 case referrals, UTF-8 and CP950.

Prints, for each encoding, the median whole-process time and records/s of `aedx validate`
(a fresh process each run, as an operator runs it), its peak memory, the in-process engine time,
and in the same run pyarrow's raw parse time of the same file and frictionless-py's rows/s on a
100,000-record slice with comparable rules, with the ratios. Ratios compare like with like (both
in-process); the whole-process ratios, which add our interpreter start-up, are printed beside
them. Figures go to bench/out/validate.json.

    python bench/validate.py [--records N] [--runs K]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv

from aedx.formats import Format
from aedx.kinds import get_kind
from aedx.sim.generate import Request, generate
from aedx.validation import Options, validate_file
from measure import whole_process

OUT = Path(__file__).parent / "out"
KIND = get_kind("case_referral")
TODAY = dt.date(2026, 11, 25)
SENDER = "A383000000"


def make_file(records: int, encoding: str) -> Path:
    path = OUT / f"case_referral.{records}.{encoding}.csv"
    if not path.exists():
        request = Request(KIND, records, "csv", encoding, seed=2026, today=TODAY)
        with path.open("wb") as out:
            for piece in generate(request):
                out.write(piece.data)
    return path


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_run(path: Path, encoding: str) -> tuple[float, int]:
    """Whole-process seconds and peak resident memory (bytes) of one `aedx validate`."""
    command = [
        *(sys.executable, "-m", "aedx", "validate", "--kind", KIND.name, str(path)),
        *("--encoding", encoding, "--sender", SENDER, "--today", TODAY.isoformat(), "--json"),
    ]
    return whole_process(command, ok=(0, 1))  # 1: the file has findings


def pyarrow_parse(path: Path, encoding: str) -> None:
    options = pacsv.ReadOptions(encoding=encoding, block_size=64 << 20)
    pacsv.read_csv(path, read_options=options)


def frictionless_rate(path: Path, rows: int) -> float:
    """frictionless-py's rows/s on the first ``rows`` records with comparable rules."""
    from frictionless import Checklist, Resource, Schema, checks, fields

    sliced = OUT / f"slice.{rows}.csv"
    with path.open("rb") as source, sliced.open("wb") as target:
        for _ in range(rows + 1):
            target.write(source.readline())
    date = {"required": True, "pattern": "[0-9]{7}"}
    constraints: dict[str, dict[str, object]] = {
        "agency_code": {"required": True, "pattern": "[A-Z0-9]{2,10}"},
        "agency_case_no": {"required": True, "pattern": "[0-9A-Za-z-]{1,30}"},
        "referral_date": date, "due_date": date, "enforcement_deadline": date,
        "obligor_type": {"required": True, "enum": ["P", "C"]},
        "obligor_id": {"required": True, "pattern": "[A-Z][1289A-D][0-9]{8}|[0-9]{8}"},
        "obligor_name": {"required": True, "maxLength": 60},
        "postcode": {"required": True, "pattern": "[0-9]{3}([0-9]{2,3})?"},
        "address": {"required": True, "maxLength": 120},
        "debt_category": {"required": True, "enum": ["TAX", "NHI", "FINE", "FEE"]},
        "re_referral": {"required": True, "enum": ["Y", "N"]},
    }  # fmt: skip
    amounts = {"principal", "interest", "late_fee", "amount_due"}
    schema = Schema(
        fields=[
            fields.IntegerField(name=f.name, constraints={"required": True, "minimum": 0})
            if f.name in amounts
            else fields.StringField(name=f.name, constraints=constraints.get(f.name, {}))
            for f in KIND.fields
        ]
    )
    schema.primary_key = ["agency_case_no"]
    sum_rule = checks.row_constraint(formula="amount_due == principal + interest + late_fee")
    start = time.perf_counter()
    resource = Resource(sliced.name, basepath=str(OUT), schema=schema)
    report = resource.validate(checklist=Checklist(checks=[sum_rule]), limit_errors=10**9)
    seconds = time.perf_counter() - start
    if report.tasks[0].stats.get("rows") != rows:
        raise SystemExit(f"frictionless read {report.tasks[0].stats['rows']} rows, not {rows}")
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frictionless-rows", type=int, default=100_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    results: dict[str, object] = {"records": args.records, "runs": args.runs}
    for encoding in ("utf-8", "cp950"):
        path = make_file(args.records, encoding)
        runs = [cli_run(path, encoding) for _ in range(args.runs)]
        whole = statistics.median(s for s, _ in runs)
        peak = max(m for _, m in runs)
        engine = median_seconds(
            lambda p=path, e=encoding: validate_file(
                p, KIND, Format.CSV, e, Options(sender=SENDER, today=TODAY)
            ),  # type: ignore[misc]
            args.runs,
        )
        raw = median_seconds(lambda p=path, e=encoding: pyarrow_parse(p, e), args.runs)  # type: ignore[misc]
        results[encoding] = {
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "whole_process_s": round(whole, 3),
            "records_per_s": round(args.records / whole),
            "engine_s": round(engine, 3),
            "engine_records_per_s": round(args.records / engine),
            "peak_memory_mb": round(peak / 2**20),
            "pyarrow_raw_parse_s": round(raw, 3),
            # like for like: pyarrow runs in this process, so the engine time is its peer; the
            # whole-process ratio adds the interpreter's start-up to our side only
            "ratio_to_pyarrow": round(engine / raw, 2),
            "whole_process_ratio_to_pyarrow": round(whole / raw, 2),
        }
        print(f"{encoding:6s} {json.dumps(results[encoding])}", flush=True)
    rate = frictionless_rate(make_file(args.records, "utf-8"), args.frictionless_rows)
    utf8 = results["utf-8"]
    assert isinstance(utf8, dict)
    results["frictionless_rows_per_s"] = round(rate)
    results["ratio_to_frictionless"] = round(utf8["engine_records_per_s"] / rate, 1)
    results["whole_process_ratio_to_frictionless"] = round(utf8["records_per_s"] / rate, 1)
    print(
        f"frictionless {round(rate):,} rows/s; aedx is {results['ratio_to_frictionless']}x faster "
        f"in-process, {results['whole_process_ratio_to_frictionless']}x as a whole process"
    )
    targets = {
        "utf-8 >= 500,000 records/s (whole process)": utf8["records_per_s"] >= 500_000,
        "utf-8 <= 4x pyarrow raw parse (in-process)": utf8["ratio_to_pyarrow"] <= 4,
        ">= 25x frictionless (in-process)": results["ratio_to_frictionless"] >= 25,  # type: ignore[operator]
        "cp950 >= 300,000 records/s (whole process)": results["cp950"]["records_per_s"] >= 300_000,  # type: ignore[index]
        "peak memory <= 1.5 GB": all(results[e]["peak_memory_mb"] <= 1536 for e in ("utf-8", "cp950")),  # type: ignore[index]
    }
    for target, met in targets.items():
        print(f"{'met    ' if met else 'MISSED '} {target}")
    results["targets"] = targets
    (OUT / "validate.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

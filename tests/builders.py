"""Plain keyword builders for tiny test files: one valid record per kind, overridden per test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from aedx.findings import UnusableInput
from aedx.formats import Format, Limits
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.schema import Severity
from aedx.validation import Options, Report, validate_file

TODAY = dt.date(2024, 11, 25)
SENDERS = {"case_referral": "A383000000", "payment": "A383000000", "status_feedback": "sly"}

VALID: dict[str, dict[str, str | None]] = {
    "case_referral": {
        "agency_code": "A383000000", "agency_case_no": "113TAX000123", "referral_date": "1131105",
        "obligor_type": "P", "obligor_id": "A123456789", "obligor_name": "王小明",
        "obligor_birth_date": "0700101", "representative_name": None, "representative_id": None,
        "postcode": "11101", "address": "臺北市士林區中正路100號", "debt_category": "TAX",
        "debt_type": "綜合所得稅", "decision_ref": "財北國稅字第1130012345號",
        "decision_final_date": None, "due_date": "1130531", "enforcement_deadline": "1180531",
        "principal": "52000", "interest": "310", "late_fee": "2600", "amount_due": "54910",
        "re_referral": "N", "remarks": None,
    },
    "payment": {
        "agency_code": "A383000000", "agency_case_no": "113TAX000123", "obligor_id": "A123456789",
        "receipt_no": "R1131105000123", "paid_date": "1131104", "paid_amount": "12000",
        "channel": "BANK", "full_payment": "N", "remaining_amount": "42910",
    },
    "status_feedback": {
        "branch_code": "sly", "branch_case_no": "士執午113年營所稅執特專字第00027350號",
        "agency_code": "A383000000", "agency_case_no": "113TAX000123", "event": "ASSIGNED",
        "event_date": "1131106", "amount": None, "close_reason": None, "officer": "林○○",
    },
}  # fmt: skip


def records(kind: str, *overrides: dict[str, str | None]) -> pl.DataFrame:
    """One valid record per override (an empty dict keeps the valid record as it is)."""
    rows = []
    for i, override in enumerate(overrides or ({},)):
        row = VALID[kind] | _distinct_keys(kind, i) | override
        rows.append(row)
    return pl.DataFrame(rows, schema=dict.fromkeys(VALID[kind], pl.String))


def _distinct_keys(kind: str, i: int) -> dict[str, str | None]:
    """Record i > 0 gets its own case number, receipt and branch case number, so that only a
    test that means to repeat a key does."""
    if i == 0:
        return {}
    base = VALID[kind]
    keys: dict[str, str | None] = {"agency_case_no": f"{base['agency_case_no']}-{i}"}
    if kind == "payment":
        keys["receipt_no"] = f"{base['receipt_no']}-{i}"
    if kind == "status_feedback":
        keys["branch_case_no"] = str(base["branch_case_no"]).replace("號", f"{i}號")
    return keys


def write(
    path: Path,
    kind: str,
    frame: pl.DataFrame,
    fmt: str = "csv",
    encoding: str = "utf-8",
    trailer: bytes = b"",
) -> Path:
    path.write_bytes(encode_records(frame, get_kind(kind), fmt, encoding) + trailer)
    return path


def check(
    path: Path,
    kind: str,
    fmt: str = "csv",
    encoding: str = "utf-8",
    *,
    sender: str | None = None,
    severity: dict[str, Severity] | None = None,
    limits: Limits | None = None,
) -> Report:
    options = Options(sender=sender, today=TODAY, severity=severity or {}, limits=limits or Limits())
    return validate_file(path, get_kind(kind), Format(fmt), encoding, options)


def flat(report: Report) -> list[tuple[int | None, str | None, str]]:
    return [(f["row"], f["field"], f["code"]) for f in report.findings.to_dicts()]


def unusable(path: Path, kind: str = "case_referral", fmt: str = "csv", **kw: object) -> str:
    try:
        check(path, kind, fmt, **kw)  # type: ignore[arg-type]
    except UnusableInput as error:
        return error.code
    raise AssertionError("the input was read as records")

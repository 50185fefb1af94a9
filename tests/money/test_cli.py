"""``aedx interest`` as an officer or a script uses it: one case, a CSV of cases, another rate table,
and every kind of bad input answered in one bilingual line with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aedx.cli import app

TAX = ["--category", "tax", "--amount", "100000", "--deadline", "2025-06-02", "--paid", "2025-07-15"]
CASES = """category,amount,deadline,paid
tax,100000,2025-06-02,2025-07-15
nhi_employer,10000,2025-06-02,2025-07-08
nhi_individual,2996,2025-06-02,2025-08-05
labour,10000,2025-06-02,2025-06-10
fine,3000,2025-06-02,2025-12-31
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["interest", *args])
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def test_one_case_in_words() -> None:
    code, out, _ = run(*TAX)
    assert code == 0
    assert "滯納金 late fee NT$10,000" in out and "利息 interest NT$61" in out
    assert "逾期 overdue 43 天 days" in out and "合計 total NT$110,061" in out


def test_one_case_as_json() -> None:
    code, out, _ = run(*TAX, "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["late_fee"], shown["interest"], shown["overdue_days"], shown["interest_days"]) == (
        10_000, 61, 43, 13,
    )  # fmt: skip


def test_cases_print_one_object_per_row_in_order(tmp_path: Path) -> None:
    code, out, _ = run("--cases", write(tmp_path, "cases.csv", CASES), "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["category"], r["late_fee"], r["interest"]) for r in rows] == [
        ("tax", 10_000, 61), ("nhi_employer", 200, 0), ("nhi_individual", 144, 0), ("labour", 0, 0),
        ("fine", 0, 0),
    ]  # fmt: skip
    assert all(isinstance(r["late_fee"], int) and isinstance(r["interest"], int) for r in rows)
    assert [r["late_fee_days"] for r in rows] == [42, 20, 48, 0, 0]


def test_cases_in_words_and_with_a_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(("\ufeff" + CASES).replace("\n", "\r\n").encode())
    code, out, _ = run("--cases", str(path))
    assert code == 0 and out.count("合計 total") == 5


def test_a_rate_table_replaces_the_bundled_one(tmp_path: Path) -> None:
    rates = write(tmp_path, "rates.csv", "year,rate_percent\n2025,3.65\n")
    code, out, _ = run(*TAX, "--rates", rates, "--json")
    assert code == 0 and json.loads(out)["interest"] == 130  # 100000 × 3.65 % × 13 / 365


def test_paying_before_the_deadline_owes_nothing() -> None:
    code, out, _ = run("--category", "tax", "--amount", "5000", "--deadline", "2025-06-07", "--paid",
                       "2025-06-09", "--json")  # fmt: skip
    shown = json.loads(out)
    assert code == 0 and shown["due"] == "2025-06-09"  # a Saturday deadline, paid on the Monday
    assert (shown["late_fee"], shown["interest"], shown["overdue_days"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["--category", "tx"], "未知的債務類別", "unknown debt category 'tx'"),
        (["--deadline", "2025-13-01"], "不是 YYYY-MM-DD", "deadline '2025-13-01' is not a YYYY-MM-DD date"),
        (["--paid", "2025/07/15"], "繳納日", "paid '2025/07/15' is not a YYYY-MM-DD date"),
        (["--paid", "20250715"], "繳納日", "is not a YYYY-MM-DD date"),
        (["--amount", "12.5"], "金額", "amount '12.5' is not a whole NT$"),
        (["--amount", "-5"], "金額", "amount '-5' is not a whole NT$"),
        (["--deadline", "2023-01-02"], "利率表缺 2023", "no rate for 2023"),
    ],
)
def test_bad_input_is_one_bilingual_line(args: list[str], zh: str, en: str) -> None:
    chosen = dict(zip(TAX[::2], TAX[1::2], strict=True)) | dict(zip(args[::2], args[1::2], strict=True))
    code, out, err = run(*[x for pair in chosen.items() for x in pair])
    assert code == 2 and out == ""
    assert zh in err and en in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("cases", "en"),
    [
        ("category,amount,deadline\ntax,1,2025-01-02\n", "missing columns paid"),
        ("category,amount,deadline,paid\ntax,1,2025-01-02,2025-02-03\ntax,1,2025-01-02\n", "row 2: wrong number"),
        ("category,amount,deadline,paid\ntax,1,2025-01-02,2025-02-03,x\n", "row 1: wrong number"),
        ("category,amount,deadline,paid\ntax,1,2025-01-02,2025-02-03\ngas,1,2025-01-02,2025-02-03\n",
         "row 2: unknown debt category 'gas'"),
        ("category,amount,deadline,paid\ntax,1,2025-01-02,2025-02-31\n", "row 1: paid '2025-02-31'"),
        ("category,amount,deadline,paid\ntax,1 000,2025-01-02,2025-02-03\n", "row 1: amount '1 000'"),
        ("category,amount,deadline,paid\ntax,1,2022-01-03,2025-02-03\n", "row 1: the interest-rate table has no rate for 2022"),
    ],
)  # fmt: skip
def test_a_bad_cases_file_names_the_row(tmp_path: Path, cases: str, en: str) -> None:
    code, out, err = run("--cases", write(tmp_path, "cases.csv", cases), "--json")
    assert code == 2 and out == "" and en in err and "無法計算" in err


@pytest.mark.parametrize(
    ("rates", "en"),
    [
        ("year,rate_percent\n2024,1.6\n", "no rate for 2025"),
        ("year,rate_percent\n2025,abc\n", "row 1: rate 'abc' is not a number"),
        ("year,rate_percent\n,1.7\n", "row 1: year ''"),
        ("year,rate\n2025,1.7\n", "needs the columns year,rate_percent"),
    ],
)
def test_a_bad_rate_table_is_refused(tmp_path: Path, rates: str, en: str) -> None:
    code, out, err = run(*TAX, "--rates", write(tmp_path, "rates.csv", rates))
    assert code == 2 and out == "" and en in err and "Traceback" not in err


def test_missing_files_options_and_calendars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "cannot read the rate table" in run(*TAX, "--rates", str(tmp_path / "none.csv"))[2]
    assert "cannot read the cases file" in run("--cases", str(tmp_path / "none.csv"))[2]
    assert "give --category --amount --deadline --paid" in run("--category", "tax")[2]
    both = run(*TAX, "--cases", write(tmp_path, "c.csv", CASES))
    assert both[0] == 2 and "cannot be combined" in both[2]
    monkeypatch.setenv("AEDX_HOLIDAY_CALENDAR", write(tmp_path, "cal.csv", "西元日期,是否放假\nx,9\n"))
    code, _, err = run(*TAX)
    assert code == 2 and "cannot use the holiday calendar" in err


def test_the_command_through_python_m(tmp_path: Path) -> None:
    aedx = [sys.executable, "-m", "aedx", "interest"]
    one = subprocess.run([*aedx, *TAX, "--json"], capture_output=True, timeout=120, check=True)
    assert json.loads(one.stdout)["interest"] == 61
    rates = write(tmp_path, "rates.csv", "year,rate_percent\n2025,3.65\n")
    cases = write(tmp_path, "cases.csv", CASES)
    many = subprocess.run([*aedx, "--cases", cases, "--rates", rates, "--json"], capture_output=True,
                          timeout=120, check=True)  # fmt: skip
    assert [r["interest"] for r in json.loads(many.stdout)] == [130, 0, 0, 0, 0]
    bad = subprocess.run([*aedx, *TAX[:-1], "2025-7-15"], capture_output=True, timeout=120, check=False)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    assert "不是 YYYY-MM-DD" in bad.stderr.decode() and bad.stdout == b""

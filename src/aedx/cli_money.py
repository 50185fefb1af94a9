"""``aedx interest``: late fee and interest of one case, or of every row of a CSV file.

A payment on or before the (working-day) deadline owes nothing and counts 0 days; it is not an
error. Bad input (an unknown category, a malformed date or amount, a bad row, a rate table without
the year a case needs) prints one bilingual line and exits 2, like ``aedx validate``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import datetime as dt

    from aedx.money import Charge, RateTable
    from aedx.workdays import Calendar

CASE_COLUMNS = ("category", "amount", "deadline", "paid")


def _fail(zh: str, en: str) -> typer.Exit:
    typer.echo(f"無法計算 cannot compute: {zh} — {en}", err=True)
    return typer.Exit(2)


def _date(text: str, name: tuple[str, str], where: tuple[str, str] = ("", "")) -> dt.date:
    import datetime as dt
    import re

    from aedx.errors import Invalid

    value = text.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        zh = f"{where[0]}{name[0]}「{text}」不是 YYYY-MM-DD 日期"
        raise Invalid(
            zh, f"{where[1]}{name[1]} {text!r} is not a YYYY-MM-DD date", code="money.bad_date"
        ) from None


def _amount(text: str, where: tuple[str, str] = ("", "")) -> int:
    from aedx.errors import Invalid

    value = text.strip()
    if not value.isascii() or not value.isdigit():
        zh = f"{where[0]}金額「{text}」應為不小於 0 的整數新臺幣"
        en = f"{where[1]}amount {text!r} is not a whole NT$ amount of 0 or more"
        raise Invalid(zh, en, code="money.bad_amount")
    return int(value)


def _calendar() -> Calendar:
    import os

    from aedx.workdays import calendar

    # Only the calendar setting is read: the rest of the platform's settings make keys and folders.
    newer = os.environ.get("AEDX_HOLIDAY_CALENDAR", "").strip()
    try:
        return calendar(Path(newer) if newer else None)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(
            f"無法使用假日行事曆 {newer}", f"cannot use the holiday calendar {newer}: {error}"
        ) from None


def _rates(path: Path | None) -> RateTable:
    from aedx.money import bundled_rates, parse_rates

    if path is None:
        return bundled_rates()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"無法讀取利率表 {path}", f"cannot read the rate table {path}: {error}") from None
    return parse_rates(text, path.name)


def _case_rows(path: Path) -> list[tuple[str, str, str, str, tuple[str, str]]]:
    import csv
    import io

    from aedx.errors import Invalid

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"無法讀取案件檔 {path}", f"cannot read the cases file {path}: {error}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CASE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        names, expected = ",".join(missing), ",".join(CASE_COLUMNS)
        zh = f"{path.name}：缺少欄位 {names}（應有 {expected}）"
        raise Invalid(
            zh, f"{path.name}: missing columns {names} (expected {expected})", code="money.bad_cases"
        )
    rows = []
    for number, row in enumerate(reader, start=1):
        where = (f"第 {number} 列：", f"row {number}: ")
        if None in row or any(row.get(c) is None for c in CASE_COLUMNS):
            raise Invalid(
                f"{where[0]}欄位數不符", f"{where[1]}wrong number of fields", code="money.bad_cases"
            )
        rows.append((row["category"].strip(), row["amount"], row["deadline"], row["paid"], where))
    return rows


def _charge(
    category: str, amount: str, deadline: str, paid: str, rates: RateTable, cal: Calendar,
    where: tuple[str, str] = ("", ""),
) -> Charge:  # fmt: skip
    from aedx.errors import DomainError
    from aedx.money import category_rule, charge

    figures = (
        _amount(amount, where),
        _date(deadline, ("繳納期限", "deadline"), where),
        _date(paid, ("繳納日", "paid"), where),
    )
    try:
        return charge(category_rule(category), *figures, rates=rates, calendar=cal)
    except DomainError as error:  # named with its row, as the parsing errors above
        raise type(error)(where[0] + error.message_zh, where[1] + error.message_en, code=error.code) from None


def _print(charge: Charge) -> None:
    from aedx.money import category_rule

    rule = category_rule(charge.category)
    moved = f"（順延至 moved to {charge.due}）" if charge.due != charge.deadline else ""
    lines = [
        f"{rule.label_zh} {charge.category} · 金額 amount NT${charge.amount:,} · "
        f"繳納期限 deadline {charge.deadline}{moved} · 繳納日 paid {charge.paid}",
        f"  逾期 overdue {charge.overdue_days} 天 days",
        f"  滯納金 late fee NT${charge.late_fee:,}（{charge.to_dict()['late_fee_percent']}%，"
        f"計 {charge.late_fee_days} 天 counting {charge.late_fee_days} days）",
        f"  利息 interest NT${charge.interest:,}"
        f"（計 {charge.interest_days} 天 counting {charge.interest_days} days）",
        f"  合計 total NT${charge.amount + charge.late_fee + charge.interest:,}",
    ]
    typer.echo("\n".join(lines))


def interest(
    category: Annotated[str | None, typer.Option(help="債務類別 debt category: tax, nhi_employer, …")] = None,
    amount: Annotated[str | None, typer.Option(help="金額（新臺幣整數）amount in whole NT$")] = None,
    deadline: Annotated[str | None, typer.Option(help="繳納期限 deadline, YYYY-MM-DD")] = None,
    paid: Annotated[str | None, typer.Option(help="繳納日 payment date, YYYY-MM-DD")] = None,
    cases: Annotated[Path | None, typer.Option(help="案件檔 CSV category,amount,deadline,paid")] = None,
    rates: Annotated[Path | None, typer.Option(help="利率表 rate table, CSV year,rate_percent")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 輸出 print JSON")] = False,
) -> None:  # fmt: skip
    """計算滯納金與利息 — late fee and interest for one case or a CSV of cases."""
    from aedx.errors import DomainError

    single = (category, amount, deadline, paid)
    try:
        if cases is not None:
            if any(v is not None for v in single):
                one = "--category/--amount/--deadline/--paid"
                raise _fail(f"--cases 不可與 {one} 並用", f"--cases cannot be combined with {one}")
            table, cal = _rates(rates), _calendar()
            charges = [_charge(c, a, d, p, table, cal, where) for c, a, d, p, where in _case_rows(cases)]
        elif category is None or amount is None or deadline is None or paid is None:
            raise _fail("請給 --category --amount --deadline --paid，或 --cases 檔案",
                        "give --category --amount --deadline --paid, or --cases FILE")  # fmt: skip
        else:
            charges = [_charge(category, amount, deadline, paid, _rates(rates), _calendar())]
    except DomainError as error:
        raise _fail(error.message_zh, error.message_en) from None
    if as_json:
        shown: object = [c.to_dict() for c in charges] if cases is not None else charges[0].to_dict()
        sys.stdout.write(json.dumps(shown, ensure_ascii=False) + "\n")
        return
    for c in charges:
        _print(c)


def register(app: typer.Typer) -> None:
    app.command("interest")(interest)

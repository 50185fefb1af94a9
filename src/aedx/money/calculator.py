"""Late fee and interest of one amount, for a deadline and a payment date.

Every category follows the same steps (DOMAIN.md, "Money"):

1. A deadline on a Saturday, Sunday or public holiday moves to the next working day (民法 §122,
   行政程序法 §48), by the government-office calendar (``aedx.workdays``).
2. Overdue days are calendar days: payment date − that deadline. A payment on or before the deadline
   owes nothing: no late fee, no interest, every day count 0. It is not an error (paying early is
   allowed). Only the deadline moves: the end of a grace period or of the tax's 30-day late
   period is counted in calendar days from the moved deadline, as the laws count it.
3. Late-fee days run from the day after the grace period to the day before payment (the insurance
   acts' words; for tax it gives DOMAIN.md's ``⌊(d − 1) / 3⌋``: days 1–3 free, 1 % from day 4);
   the late fee is ``min(cap, ⌊late-fee days / step_days⌋ × step_percent)`` % of the amount.
   A category without a late fee (cap 0: fines, fees) counts no late-fee days.
4. Interest, where the category has it, runs on the amount (not on the late fee) from the day after
   ``deadline + interest_after_days`` to the payment date inclusive, each calendar year at its own
   rate (as of its 1 January), × days / 365 (365 in leap years too, as the domain notes write it).
5. Each result is rounded once, by the category's rule, from the exact sum (no float anywhere):
   interest spanning several years is summed exactly before rounding, so splitting a period never
   adds or loses a dollar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from aedx.errors import Invalid
from aedx.money.rules import CategoryRule, InterestBasis, RateTable, Rounding
from aedx.workdays import Calendar

DAYS_IN_RATE_YEAR = 365


class BadAmount(Invalid):
    code = "money.bad_amount"


@dataclass(frozen=True)
class Charge:
    """What a late payment costs, with the days each part counted."""

    category: str
    amount: int
    deadline: dt.date
    due: dt.date  # the deadline moved to a working day
    paid: dt.date
    overdue_days: int
    late_fee_days: int
    late_fee_percent: Decimal
    late_fee: int
    interest_days: int
    interest: int

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "amount": self.amount,
            "deadline": self.deadline.isoformat(),
            "due": self.due.isoformat(),
            "paid": self.paid.isoformat(),
            "overdue_days": self.overdue_days,
            "late_fee_days": self.late_fee_days,
            "late_fee_percent": format(self.late_fee_percent.normalize(), "f"),
            "late_fee": self.late_fee,
            "interest_days": self.interest_days,
            "interest": self.interest,
        }


def working_deadline(deadline: dt.date, calendar: Calendar) -> dt.date:
    """The deadline, or the next working day when it falls on a day off."""
    return deadline if calendar.is_working_day(deadline) else calendar.add_working_days(deadline, 1)


def whole_dollars(exact: Fraction, rounding: Rounding) -> int:
    """An exact non-negative amount as whole NT$."""
    if rounding is Rounding.HALF_UP:
        return int((exact + Fraction(1, 2)) // 1)
    return int(exact // 1)


def late_fee_percent(rule: CategoryRule, late_fee_days: int) -> Decimal:
    steps = late_fee_days // rule.step_days
    return min(rule.cap_percent, steps * rule.step_percent)


def interest_by_year(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    """(year, days) of the period ``start`` … ``end`` inclusive, one pair per calendar year."""
    pieces = []
    while start <= end:
        last = min(end, dt.date(start.year, 12, 31))
        pieces.append((start.year, (last - start).days + 1))
        start = last + dt.timedelta(days=1)
    return pieces


def charge(
    rule: CategoryRule,
    amount: int,
    deadline: dt.date,
    paid: dt.date,
    *,
    rates: RateTable,
    calendar: Calendar,
) -> Charge:
    """Late fee and interest owed on ``amount`` due by ``deadline`` and paid on ``paid``."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise BadAmount(f"金額「{amount}」應為不小於 0 的整數新臺幣",
                        f"amount {amount!r} is not a whole NT$ amount of 0 or more")  # fmt: skip
    due = working_deadline(deadline, calendar)
    overdue = max(0, (paid - due).days)
    fee_days = max(0, overdue - rule.grace_days - 1) if rule.cap_percent > 0 else 0
    percent = late_fee_percent(rule, fee_days)
    fee = whole_dollars(amount * Fraction(percent) / 100, rule.rounding)
    interest_days, interest = 0, 0
    if rule.interest_basis is InterestBasis.PRINCIPAL and overdue > rule.interest_after_days:
        start = due + dt.timedelta(days=rule.interest_after_days + 1)
        exact = Fraction(0)
        for year, days in interest_by_year(start, paid):
            exact += amount * Fraction(rates.percent(year)) / 100 * days / DAYS_IN_RATE_YEAR
            interest_days += days
        interest = whole_dollars(exact, rule.rounding)
    return Charge(
        category=rule.category, amount=amount, deadline=deadline, due=due, paid=paid,
        overdue_days=overdue, late_fee_days=fee_days, late_fee_percent=percent, late_fee=fee,
        interest_days=interest_days, interest=interest,
    )  # fmt: skip

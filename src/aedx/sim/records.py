"""Valid synthetic records for each exchange kind, a chunk at a time.

Volumes and amounts follow DOMAIN.md (2017: fines 4.71 M new cases, fees 3.09 M, tax 0.99 M,
health insurance 0.56 M). Every record passes every rule, warnings included, so that injected
errors are the only findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from aedx import refdata
from aedx.schema import Kind
from aedx.sim import people
from aedx.sim.ids import person_ids, ubns


@dataclass(frozen=True)
class Category:
    code: str
    share: float  # of new cases
    company_share: float
    median_principal: float
    interest_rate: float
    late_fee_rate: float
    debt_types: tuple[str, ...]
    reference: str  # how the agency writes its decision numbers


CATEGORIES = (
    Category("TAX", 0.99, 0.35, 30000, 0.015, 0.05,
             ("綜合所得稅", "營利事業所得稅", "營業稅", "地價稅", "房屋稅", "使用牌照稅", "遺產稅", "貨物稅"),
             "財北國稅"),
    Category("NHI", 0.56, 0.20, 6000, 0.0, 0.15,
             ("全民健康保險費", "勞工保險費", "就業保險費", "勞工退休金"), "健保北"),
    Category("FINE", 4.71, 0.15, 3600, 0.0, 0.0,
             ("交通違規罰鍰", "環保罰鍰", "勞動基準法罰鍰", "食品安全衛生罰鍰", "建築法罰鍰"), "北環罰"),
    Category("FEE", 3.09, 0.10, 1800, 0.0, 0.0,
             ("汽車燃料使用費", "規費", "停車費", "清潔費"), "北監費"),
)  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """What a generated file has in common: its sender, its day, whether it must fit Big5."""

    today: dt.date
    sender: str
    big5_only: bool


def _strings(columns: dict[str, np.ndarray], kind: Kind) -> pl.DataFrame:
    return pl.DataFrame(
        {f.name: pl.Series(f.name, columns[f.name].tolist(), dtype=pl.String) for f in kind.fields}
    )


def _pick_categories(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = np.array([c.share for c in CATEGORIES])
    return rng.choice(len(CATEGORIES), n, p=shares / shares.sum())


def _debt_types(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    table = np.array([t for c in CATEGORIES for t in c.debt_types], dtype=object)
    lengths = np.array([len(c.debt_types) for c in CATEGORIES])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    picked: np.ndarray = table[offsets[cat] + (rng.random(len(cat)) * lengths[cat]).astype(int)]
    return picked


def case_referrals(kind: Kind, rng: np.random.Generator, start: int, n: int, s: Setting) -> pl.DataFrame:
    today = people.epoch_days(s.today)
    cat = _pick_categories(rng, n)
    company = rng.random(n) < np.array([c.company_share for c in CATEGORIES])[cat]
    sex = rng.integers(1, 3, n)
    ids = np.where(company, ubns(rng, n), person_ids(rng, n, sex=sex)).astype(object)
    names = np.where(
        company, people.company_names(rng, n), people.person_names(rng, n, big5_only=s.big5_only)
    )
    address, postcode = people.addresses(rng, n)
    referral = today - rng.integers(0, 30, n)
    re_referral = rng.random(n) < 0.12
    # A re-referral carries an old debt whose ten-year limit still leaves at least a year.
    due = np.where(
        re_referral,
        referral - rng.integers(5 * 365, 9 * 365, n),
        referral - rng.integers(30, 900, n),
    )
    deadline = due + np.where(re_referral, 3652, 1826)  # ten and five years, leap days included
    birth = today - rng.integers(20 * 365, 85 * 365, n)
    median = np.array([c.median_principal for c in CATEGORIES])[cat]
    principal = people.lognormal_amounts(rng, median, n)
    interest = np.round(principal * np.array([c.interest_rate for c in CATEGORIES])[cat]).astype(np.int64)
    late_fee = np.round(principal * np.array([c.late_fee_rate for c in CATEGORIES])[cat]).astype(np.int64)
    debt_type = _debt_types(rng, cat)
    refs = np.array([c.reference for c in CATEGORIES], dtype=object)[cat]
    roc_year = people.roc(due).astype("U3").astype(object)  # the decision's ROC year
    serial = np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7).astype(object)
    representative = people.maybe(company, people.person_names(rng, n, big5_only=True))
    rep_id = people.maybe(company & (rng.random(n) < 0.7), person_ids(rng, n).astype(object))
    index = np.arange(start, start + n)
    case_no = np.char.add(np.array([c.code for c in CATEGORIES])[cat], np.char.zfill(index.astype(str), 10))
    return _strings(
        {
            "agency_code": np.full(n, s.sender, dtype=object),
            "agency_case_no": case_no.astype(object),
            "referral_date": people.roc(referral),
            "obligor_type": np.where(company, "C", "P").astype(object),
            "obligor_id": ids,
            "obligor_name": names,
            "obligor_birth_date": people.maybe(~company, people.roc(birth)),
            "representative_name": representative,
            "representative_id": rep_id,
            "postcode": postcode,
            "address": address,
            "debt_category": np.array([c.code for c in CATEGORIES], dtype=object)[cat],
            "debt_type": debt_type,
            "decision_ref": people.join(
                refs, roc_year, np.full(n, "字第", object),
                np.full(n, "1", object), serial, np.full(n, "號", object),
            ),
            "decision_final_date": people.maybe(
                rng.random(n) < 0.6, people.roc(due - rng.integers(30, 90, n))
            ),
            "due_date": people.roc(due),
            "enforcement_deadline": people.roc(deadline),
            "principal": principal.astype(str).astype(object),
            "interest": interest.astype(str).astype(object),
            "late_fee": late_fee.astype(str).astype(object),
            "amount_due": (principal + interest + late_fee).astype(str).astype(object),
            "re_referral": np.where(re_referral, "Y", "N").astype(object),
            "remarks": people.maybe(rng.random(n) < 0.05, "義務人已申請分期繳納"),
        },
        kind,
    )  # fmt: skip


CHANNELS = ("CVS", "BANK", "POST", "AGENCY_COUNTER", "CARD", "EPAY")
_CHANNEL_SHARES = np.array([0.35, 0.25, 0.15, 0.15, 0.05, 0.05])


def payments(kind: Kind, rng: np.random.Generator, start: int, n: int, s: Setting) -> pl.DataFrame:
    today = people.epoch_days(s.today)
    cat = _pick_categories(rng, n)
    company = rng.random(n) < 0.15
    channel = np.array(CHANNELS, dtype=object)[rng.choice(len(CHANNELS), n, p=_CHANNEL_SHARES)]
    median = np.array([c.median_principal for c in CATEGORIES])[cat]
    paid = people.lognormal_amounts(rng, median, n)
    paid = np.where(channel == "CVS", np.minimum(paid, 20000), paid)
    full = rng.random(n) < 0.6
    remaining = np.where(full, 0, people.lognormal_amounts(rng, median, n, low=1))
    index = np.arange(start, start + n)
    case_no = np.char.add(
        np.array([c.code for c in CATEGORIES])[cat],
        np.char.zfill((index * 7 % 10**10).astype(str), 10),
    )
    return _strings(
        {
            "agency_code": np.full(n, s.sender, dtype=object),
            "agency_case_no": case_no.astype(object),
            "obligor_id": np.where(company, ubns(rng, n), person_ids(rng, n)).astype(object),
            "receipt_no": np.char.add("R", np.char.zfill(index.astype(str), 12)).astype(object),
            "paid_date": people.roc(today - rng.integers(0, 10, n)),
            "paid_amount": paid.astype(str).astype(object),
            "channel": channel,
            "full_payment": np.where(full, "Y", "N").astype(object),
            "remaining_amount": remaining.astype(str).astype(object),
        },
        kind,
    )  # fmt: skip


SECTIONS = list("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥")
CASE_TYPES = ["綜所稅執", "營所稅執", "營稅執", "健保執", "勞保執", "交罰執", "罰執", "費執"]
EVENTS = ("ASSIGNED", "COLLECTED", "PENDING", "CLOSED")
_EVENT_SHARES = np.array([0.40, 0.25, 0.15, 0.20])
CLOSE_REASONS = (
    "PAID_IN_FULL",
    "CERTIFICATE",
    "WITHDRAWN",
    "RETURNED",
    "TRANSFERRED",
    "EXPIRED",
    "REVOKED",
)
_REASON_SHARES = np.array([0.55, 0.30, 0.05, 0.04, 0.03, 0.02, 0.01])


def status_feedbacks(kind: Kind, rng: np.random.Generator, start: int, n: int, s: Setting) -> pl.DataFrame:
    today = people.epoch_days(s.today)
    branch = next(b for b in refdata.branches() if b.code == s.sender)
    event = np.array(EVENTS, dtype=object)[rng.choice(len(EVENTS), n, p=_EVENT_SHARES)]
    reason = np.array(CLOSE_REASONS, dtype=object)[rng.choice(len(CLOSE_REASONS), n, p=_REASON_SHARES)]
    amount = people.lognormal_amounts(rng, np.full(n, 8000.0), n).astype(str).astype(object)
    event_day = today - rng.integers(0, 5, n)
    index = np.arange(start, start + n)
    year = people.roc(event_day - rng.integers(0, 700, n))
    case_no = people.join(
        np.full(n, branch.abbreviation + "執", object),
        people.choose(rng, SECTIONS, n),
        year.astype("U3").astype(object),
        np.full(n, "年", object),
        people.choose(rng, CASE_TYPES, n),
        np.full(n, "專字第", object),
        np.char.zfill(index.astype(str), 8).astype(object),
        np.full(n, "號", object),
    )
    agency = np.char.add("A", np.char.zfill(rng.integers(0, 2350, n).astype(str), 9)).astype(object)
    return _strings(
        {
            "branch_code": np.full(n, s.sender, dtype=object),
            "branch_case_no": case_no,
            "agency_code": agency,
            "agency_case_no": np.char.add("TAX", np.char.zfill(index.astype(str), 10)).astype(object),
            "event": event,
            "event_date": people.roc(event_day),
            "amount": people.maybe(np.isin(event, ["COLLECTED", "CLOSED"]), amount),
            "close_reason": people.maybe(event == "CLOSED", reason),
            "officer": people.maybe(rng.random(n) < 0.8, people.person_names(rng, n, big5_only=True)),
        },
        kind,
    )  # fmt: skip


Maker = Callable[[Kind, np.random.Generator, int, int, Setting], pl.DataFrame]
MAKERS: dict[str, Maker] = {
    "case_referral": case_referrals,
    "payment": payments,
    "status_feedback": status_feedbacks,
}
DEFAULT_SENDERS = {"case_referral": "A383000000", "payment": "A383000000", "status_feedback": "sly"}

"""The rule library: each rule turns a field or a declared check into vectorised tests.

Values arrive as the readers give them: missing values are null and fixed-width padding is gone.

A ``Test`` is one finding code on one field with a Polars expression that is true on the rows
that fail. The engine packs every test of a kind into a per-row bitmask and expands messages only
for failing rows. Tests read the cleaned text columns and the typed columns that
``typed_columns`` adds (``<field>#date`` for dates, ``<field>#n`` for amounts), which are null
wherever the text is malformed, so a cross-field test never fires on a value already reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from aedx import refdata
from aedx.findings import Code
from aedx.schema import Check, Field, FieldType, Kind
from aedx.validation import address, codes
from aedx.validation.dates import roc_to_date
from aedx.validation.ids import (
    PERSON_ID_PATTERN,
    UBN_PATTERN,
    person_id_checksum_ok,
    ubn_checksum_ok,
)

AMOUNT_PATTERN = r"^[0-9]{1,%d}$"
POSTCODE_PATTERN = r"^[0-9]{3}(?:[0-9]{2}|[0-9]{3})?$"
CONTROL_CHARS = r"[\x00-\x1F\x7F]"
NON_ASCII = r"[^\x00-\x7F]"
BRANCH_CASE_NO_PATTERN = r"^\p{Han}{1,2}執\p{Han}?[0-9]{2,3}年.+字第[0-9]+號$"


@dataclass(frozen=True)
class Context:
    """What a run knows besides the records: today, the encoding, the sender."""

    kind: Kind
    today: dt.date
    encoding: str = "utf-8"
    fixed_width: bool = False
    lossy: bool = False
    sender: str | None = None


@dataclass(frozen=True)
class Test:
    code: Code
    field: str | None
    fails: pl.Expr
    params: dict[str, Any]

    def messages(self) -> tuple[str, str]:
        return self.code.message_zh.format(**self.params), self.code.message_en.format(**self.params)


def text(name: str) -> pl.Expr:
    return pl.col(name)


def date_of(name: str) -> pl.Expr:
    return pl.col(f"{name}#date")


def number_of(name: str) -> pl.Expr:
    return pl.col(f"{name}#n")


def typed_columns(kind: Kind) -> list[list[pl.Expr]]:
    """Stages of typed columns: dates, amounts and address prefixes, then county and district."""
    first, second = [], []
    for f in kind.fields:
        if f.type is FieldType.ROC_DATE:
            first.append(roc_to_date(text(f.name)).alias(f"{f.name}#date"))
        elif f.type is FieldType.AMOUNT:
            well_formed = text(f.name).str.contains(AMOUNT_PATTERN % f.width)
            number = pl.when(well_formed).then(text(f.name).str.to_integer(strict=False))
            first.append(number.alias(f"{f.name}#n"))
    for name in sorted(
        {chk.fields[ADDRESS_RULES[chk.rule]] for chk in kind.checks if chk.rule in ADDRESS_RULES}
    ):
        head = pl.col(f"{name}#head")
        first.append(address.prefix(text(name)).alias(f"{name}#head"))
        second += [
            address.county(head).alias(f"{name}#county"),
            address.district(head).alias(f"{name}#district"),
        ]
    return [first, second]


def county_of(name: str) -> pl.Expr:
    return pl.col(f"{name}#county")


def district_of(name: str) -> pl.Expr:
    return pl.col(f"{name}#district")


def labels(f: Field, prefix: str = "label") -> dict[str, str]:
    """Message parameters naming a field: ``{label_zh}``, or ``{other_zh}`` for a second field."""
    return {f"{prefix}_zh": f.label_zh, f"{prefix}_en": f.label_en}


ADVICE = {
    "cp950": {"advice_zh": "請改以 UTF-8 傳送", "advice_en": "send the file in UTF-8"},
    "utf-8": {
        "advice_zh": "請確認檔案確以 UTF-8 存檔",
        "advice_en": "check that the file was really saved as UTF-8",
    },
}


def field_tests(f: Field, ctx: Context) -> list[Test]:
    """The tests a field's declaration implies: presence, type format, width, encoding."""
    col = text(f.name)
    present = col.is_not_null()
    base = labels(f) | {"width": f.width, "encoding": ctx.encoding} | ADVICE[ctx.encoding]
    tests: list[Test] = []
    if f.required:
        tests.append(Test(codes.REQUIRED, f.name, ~present, base))
    if ctx.lossy or f.type is FieldType.TEXT:
        # U+FFFD stands for bytes that could not be decoded, here or before the file reached us.
        tests.append(Test(codes.UNDECODABLE, f.name, col.str.contains("\ufffd", literal=True), base))
    tests.extend(TYPE_TESTS[f.type](f, col, ctx, base))
    return tests


def _text(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    tests = [Test(codes.CONTROL_CHAR, f.name, col.str.contains(CONTROL_CHARS), base)]
    if not ctx.fixed_width:  # a fixed-width field cannot overflow its slot
        size = col.str.len_bytes()
        if ctx.encoding == "cp950":  # one byte for ASCII, two for every other character
            size = col.str.len_chars() + col.str.count_matches(NON_ASCII)
        tests.append(Test(codes.TOO_LONG, f.name, size > f.width, base))
    return tests


def _code(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    pattern = f.pattern or ".*"
    return [
        Test(
            codes.CODE_FORMAT,
            f.name,
            ~col.str.contains(f"^(?:{pattern})$"),
            base
            | {
                "pattern": pattern,
                "pattern_zh": f.pattern_zh or pattern,
                "pattern_en": f.pattern_en or pattern,
            },
        )
    ]


def _enum(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    return [Test(codes.ENUM, f.name, ~col.is_in(list(f.values)), base | {"values": ", ".join(f.values)})]


def _date(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    seven_digits = col.str.contains(r"^[0-9]{7}$")
    return [
        Test(codes.DATE_FORMAT, f.name, ~seven_digits, base),
        Test(codes.DATE_INVALID, f.name, seven_digits & date_of(f.name).is_null(), base),
    ]


def _amount(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    return [Test(codes.AMOUNT_FORMAT, f.name, col.is_not_null() & number_of(f.name).is_null(), base)]


def _postcode(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    return [Test(codes.POSTCODE_FORMAT, f.name, ~col.str.contains(POSTCODE_PATTERN), base)]


PERSON_FORMS = (
    "身分證或居留證統一證號（1 英文字母加 9 碼數字）",
    "a national or resident ID (a letter and 9 digits)",
)
UBN_FORMS = ("營利事業統一編號（8 碼數字）", "a business ID (8 digits)")


def _person_id(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    person = col.str.contains(PERSON_ID_PATTERN)
    forms = {"forms_zh": PERSON_FORMS[0], "forms_en": PERSON_FORMS[1]}
    return [
        Test(codes.ID_FORMAT, f.name, ~person, base | forms),
        Test(codes.ID_CHECKSUM, f.name, person & ~person_id_checksum_ok(col), base),
    ]


def _party_id(f: Field, col: pl.Expr, ctx: Context, base: dict[str, Any]) -> list[Test]:
    person = col.str.contains(PERSON_ID_PATTERN)
    ubn = col.str.contains(UBN_PATTERN)
    forms = {
        "forms_zh": f"{PERSON_FORMS[0]}或{UBN_FORMS[0]}",
        "forms_en": f"{PERSON_FORMS[1]} or {UBN_FORMS[1]}",
    }
    return [
        Test(codes.ID_FORMAT, f.name, ~person & ~ubn, base | forms),
        Test(codes.ID_CHECKSUM, f.name, person & ~person_id_checksum_ok(col), base),
        Test(codes.UBN_CHECKSUM, f.name, ubn & ~ubn_checksum_ok(col), base),
    ]


TypeTests = Callable[[Field, pl.Expr, Context, dict[str, Any]], list[Test]]
TYPE_TESTS: dict[FieldType, TypeTests] = {
    FieldType.TEXT: _text,
    FieldType.CODE: _code,
    FieldType.ENUM: _enum,
    FieldType.FLAG: _enum,
    FieldType.ROC_DATE: _date,
    FieldType.AMOUNT: _amount,
    FieldType.POSTCODE: _postcode,
    FieldType.PERSON_ID: _person_id,
    FieldType.PARTY_ID: _party_id,
}

# --- declared checks -------------------------------------------------------------------------

CheckTests = Callable[[Check, Context], list[Test]]
CHECKS: dict[str, CheckTests] = {}


def rule(name: str) -> Callable[[CheckTests], CheckTests]:
    def register(fn: CheckTests) -> CheckTests:
        CHECKS[name] = fn
        return fn

    return register


def _pair(chk: Check, ctx: Context) -> tuple[str, str, dict[str, Any]]:
    """The checked field, the other field it compares with, and both labels for messages."""
    target, other = chk.fields[0], chk.fields[1]
    params = labels(ctx.kind.field(target)) | labels(ctx.kind.field(other), "other")
    return target, other, params | dict(chk.params)


@rule("party_id_matches_type")
def _party_matches_type(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    col, kind = text(target), text(other)
    fails = ((kind == "P") & col.str.contains(UBN_PATTERN)) | (
        (kind == "C") & col.str.contains(PERSON_ID_PATTERN)
    )
    return [Test(codes.TYPE_MISMATCH, target, fails, params)]


@rule("required_when")
def _required_when(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    fails = (text(other) == chk.param("value")) & text(target).is_null()
    return [Test(codes.REQUIRED_WHEN, target, fails, params)]


@rule("only_when")
def _only_when(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    fails = text(target).is_not_null() & (text(other) != chk.param("value"))
    return [Test(codes.NOT_APPLICABLE, target, fails, params)]


@rule("not_in_future")
def _not_in_future(chk: Check, ctx: Context) -> list[Test]:
    name = chk.fields[0]
    fails = date_of(name) > pl.lit(ctx.today)
    return [Test(codes.FUTURE, name, fails, labels(ctx.kind.field(name)))]


@rule("amount_total")
def _amount_total(chk: Check, ctx: Context) -> list[Test]:
    total, *parts = chk.fields
    fields = [ctx.kind.field(p) for p in parts]
    params = labels(ctx.kind.field(total)) | {
        "parts_zh": "、".join(f"「{f.label_zh}」" for f in fields),
        "parts_en": ", ".join(f.label_en for f in fields),
    }
    summed = pl.sum_horizontal([number_of(p) for p in parts], ignore_nulls=False)
    return [Test(codes.SUM_MISMATCH, total, number_of(total) != summed, params)]


@rule("positive")
def _positive(chk: Check, ctx: Context) -> list[Test]:
    name = chk.fields[0]
    return [Test(codes.NOT_POSITIVE, name, number_of(name) <= 0, labels(ctx.kind.field(name)))]


@rule("overdue")
def _overdue(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    return [Test(codes.NOT_OVERDUE, target, date_of(target) >= date_of(other), params)]


@rule("not_expired")
def _not_expired(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    return [Test(codes.EXPIRED, target, date_of(target) <= date_of(other), params)]


@rule("within_years")
def _within_years(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    limit = date_of(other).dt.offset_by(f"{chk.param('years')}y")
    return [Test(codes.TOO_FAR, target, date_of(target) > limit, params)]


@rule("near_expiry")
def _near_expiry(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    left = (date_of(target) - date_of(other)).dt.total_days()
    return [Test(codes.NEAR_EXPIRY, target, (left > 0) & (left < chk.param("days")), params)]


ADDRESS_RULES = {"routable_address": 0, "postcode_matches_address": 1}  # which field is the address


@rule("routable_address")
def _routable_address(chk: Check, ctx: Context) -> list[Test]:
    name = chk.fields[0]
    county = county_of(name)
    split = sorted(refdata.split_counties())
    params = labels(ctx.kind.field(name)) | {"split_zh": "、".join(split), "split_en": ", ".join(split)}
    no_district = county.is_in(split) & district_of(name).is_null()
    return [
        Test(codes.NO_COUNTY, name, text(name).is_not_null() & county.is_null(), params),
        Test(codes.NO_DISTRICT, name, no_district, params),
    ]


@rule("postcode_matches_address")
def _postcode_matches_address(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    zip3 = text(target).str.slice(0, 3)
    county, district = county_of(other), district_of(other)
    known = (
        pl.when(district.is_not_null())
        .then(pl.concat_str([zip3, county, district]).is_in(address.zip3_district_keys()))
        .otherwise(pl.concat_str([zip3, county]).is_in(address.zip3_county_keys()))
    )
    fails = text(target).str.contains(POSTCODE_PATTERN) & county.is_not_null() & ~known
    return [Test(codes.POSTCODE_MISMATCH, target, fails, params)]


@rule("full_payment_consistent")
def _full_payment(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    remaining = number_of(other)
    fails = ((text(target) == "Y") & (remaining != 0)) | ((text(target) == "N") & (remaining == 0))
    return [Test(codes.FULL_PAYMENT, target, fails, params)]


@rule("channel_limit")
def _channel_limit(chk: Check, ctx: Context) -> list[Test]:
    target, other, params = _pair(chk, ctx)
    channel = ctx.kind.field(other)
    value = next((c.label_zh for c in channel.choices if c.value == chk.param("value")), "")
    fails = (text(other) == chk.param("value")) & (number_of(target) > chk.param("limit"))
    return [Test(codes.CHANNEL_LIMIT, target, fails, params | {"value": value})]


@rule("branch_case_no_form")
def _branch_case_no(chk: Check, ctx: Context) -> list[Test]:
    name = chk.fields[0]
    fails = ~text(name).str.contains(BRANCH_CASE_NO_PATTERN)
    return [Test(codes.BRANCH_CASE_NO, name, fails, labels(ctx.kind.field(name)))]


def sender_tests(ctx: Context) -> list[Test]:
    if ctx.sender is None or ctx.kind.sender_field is None:
        return []
    name = ctx.kind.sender_field
    params = labels(ctx.kind.field(name)) | {"sender": ctx.sender}
    return [Test(codes.SENDER, name, text(name) != ctx.sender, params)]


def tests_for(ctx: Context) -> list[Test]:
    """Every test of the kind, in declared order: fields first, then checks, then the sender."""
    tests = [t for f in ctx.kind.fields for t in field_tests(f, ctx)]
    for chk in ctx.kind.checks:
        tests.extend(CHECKS[chk.rule](chk, ctx))
    return tests + sender_tests(ctx)

"""Known errors to plant in synthetic files, one per rule, derived from the kind's declaration.

Each ``Injection`` says which finding code it provokes on which field, on which records it can be
made (a Polars predicate) and how it changes one record. The generator records every planted
error in a truth file, so that tests can compare the engine's findings with it record by record.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from aedx.schema import Check, Field, FieldType, Kind
from aedx.sim.ids import make_ubn
from aedx.validation.dates import format_roc, parse_roc

Record = dict[str, str | None]
Mutate = Callable[[Record, random.Random], None]
UNDECODABLE_MARK = "\ue000"  # written as bytes the file's encoding cannot decode


@dataclass(frozen=True)
class Injection:
    code: str
    field: str
    mutate: Mutate
    applies: pl.Expr | None = None  # records it can be made on; None for any
    fixed_width: bool = True  # possible in a fixed-width file


def _set(name: str, value: str | None) -> Mutate:
    def mutate(r: Record, rnd: random.Random) -> None:
        r[name] = value

    return mutate


def _shift_date(name: str, source: str, days: int) -> Mutate:
    def mutate(r: Record, rnd: random.Random) -> None:
        day = parse_roc(r[source] or "")
        if day is not None:
            r[name] = format_roc(day + dt.timedelta(days=days))

    return mutate


def _present(name: str) -> pl.Expr:
    return pl.col(name).is_not_null()


def field_injections(f: Field) -> list[Injection]:
    name = f.name
    out: list[Injection] = []
    if f.required:
        out.append(Injection("required", name, _set(name, None)))
    if f.type is FieldType.TEXT:

        def control(r: Record, rnd: random.Random) -> None:
            value = r[name] or "甲"
            r[name] = value[:1] + "\t" + value[1:]

        def undecodable(r: Record, rnd: random.Random) -> None:
            r[name] = UNDECODABLE_MARK + (r[name] or "")[1:]

        out.append(Injection("text.control_char", name, control, _present(name)))
        out.append(Injection("text.too_long", name, _set(name, "長" * f.width), fixed_width=False))
        out.append(Injection("encoding.undecodable", name, undecodable, _present(name)))
    elif f.type is FieldType.CODE:
        out.append(Injection("code.format", name, _set(name, "!" * 2), _present(name)))
    elif f.type in (FieldType.ENUM, FieldType.FLAG):
        out.append(Injection("enum.invalid", name, _set(name, "Z" * min(2, f.width)), _present(name)))
    elif f.type is FieldType.ROC_DATE:

        def feb_30(r: Record, rnd: random.Random) -> None:
            r[name] = (r[name] or "113")[:3] + "0230"

        out.append(Injection("date.format", name, _set(name, "113/1/5"), _present(name)))
        out.append(Injection("date.invalid", name, feb_30, _present(name)))
    elif f.type is FieldType.AMOUNT:
        out.append(Injection("amount.format", name, _set(name, "1,000"), _present(name)))
    elif f.type is FieldType.POSTCODE:
        out.append(Injection("postcode.format", name, _set(name, "12"), _present(name)))
    elif f.type in (FieldType.PARTY_ID, FieldType.PERSON_ID):

        def wrong_check_digit(r: Record, rnd: random.Random) -> None:
            value = r[name] or ""
            r[name] = value[:-1] + str((int(value[-1]) + 1) % 10)

        person = _present(name) & pl.col(name).str.contains(r"^[A-Z]")
        out.append(Injection("id.format", name, _set(name, "12345"), _present(name)))
        out.append(Injection("id.checksum", name, wrong_check_digit, person))
        if f.type is FieldType.PARTY_ID:
            ubn = _present(name) & pl.col(name).str.contains(r"^[0-9]{8}$")
            out.append(Injection("ubn.checksum", name, wrong_check_digit, ubn))
    return out


def check_injections(chk: Check, kind: Kind, today: dt.date) -> list[Injection]:
    """Errors for a declared check; the builders mirror the rules of the rule library."""
    target = chk.fields[0]
    other = chk.fields[1] if len(chk.fields) > 1 else ""
    value = chk.param("value")
    if chk.rule == "party_id_matches_type":

        def company_id(r: Record, rnd: random.Random) -> None:
            r[target] = make_ubn(f"{rnd.randrange(10**6):06d}1")

        return [Injection("party.type_mismatch", target, company_id, pl.col(other) == "P")]
    if chk.rule == "required_when":
        return [Injection("required.conditional", target, _set(target, None), pl.col(other) == value)]
    if chk.rule == "only_when":
        f = kind.field(target)
        example = f.example or (f.choices[0].value if f.choices else "")
        applies = pl.col(other).is_not_null() & (pl.col(other) != value) & pl.col(target).is_null()
        return [Injection("field.not_applicable", target, _set(target, example), applies)]
    if chk.rule == "not_in_future":
        future = format_roc(today + dt.timedelta(days=30))
        return [Injection("date.future", target, _set(target, future), _present(target))]
    if chk.rule == "amount_total":

        def off_by_one(r: Record, rnd: random.Random) -> None:
            r[target] = str(int(r[target] or 0) + 1)

        return [Injection("amount.sum_mismatch", target, off_by_one)]
    if chk.rule == "positive":
        parts = next(
            (c.fields for c in kind.checks if c.rule == "amount_total" and c.fields[0] == target),
            (target,),
        )

        def zero(r: Record, rnd: random.Random) -> None:
            for name in parts:
                r[name] = "0"

        return [Injection("amount.not_positive", target, zero, _present(target))]
    if chk.rule == "overdue":
        return [Injection("due_date.not_overdue", target, _shift_date(target, other, 10))]
    if chk.rule == "not_expired":
        return [Injection("deadline.expired", target, _shift_date(target, other, -1))]
    if chk.rule == "within_years":
        days = int(chk.param("years") * 365.25) + 30
        return [Injection("deadline.too_far", target, _shift_date(target, other, days))]
    if chk.rule == "near_expiry":
        return [Injection("deadline.near_expiry", target, _shift_date(target, other, chk.param("days") // 3))]
    if chk.rule == "routable_address":

        def drop_county(r: Record, rnd: random.Random) -> None:
            r[target] = (r[target] or "")[3:]

        def no_district(r: Record, rnd: random.Random) -> None:
            r[target] = "臺北市忠孝東路一段100號"
            r["postcode"] = "100"

        return [
            Injection("address.no_county", target, drop_county),
            Injection("address.no_district", target, no_district),
        ]
    if chk.rule == "postcode_matches_address":
        far = pl.col(other).str.starts_with("澎湖縣").not_()
        return [Injection("postcode.mismatch", target, _set(target, "880"), far)]
    if chk.rule == "full_payment_consistent":

        def contradict(r: Record, rnd: random.Random) -> None:
            r[other] = "100" if r[target] == "Y" else "0"

        return [Injection("payment.full_mismatch", target, contradict)]
    if chk.rule == "channel_limit":

        def over_limit(r: Record, rnd: random.Random) -> None:
            r[other] = value
            r[target] = str(chk.param("limit") + 5000)

        return [Injection("payment.channel_limit", target, over_limit)]
    if chk.rule == "branch_case_no_form":
        return [Injection("branch_case_no.form", target, _set(target, "ABC-123"))]
    raise LookupError(f"no injection for rule {chk.rule}")  # a new rule needs one here


def sender_injection(kind: Kind, sender: str) -> list[Injection]:
    if kind.sender_field is None:
        return []
    f = kind.field(kind.sender_field)
    others = [v for v in f.values if v != sender] or ["B999999999"]
    return [Injection("sender.mismatch", f.name, _set(f.name, others[0]))]


def injections(kind: Kind, *, today: dt.date, sender: str, fixed_width: bool) -> list[Injection]:
    """Every error the generator can plant for the kind (duplicates are planted separately)."""
    found = [i for f in kind.fields for i in field_injections(f)]
    found += [i for chk in kind.checks for i in check_injections(chk, kind, today)]
    found += sender_injection(kind, sender)
    return [i for i in found if i.fixed_width or not fixed_width]

"""Identifiers and ROC dates: DOMAIN.md vectors and properties tying generators to validators."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from aedx.sim.ids import LETTERS, make_person_id, make_ubn, person_ids, ubns
from aedx.validation.dates import parse_roc, roc_to_date
from aedx.validation.ids import is_valid_person_id, is_valid_ubn, person_id_checksum_ok, ubn_checksum_ok

VALID_IDS = ["A123456789", "F131104093", "O158238845", "Y123456788", "A800000014", "A900207177",
             "AA00000009", "AB00207171", "AD30196818"]  # fmt: skip
BOTH_RULES = ["22099131", "04595257", "12345675", "12345676"]
NEW_RULE_ONLY = ["04595252", "12345670", "12345671"]
INVALID_UBNS = ["04595253", "12345678"]


def vectorised(expr_of: object, values: list[str]) -> list[bool | None]:
    return pl.DataFrame({"v": values}).select(expr_of(pl.col("v"))).to_series().to_list()  # type: ignore[operator]


def test_person_id_vectors() -> None:
    assert all(is_valid_person_id(v) for v in VALID_IDS)
    assert not is_valid_person_id("A123456788")
    assert vectorised(person_id_checksum_ok, [*VALID_IDS, "A123456788"]) == [True] * 9 + [False]


def test_ubn_vectors_under_both_rules() -> None:
    assert [is_valid_ubn(v) for v in BOTH_RULES + NEW_RULE_ONLY] == [True] * 7
    assert [is_valid_ubn(v, divisor=10) for v in BOTH_RULES + NEW_RULE_ONLY] == [True] * 4 + [False] * 3
    assert not any(is_valid_ubn(v) for v in INVALID_UBNS)
    assert vectorised(ubn_checksum_ok, BOTH_RULES + NEW_RULE_ONLY + INVALID_UBNS) == [True] * 7 + [False] * 2


digits7 = st.text("0123456789", min_size=7, max_size=7)


@given(st.sampled_from(LETTERS), st.sampled_from("1289ABCD"), digits7)
def test_made_person_ids_are_valid_and_any_other_check_digit_is_not(
    letter: str, second: str, body: str
) -> None:
    made = make_person_id(letter, second, body)
    assert is_valid_person_id(made)
    others = [made[:-1] + d for d in "0123456789" if d != made[-1]]
    assert not any(is_valid_person_id(o) for o in others)
    assert vectorised(person_id_checksum_ok, [made, *others]) == [True] + [False] * 9


@given(digits7)
def test_made_ubns_are_valid_and_wrong_check_digits_fail_the_old_rule(body: str) -> None:
    made = make_ubn(body)
    assert is_valid_ubn(made) and is_valid_ubn(made, divisor=10)
    others = [body + d for d in "0123456789" if d != made[-1]]
    if body[6] != "7":  # with a 7th digit 7 two check digits are valid under the old rule
        assert not any(is_valid_ubn(o, divisor=10) for o in others)
    scalar = [is_valid_ubn(o) for o in others]
    assert vectorised(ubn_checksum_ok, others) == scalar  # vectorised and scalar rules agree


def test_vectorised_generators_make_only_valid_ids() -> None:
    rng = np.random.default_rng(7)
    people, companies = person_ids(rng, 20_000).tolist(), ubns(rng, 20_000).tolist()
    assert all(map(is_valid_person_id, people))
    assert all(is_valid_ubn(u, divisor=10) for u in companies)
    assert all(vectorised(person_id_checksum_ok, people)) and all(vectorised(ubn_checksum_ok, companies))


def test_roc_dates() -> None:
    values = ["1130229", "1120229", "0890229", "1890229", "1131301", "1130100", "0000101", "0010101", "11302"]
    expected = [parse_roc(v) for v in values]
    assert [str(d) if d else None for d in expected] == [
        "2024-02-29",
        None,
        "2000-02-29",
        None,
        None,
        None,
        None,
        "1912-01-01",
        None,
    ]
    assert vectorised(roc_to_date, values) == expected


@given(st.text("0123456789", min_size=7, max_size=7))
def test_vectorised_roc_dates_agree_with_the_reference(value: str) -> None:
    assert vectorised(roc_to_date, [value]) == [parse_roc(value)]

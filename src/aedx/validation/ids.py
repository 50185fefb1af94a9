"""Taiwan identifiers: national ID, resident IDs (new and old form) and business ID (UBN).

Each rule has a scalar reference implementation, used by tests and the data generator, and a
vectorised Polars expression used by the engine. Both follow ``DOMAIN.md``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

LETTER_VALUES: dict[str, int] = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
    "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
    "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip

# Second character: 1/2 citizens, 8/9 new resident IDs (2021-), A-D old resident IDs.
PERSON_ID_PATTERN = r"^[A-Z][1289A-D][0-9]{8}$"
UBN_PATTERN = r"^[0-9]{8}$"
_WEIGHTS_TAIL = (7, 6, 5, 4, 3, 2, 1, 1)  # weights of the last eight digits
_UBN_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def person_id_sum(value: str) -> int:
    """The weighted sum of a person ID; valid when divisible by 10."""
    first = LETTER_VALUES[value[0]]
    second = int(value[1]) if value[1].isdigit() else LETTER_VALUES[value[1]] % 10
    total = first // 10 + (first % 10) * 9 + second * 8
    return total + sum(int(d) * w for d, w in zip(value[2:], _WEIGHTS_TAIL, strict=True))


def is_person_id_form(value: str) -> bool:
    return (
        len(value) == 10
        and value[0] in LETTER_VALUES
        and (value[1] in "1289" or value[1] in "ABCD")
        and value[2:].isascii()
        and value[2:].isdigit()
    )


def is_valid_person_id(value: str) -> bool:
    """National ID, new resident ID or old resident ID, checksum included."""
    return is_person_id_form(value) and person_id_sum(value) % 10 == 0


def ubn_sum(value: str) -> int:
    return sum(sum(divmod(int(d) * w, 10)) for d, w in zip(value, _UBN_WEIGHTS, strict=True))


def is_valid_ubn(value: str, *, divisor: int = 5) -> bool:
    """Business ID; ``divisor`` 5 is the rule since 2023-04-01, 10 the rule before."""
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        return False
    total = ubn_sum(value)
    return total % divisor == 0 or (value[6] == "7" and (total + 1) % divisor == 0)


def _half_table(weights: tuple[int, ...], digit_sum: bool = False) -> pl.Series:
    """For every 4-digit number, the weighted sum of its digits (of each product's digits)."""
    numbers = np.arange(10_000)
    total = np.zeros(10_000, dtype=np.int64)
    for position, weight in enumerate(weights):
        product = (numbers // 10 ** (3 - position) % 10) * weight
        total += product // 10 + product % 10 if digit_sum else product
    return pl.Series(total)


_PERSON_HEAD = _half_table(_WEIGHTS_TAIL[:4])
_PERSON_TAIL = _half_table(_WEIGHTS_TAIL[4:])
_UBN_HEAD = _half_table(_UBN_WEIGHTS[:4], digit_sum=True)
_UBN_TAIL = _half_table(_UBN_WEIGHTS[4:], digit_sum=True)
# The first letter's part of the sum, by the letter's base-36 value (A = 10 ... Z = 35).
_LETTER_PART = pl.Series(
    [None] * 10
    + [LETTER_VALUES[chr(55 + v)] // 10 + LETTER_VALUES[chr(55 + v)] % 10 * 9 for v in range(10, 36)],
    dtype=pl.Int64,
)


def _halves(number: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    return (number // 10_000).clip(0, 9_999), (number % 10_000).clip(0, 9_999)


def person_id_checksum_ok(col: pl.Expr) -> pl.Expr:
    """True where a value of person-ID form has a valid checksum (meaningless elsewhere).

    The weighted sum is read from lookup tables: the letter's part by its base-36 value, the
    second character (a digit, or A-D of old resident IDs) modulo 10, and the eight digits in two
    4-digit halves.
    """
    letter = col.str.slice(0, 1).str.to_integer(base=36, strict=False).clip(0, 35)
    second = col.str.slice(1, 1).str.to_integer(base=36, strict=False) % 10
    head, tail = _halves(col.str.slice(2, 8).str.to_integer(strict=False))
    total = (
        pl.lit(_LETTER_PART).gather(letter)
        + second * 8
        + pl.lit(_PERSON_HEAD).gather(head)
        + pl.lit(_PERSON_TAIL).gather(tail)
    )
    return total % 10 == 0


def ubn_checksum_ok(col: pl.Expr, *, divisor: int = 5) -> pl.Expr:
    """True where an 8-digit value is a valid business ID (meaningless elsewhere)."""
    number = col.str.to_integer(strict=False)
    head, tail = _halves(number)
    total = pl.lit(_UBN_HEAD).gather(head) + pl.lit(_UBN_TAIL).gather(tail)
    seventh_is_7 = number // 10 % 10 == 7
    return (total % divisor == 0) | (seventh_is_7 & ((total + 1) % divisor == 0))

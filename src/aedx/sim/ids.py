"""Generating valid identifiers: national and resident IDs and business IDs (UBN).

Scalar makers are used by tests (hypothesis ties each to its validator); the vectorised makers
produce a million IDs at once for synthetic files.
"""

from __future__ import annotations

import numpy as np

from aedx.validation.ids import LETTER_VALUES, person_id_sum, ubn_sum

LETTERS = "ABCDEFGHIJKMNOPQTUVWXZ"  # letters still issued (L, R, S and Y are not)


def make_person_id(letter: str, second: str, digits: str) -> str:
    """A valid person ID from its letter, second character (1, 2, 8, 9 or A-D) and 7 digits."""
    stem = letter + second + digits + "0"
    check = (10 - person_id_sum(stem) % 10) % 10
    return stem[:-1] + str(check)


def make_ubn(digits: str) -> str:
    """A valid business ID from its first 7 digits: the last digit is chosen to satisfy the rule
    in force before 2023 (divisible by 10), which the 2023 rule (divisible by 5) also accepts."""
    for last in "0123456789":
        candidate = digits + last
        if ubn_sum(candidate) % 10 == 0 or (digits[6] == "7" and (ubn_sum(candidate) + 1) % 10 == 0):
            return candidate
    raise AssertionError("every 7-digit stem has a valid check digit")  # pragma: no cover


_LETTER_TENS = np.array([LETTER_VALUES[c] // 10 for c in LETTERS])
_LETTER_ONES = np.array([LETTER_VALUES[c] % 10 for c in LETTERS])


def person_ids(rng: np.random.Generator, n: int, *, sex: np.ndarray | None = None) -> np.ndarray:
    """``n`` valid national IDs (second digit 1 or 2; ``sex`` 1/2 when given), as strings."""
    letter = rng.integers(0, len(LETTERS), n)
    second = sex if sex is not None else rng.integers(1, 3, n)
    digits = rng.integers(0, 10, (n, 7))
    weights = np.array([7, 6, 5, 4, 3, 2, 1])
    total = _LETTER_TENS[letter] + _LETTER_ONES[letter] * 9 + second * 8 + digits @ weights
    check = (10 - total % 10) % 10
    letters = np.array(list(LETTERS))[letter]
    body = second * 10**8 + (digits @ (10 ** np.arange(7, 0, -1))) + check
    return np.char.add(letters, np.char.zfill(body.astype(str), 9))


def ubns(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` valid business IDs; the check digit satisfies the rule whose total is divisible by 10."""
    digits = rng.integers(0, 10, (n, 7))
    digits[:, 6] = np.where(digits[:, 6] == 7, 6, digits[:, 6])  # keep off the 7th-digit-7 case
    weights = np.array([1, 2, 1, 2, 1, 2, 4])
    products = digits * weights
    total = (products // 10 + products % 10).sum(axis=1)
    check = (10 - total % 10) % 10
    number = digits @ (10 ** np.arange(7, 0, -1)) + check
    return np.char.zfill(number.astype(str), 8)

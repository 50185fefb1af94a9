"""Obligor keys: SipHash-2-4 as its authors publish it, stable, keyed, and the same for one ID."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from aedx.exchange.obligors import obligor_keys, siphash24

# The reference vectors of the SipHash paper: key 00..0f, message 00..(n-1).
VECTORS = {
    0: "310e0edd47db6f72", 1: "fd67dc93c539f874", 2: "5a4fa9d909806c0d", 3: "2d7efbd796666785",
    4: "b7877127e09427cf", 8: "6224939a79f5f593", 10: "f3b9dd94c5bb5d7a",
}  # fmt: skip


@pytest.mark.parametrize(("n", "expected"), VECTORS.items())
def test_siphash_reference_vectors(n: int, expected: str) -> None:
    message = np.frombuffer(bytes(range(n)), dtype=np.uint8).reshape(1, n)
    assert int(siphash24(message, bytes(range(16)))[0]).to_bytes(8, "little").hex() == expected


def test_obligor_keys_are_keyed_and_per_id() -> None:
    ids = pl.Series(["A123456789", "22099131", None, "A123456789", "F131104093"])
    keys = obligor_keys(ids, b"k" * 32)
    assert keys.dtype == pl.Int64 and keys[2] is None
    assert keys[0] == keys[3] and len({keys[0], keys[1], keys[4]}) == 3
    assert obligor_keys(ids, b"j" * 32)[0] != keys[0]
    one = np.frombuffer(b"22099131", dtype=np.uint8).reshape(1, 8)
    assert keys[1] == int(siphash24(one, b"k" * 16).view(np.int64)[0])

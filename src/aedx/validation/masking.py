"""Masking personal data in reports and logs: A12****789, 王○明, 臺北市士林區****."""

from __future__ import annotations

import polars as pl

from aedx.schema import Field, FieldType


def mask(f: Field, col: pl.Expr) -> pl.Expr:
    """The value as a report may show it; personal fields keep only enough to find the record."""
    if not f.personal:
        return col
    if f.type in (FieldType.PARTY_ID, FieldType.PERSON_ID):
        return pl.concat_str([col.str.slice(0, 3), pl.lit("****"), col.str.slice(-3, 3)])
    if f.name.endswith("address"):
        return pl.concat_str([col.str.slice(0, 6), pl.lit("****")])
    masked_tail = pl.lit("○").repeat_by(col.str.len_chars() - 1).list.join("")
    return pl.concat_str([col.str.slice(0, 1), masked_tail])

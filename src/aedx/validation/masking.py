"""Masking personal data in reports, answers and logs: A12****789, 12****75 (a business ID),
陳○文, 王○, 台○○○○司, 臺北市士林區****.

Identifiers keep their first and last characters (three each, two of a business ID's eight) so
an officer can tell records apart; names keep the first and, from three characters on, the last.
A kept first character that would start a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, CR) is
hidden too, so a masked value never opens as a formula.
"""

from __future__ import annotations

import polars as pl

from aedx.formats.spreadsheet import FORMULA_PATTERN, FORMULA_STARTS
from aedx.schema import Field, FieldType

HIDDEN_ID = "****"
HIDDEN_CHAR = "○"


def mask(f: Field, col: pl.Expr) -> pl.Expr:
    """The value as a report may show it; personal fields keep only enough to find the record."""
    if not f.personal:
        return col
    if f.type in (FieldType.PARTY_ID, FieldType.PERSON_ID):
        return mask_ids(col)
    if f.name.endswith("address"):
        return _no_formula(pl.concat_str([col.str.slice(0, 6), pl.lit("****")]), "*")
    return mask_names(col)


def _no_formula(masked: pl.Expr, hidden: str) -> pl.Expr:
    """The masked value with a formula-starting first character hidden as well."""
    return (
        pl.when(masked.str.contains(FORMULA_PATTERN))
        .then(pl.concat_str([pl.lit(hidden), masked.str.slice(1)]))
        .otherwise(masked)
    )


def _no_formula_text(masked: str, hidden: str) -> str:
    return hidden + masked[1:] if masked.startswith(FORMULA_STARTS) else masked


def mask_ids(col: pl.Expr) -> pl.Expr:
    """National and resident IDs as A12****789, business IDs (8 digits) as 12****75."""
    short = col.str.len_chars() <= 8
    keep = pl.when(short).then(2).otherwise(3)
    masked = pl.concat_str([col.str.slice(0, keep), pl.lit(HIDDEN_ID), col.str.slice(-keep, keep)])
    return _no_formula(masked, "*")


def mask_names(col: pl.Expr) -> pl.Expr:
    """王○ for two characters, 陳○文 for three, the first and last kept from three on."""
    n = col.str.len_chars()
    hidden = pl.lit(HIDDEN_CHAR).repeat_by(pl.max_horizontal(n - 2, 1)).list.join("")
    last = pl.when(n >= 3).then(col.str.slice(-1, 1)).otherwise(pl.lit(""))
    masked = (
        pl.when(n <= 1)
        .then(pl.lit(HIDDEN_CHAR))
        .otherwise(pl.concat_str([col.str.slice(0, 1), hidden, last]))
    )
    return _no_formula(masked, HIDDEN_CHAR)


def mask_id(value: str) -> str:
    keep = 2 if len(value) <= 8 else 3
    return _no_formula_text(value[:keep] + HIDDEN_ID + value[-keep:], "*")


def mask_name(value: str) -> str:
    if len(value) <= 1:
        return HIDDEN_CHAR
    if len(value) == 2:
        return _no_formula_text(value[0] + HIDDEN_CHAR, HIDDEN_CHAR)
    return _no_formula_text(value[0] + HIDDEN_CHAR * (len(value) - 2) + value[-1], HIDDEN_CHAR)

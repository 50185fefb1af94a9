"""Findings are data: a stable code, a severity, a record, a field and a bilingual message.

Readers (``aedx.formats``) and the validation engine (``aedx.validation``) both produce findings;
this module is the vocabulary they share. Findings travel as Polars frames with ``COLUMNS``, so a
file with a million bad records never becomes a million Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from aedx.schema import Kind, Severity

COLUMNS: dict[str, pl.DataType] = {
    "row": pl.Int64(),  # 1-based record number, header not counted; null for the whole file
    "field": pl.String(),
    "code": pl.String(),
    "severity": pl.String(),
    "message_zh": pl.String(),
    "message_en": pl.String(),
    "value": pl.String(),  # the offending value, masked when it is personal data
    "case_no": pl.String(),  # the record's agency case number, when the kind has one
}
CASE_FIELD = "agency_case_no"
CASE_CHARACTERS = 40  # of a case number kept in a finding (the field's own width is 30)


@dataclass(frozen=True)
class Code:
    """A finding code of the catalogue; messages may use the placeholders ``{label_zh}``,
    ``{label_en}`` and any parameter of the check that raised it."""

    code: str
    severity: Severity
    message_zh: str
    message_en: str

    def summary(self, english: bool = False) -> str:
        """What the code means where no record is at hand (a filter, a tally): its message with
        the field left general and the other blanks elided."""
        if english:
            text = re.sub(r"^\{label_en\}", "A field", self.message_en).replace("{label_en}", "the field")
        else:
            text = self.message_zh.replace("「{label_zh}」", "欄位").replace("{label_zh}", "欄位")
        return re.sub(r"\{[a-z_]+\}", "…", text)


CATALOGUE: dict[str, Code] = {}


def define(code: str, severity: Severity, message_zh: str, message_en: str) -> Code:
    """Add a code to the catalogue; every code is defined once."""
    if code in CATALOGUE:
        raise ValueError(f"finding code {code} is defined twice")
    CATALOGUE[code] = Code(code, severity, message_zh, message_en)
    return CATALOGUE[code]


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


def frame(
    code: Code,
    rows: list[int | None],
    *,
    field: str | None = None,
    values: list[str | None] | None = None,
    case_nos: list[str | None] | None = None,
    **params: object,
) -> pl.DataFrame:
    """Findings of one code for the given records (used off the hot path)."""
    n = len(rows)
    return pl.DataFrame(
        {
            "row": rows,
            "field": [field] * n,
            "code": [code.code] * n,
            "severity": [code.severity.value] * n,
            "message_zh": [code.message_zh.format(**params)] * n,
            "message_en": [code.message_en.format(**params)] * n,
            "value": values if values is not None else [None] * n,
            "case_no": case_nos if case_nos is not None else [None] * n,
        },
        schema=COLUMNS,
    )


def case_column(kind: Kind) -> pl.Expr:
    """The agency case number of a record, for a clerk to find the case in their own system: the
    kind's ``agency_case_no`` unless it is declared personal (it is not, in any kind so far)."""
    field = next((f for f in kind.fields if f.name == CASE_FIELD), None)
    if field is None or field.personal:
        return pl.lit(None, pl.String).alias("case_no")
    return pl.col(CASE_FIELD).cast(pl.String).str.slice(0, CASE_CHARACTERS).alias("case_no")


def with_case_no(found: pl.DataFrame) -> pl.DataFrame:
    """Findings stored before they carried case numbers, with an empty ``case_no``."""
    if "case_no" in found.columns:
        return found
    return found.with_columns(pl.lit(None, pl.String).alias("case_no"))


class UnusableInput(Exception):
    """The input cannot be read as records of the kind at all: nothing to validate row by row."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en

    def one_line(self) -> str:
        return f"{self.code}: {self.message_zh} / {self.message_en}"

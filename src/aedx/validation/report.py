"""The validation report: every finding (no cap), totals by code, and exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from aedx import findings
from aedx.findings import UnusableInput
from aedx.formats import ControlRecord
from aedx.schema import Kind, Severity

LINES_BEFORE = {"csv": 1}  # lines before the first record: a CSV file's header row


def with_lines(found: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """Findings with ``line`` after ``row``: the line of the file the record is on, as a text
    editor or Excel numbers it (a CSV file's header is line 1, so record N is on line N+1; a
    fixed-width or JSON Lines file's record N is on line N, its control record being the last).
    Null for a finding on the whole file."""
    columns = found.columns
    at = columns.index("row") + 1
    lines = found.with_columns((pl.col("row") + LINES_BEFORE.get(fmt, 0)).alias("line"))
    return lines.select([*columns[:at], "line", *(c for c in columns[at:] if c != "line")])


@dataclass
class Report:
    kind: Kind
    source: str
    format: str
    encoding: str
    records: int
    findings: pl.DataFrame
    control: ControlRecord | None = None

    @classmethod
    def unusable(cls, kind: Kind, source: str, fmt: str, encoding: str, error: UnusableInput) -> Report:
        """The report of a file that cannot be read at all: its one finding, no records."""
        finding = pl.DataFrame(
            [[None, None, error.code, Severity.ERROR.value, error.message_zh, error.message_en, None, None]],
            schema=findings.COLUMNS,
            orient="row",
        )
        return cls(kind, source, fmt, encoding, 0, findings.empty().vstack(finding))

    def __post_init__(self) -> None:
        order = {name: i for i, name in enumerate(self.kind.names)}
        self.findings = (
            self.findings.with_columns(
                pl.col("field").replace_strict(order, default=len(order)).alias("#order")
            )
            .sort(["row", "#order", "code"], nulls_last=False, maintain_order=True)
            .drop("#order")
        )

    def _rows_with(self, severity: Severity) -> int:
        rows = self.findings.filter(pl.col("severity") == severity.value)["row"]
        return int(rows.drop_nulls().n_unique())

    @property
    def error_rows(self) -> int:
        return self._rows_with(Severity.ERROR)

    @property
    def warning_rows(self) -> int:
        return self._rows_with(Severity.WARNING)

    @property
    def has_errors(self) -> bool:
        return bool((self.findings["severity"] == Severity.ERROR.value).any())

    def totals(self) -> pl.DataFrame:
        """Findings counted by code and severity, the most frequent first."""
        return (
            self.findings.group_by("code", "severity")
            .agg(
                pl.len().alias("count"),
                pl.col("field").drop_nulls().unique(maintain_order=True).str.join(", ").alias("fields"),
            )
            .sort(["count", "code"], descending=[True, False])
        )

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind.name,
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.records,
            "error_rows": self.error_rows,
            "warning_rows": self.warning_rows,
            "valid": not self.has_errors,
            "control": None
            if self.control is None
            else {"records": self.control.records, "amount_total": self.control.amount_total},
            "totals": self.totals().select("code", "severity", "count").to_dicts(),
        }

    def to_dict(self) -> dict[str, Any]:
        return self.summary() | {"findings": self.lined().to_dicts()}

    def lined(self) -> pl.DataFrame:
        """The findings with the file's line of each record (``with_lines``)."""
        return with_lines(self.findings, self.format)

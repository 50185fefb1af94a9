"""The vectorised validation engine.

For each batch of records: clean the text, add typed columns, evaluate every test of the kind
into a per-row bitmask (64 tests to a word), keep only the rows whose mask is not zero, and expand
findings for those rows alone. Cross-batch rules (duplicate keys, the control record) run once at
the end on the few columns they need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from aedx import findings
from aedx.findings import UnusableInput
from aedx.formats import ROW, Batch, Format, Limits, RecordStream, read_batches
from aedx.schema import Kind, Severity
from aedx.validation import codes, detect
from aedx.validation.masking import mask
from aedx.validation.report import Report
from aedx.validation.rules import Context, Test, number_of, tests_for, typed_columns

WORD = 64


@dataclass(frozen=True)
class Options:
    sender: str | None = None
    today: dt.date | None = None
    severity: dict[str, Severity] = field(default_factory=dict)  # overrides by code
    limits: Limits = field(default_factory=Limits)
    keep: bool = False  # keep every record with its typed columns (``Validator.kept``)
    mask_personal: bool = True  # False: personal values as found, for a report sealed at rest


ENCODING_NAMES = {"utf-8": ("UTF-8", "UTF-8"), "cp950": ("Big5", "Big5 (CP950)")}


def explain_encoding(report: Report, content: Path | memoryview) -> Report:
    """A file in the other encoding than declared (Big5 sent as UTF-8, or the reverse) gets one
    finding that says so, instead of an undecodable value on every record."""
    undecodable = report.findings["code"] == codes.UNDECODABLE.code
    if report.encoding not in ENCODING_NAMES or not undecodable.any():
        return report
    other = "cp950" if report.encoding == "utf-8" else "utf-8"
    sample = detect.head(content)
    if sample.isascii():
        return report  # nothing here tells one encoding from the other
    try:
        sample.decode(other)
    except UnicodeDecodeError:
        return report  # not the other encoding either: the values stand as found
    zh, en = ENCODING_NAMES[other]
    affected = report.findings.filter(undecodable)["row"].drop_nulls().unique()
    following = pl.col("row").is_in(affected.implode()).fill_null(False)  # only follow from it
    rows, count = affected.len(), int(report.findings.select(following.sum()).item())
    whole = findings.frame(codes.WRONG_ENCODING, [None], guess_zh=zh, guess_en=en, records=rows, count=count)
    report.findings = pl.concat([whole, report.findings.filter(~following & ~undecodable)])
    report.__post_init__()
    return report


def explain_kind(report: Report, content: Path | memoryview) -> Report:
    """A file whose columns (or, in fixed width, whose records' length) are those of another kind
    than the one chosen gets one finding that says so, instead of a refused header or a finding
    on every record: only when the chosen kind does not fit and exactly one other kind does."""
    if not report.has_errors or report.format not in {f.value for f in Format}:
        return report
    other = detect.other_kind(report.kind, Format(report.format), content)
    if other is None:
        return report
    report.findings = findings.frame(
        codes.OTHER_KIND, [None], other_zh=other.label_zh, other_en=other.label_en,
        chosen_zh=report.kind.label_zh, chosen_en=report.kind.label_en,
    )  # fmt: skip
    report.__post_init__()
    return report


def validate_file(
    path: Path, kind: Kind, fmt: Format, encoding: str, options: Options | None = None
) -> Report:
    """Validate one file; raises ``UnusableInput`` when it cannot be read as records at all (unless
    it is a file of another kind: its report then says so)."""
    options = options or Options()
    stream = read_batches(path, kind, fmt, encoding, options.limits)
    try:
        report = explain_encoding(Validator(kind, stream, options).run(source=path.name), path)
    except UnusableInput as e:
        unusable = Report.unusable(kind, path.name, fmt.value, stream.encoding, e)
        if explain_kind(unusable, path).findings["code"][0] != codes.OTHER_KIND.code:
            raise
        return unusable
    return explain_kind(report, path)


class Validator:
    def __init__(self, kind: Kind, stream: RecordStream, options: Options) -> None:
        self.kind = kind
        self.stream = stream
        self.options = options
        self.today = options.today or dt.date.today()
        self.severity = kind.severity | options.severity
        self._plans: dict[bool, tuple[list[Test], list[pl.Expr]]] = {}
        self.kept: list[pl.DataFrame] = []
        self.on_kept: Callable[[pl.DataFrame], None] | None = None

    def run(self, *, source: str, on_kept: Callable[[pl.DataFrame], None] | None = None) -> Report:
        """``on_kept`` sees each batch of kept records as soon as it is checked."""
        self.on_kept = on_kept
        parts: list[pl.DataFrame] = []
        keys: list[pl.DataFrame] = []
        amount_total = 0
        for batch in self.stream:
            parts.append(batch.problems)
            checked = self._check(batch)
            parts.append(checked.findings)
            if self.kind.unique_key:
                keys.append(checked.keys)
            amount_total += checked.amount_total
        parts.append(self._duplicates(keys))
        parts.append(self._control(amount_total))
        if self.stream.records == 0:  # nothing to route: decided here, not failed at routing
            parts.append(findings.frame(codes.NO_RECORDS, [None]))
        report_findings = pl.concat(parts, how="vertical") if parts else findings.empty()
        return Report(
            kind=self.kind,
            source=source,
            format=self.stream.format.value,
            encoding=self.stream.encoding,
            records=self.stream.records,
            findings=self._override_severity(report_findings),
            control=self.stream.control,
        )

    def _plan(self, lossy: bool) -> tuple[list[Test], list[pl.Expr]]:
        if lossy not in self._plans:
            ctx = Context(
                kind=self.kind,
                today=self.today,
                encoding=self.stream.encoding,
                fixed_width=self.stream.format is Format.FIXED,
                lossy=lossy,
                sender=self.options.sender,
            )
            tests = tests_for(ctx)
            words = []
            for w in range(0, len(tests), WORD):
                bits = [
                    pl.when(t.fails).then(pl.lit(1 << i, pl.UInt64)).otherwise(pl.lit(0, pl.UInt64))
                    for i, t in enumerate(tests[w : w + WORD])
                ]
                words.append(pl.sum_horizontal(bits).alias(f"#mask{w // WORD}"))
            self._plans[lossy] = (tests, words)
        return self._plans[lossy]

    def _check(self, batch: Batch) -> _Checked:
        tests, words = self._plan(batch.lossy)
        prepared = batch.frame.lazy()
        for stage in typed_columns(self.kind):
            prepared = prepared.with_columns(stage)
        total = number_of(self.kind.control_amount).sum() if self.kind.control_amount else pl.lit(0, pl.Int64)
        marked = prepared.with_columns(words)
        any_failed = pl.any_horizontal([pl.col(w.meta.output_name()) != 0 for w in words])
        queries = [
            marked.filter(any_failed),
            prepared.select(ROW, *self.kind.unique_key, findings.case_column(self.kind)),
            prepared.select(total.alias("#total")),
        ]
        if self.options.keep:
            queries.append(prepared.select(pl.exclude("^.*#head$")))
        failing, keys, totals, *kept = pl.collect_all(queries)
        self.kept.extend(kept)
        if kept and self.on_kept is not None:
            self.on_kept(kept[0])
        return _Checked(self._expand(tests, failing), keys, int(totals.item() or 0))

    def _expand(self, tests: list[Test], failing: pl.DataFrame) -> pl.DataFrame:
        """Findings for the failing rows only: one slice per test whose bit is set."""
        if failing.height == 0:
            return findings.empty()
        parts = []
        for i, test in enumerate(tests):
            word, bit = divmod(i, WORD)
            hit = failing.filter((pl.col(f"#mask{word}") & (1 << bit)) != 0)
            if hit.height == 0:
                continue
            zh, en = test.messages()
            value = (
                pl.col(test.field)
                if test.field and not self.options.mask_personal
                else mask(self.kind.field(test.field), pl.col(test.field))
                if test.field
                else pl.lit(None, pl.String)
            )
            parts.append(
                hit.select(
                    pl.col(ROW).alias("row"),
                    pl.lit(test.field, pl.String).alias("field"),
                    pl.lit(test.code.code).alias("code"),
                    pl.lit(test.code.severity.value).alias("severity"),
                    pl.lit(zh).alias("message_zh"),
                    pl.lit(en).alias("message_en"),
                    value.cast(pl.String).alias("value"),
                    findings.case_column(self.kind),
                )
            )
        return pl.concat(parts) if parts else findings.empty()

    def _duplicates(self, keys: list[pl.DataFrame]) -> pl.DataFrame:
        """Every record whose unique key repeats an earlier record of the file."""
        key = list(self.kind.unique_key)
        if not key or not keys:
            return findings.empty()
        # A missing required part is reported already; optional parts compare null to null.
        required = [k for k in key if self.kind.field(k).required]
        frame = pl.concat(keys).drop_nulls(required)
        first = pl.col(ROW).min().over(key)
        dup = frame.with_columns(first.alias("#first")).filter(pl.col(ROW) != pl.col("#first"))
        if dup.height == 0:
            return findings.empty()
        fields = [self.kind.field(k) for k in key]
        params = {
            "key_zh": "、".join(f"「{f.label_zh}」" for f in fields),
            "key_en": ", ".join(f.label_en for f in fields),
        }
        zh = [part.format(**params) for part in codes.DUPLICATE.message_zh.split("{first}")]
        en = [part.format(**params) for part in codes.DUPLICATE.message_en.split("{first}")]
        first_row = pl.col("#first").cast(pl.String)
        return dup.select(
            pl.col(ROW).alias("row"),
            pl.lit(key[-1] if len(key) == 1 else key[0]).alias("field"),
            pl.lit(codes.DUPLICATE.code).alias("code"),
            pl.lit(codes.DUPLICATE.severity.value).alias("severity"),
            pl.concat_str([pl.lit(zh[0]), first_row, pl.lit(zh[1])]).alias("message_zh"),
            pl.concat_str([pl.lit(en[0]), first_row, pl.lit(en[1])]).alias("message_en"),
            pl.concat_str([pl.col(k) for k in key], separator="/").alias("value"),
            pl.col("case_no"),
        ).sort("row")

    def _control(self, amount_total: int) -> pl.DataFrame:
        control = self.stream.control
        if control is None:
            return findings.empty()
        parts = [findings.empty()]
        if control.records != self.stream.records:
            parts.append(
                findings.frame(
                    codes.CONTROL_COUNT,
                    [None],
                    declared=control.records,
                    actual=self.stream.records,
                )
            )
        if self.kind.control_amount and control.amount_total != amount_total:
            parts.append(
                findings.frame(
                    codes.CONTROL_AMOUNT, [None], declared=control.amount_total, actual=amount_total
                )
            )
        return pl.concat(parts)

    def _override_severity(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self.severity:
            return frame
        mapping = {code: sev.value for code, sev in self.severity.items()}
        return frame.with_columns(
            pl.col("code").replace_strict(mapping, default=pl.col("severity")).alias("severity")
        )


@dataclass
class _Checked:
    findings: pl.DataFrame
    keys: pl.DataFrame
    amount_total: int

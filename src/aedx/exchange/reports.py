"""Validation reports keep personal values sealed at rest and show them masked.

A finding's ``value`` of a personal field (declared ``personal`` in the kind) is sealed when the
report is stored, bound to its submission, row and field (``report.value``); serving the report
opens it and masks it (A12****789, 陳○文) unless the caller may unmask and asked to, which is
audited like every unmasking."""

from __future__ import annotations

import polars as pl
from sqlalchemy.orm import Session

from aedx.accounts.roles import Permission
from aedx.errors import Denied
from aedx.findings import with_case_no
from aedx.schema import Kind
from aedx.trust import audit
from aedx.trust.caller import Caller
from aedx.trust.vault import SEPARATOR, Keyring
from aedx.validation.masking import mask

PURPOSE = b"report.value"
SEALED = "#sealed"  # True where ``value`` holds a sealed personal value


def _personal(kind: Kind) -> list[str]:
    return [f.name for f in kind.fields if f.personal]


def _contexts(findings: pl.DataFrame, submission_id: str) -> pl.Series:
    return findings.select(
        pl.concat_str(
            [pl.lit(submission_id), pl.col("row").cast(pl.String).fill_null("-"), pl.col("field")],
            separator=SEPARATOR,
        )
    ).to_series()


def seal(findings: pl.DataFrame, kind: Kind, keyring: Keyring, submission_id: str) -> pl.DataFrame:
    """The findings as stored: personal values sealed, marked in ``#sealed``."""
    personal = pl.col("field").is_in(_personal(kind)) & pl.col("value").is_not_null()
    marked = findings.with_columns(personal.fill_null(False).alias(SEALED))
    chosen = marked.filter(pl.col(SEALED))
    if chosen.height == 0:
        return marked
    sealed = keyring.seal_column(chosen["value"], _contexts(chosen, submission_id), PURPOSE)
    values = marked["value"].scatter(marked[SEALED].arg_true(), sealed)
    return marked.with_columns(values)


def reveal(
    stored: pl.DataFrame, kind: Kind, keyring: Keyring, submission_id: str, *, masked: bool
) -> pl.DataFrame:
    """The findings as served: personal values opened, and masked when ``masked``. Reports stored
    before sealing carry masked values already and are served as they are."""
    stored = with_case_no(stored)
    if SEALED not in stored.columns:
        return stored
    where = stored[SEALED].arg_true()
    if where.len():
        chosen = stored[where]
        opened = keyring.open_column(chosen["value"], _contexts(chosen, submission_id), PURPOSE)
        stored = stored.with_columns(stored["value"].scatter(where, opened))
    if masked:
        shown = pl.col("value")
        for f in kind.fields:
            if f.personal:
                shown = (
                    pl.when(pl.col(SEALED) & (pl.col("field") == f.name))
                    .then(mask(f, pl.col("value")))
                    .otherwise(shown)
                )
        stored = stored.with_columns(shown.alias("value"))
    return stored.drop(SEALED)


def allow_unmask(
    session: Session, caller: Caller, submission_id: str | None, detail: dict[str, object] | None = None
) -> None:
    """Let the caller see the report's personal values, audited; refused (and audited) unless
    the caller holds ``personal_data.unmask``. A dry run's report has no submission: ``detail``
    then names the file checked (its SHA-256)."""
    allowed = caller.may(Permission.PERSONAL_DATA_UNMASK)
    audit.by_caller(
        session, caller, "personal_data.unmask", outcome="ok" if allowed else "denied",
        object_type="submission" if submission_id else None, object_id=submission_id,
        submission_id=submission_id,
        detail=(detail or {}) | ({} if allowed else {"reason": "permission"}) or None,
    )  # fmt: skip
    if not allowed:
        audit.refuse(session, Denied("您無權檢視未遮蔽之個人資料", "you may not see personal data unmasked"))

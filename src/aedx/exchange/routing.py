"""Routing: each accepted record's recipient, with the cross-checks against the case index.

Territory routing sends a referral to the branch whose territory holds the obligor's address
(the district decides where a county is split); case routing follows the case index to whoever
holds the case. Records that cannot be routed become findings.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx import findings, refdata
from aedx.exchange import codes, registry
from aedx.findings import Code
from aedx.formats import ROW
from aedx.schema import Kind, Routing
from aedx.storage.tables import Organisation

RECIPIENT, CASE_ID = registry.RECIPIENT, registry.CASE_ID


@dataclass(frozen=True)
class Sender:
    code: str
    role: str


@dataclass
class Routed:
    records: pl.DataFrame  # with RECIPIENT (and CASE_ID for case routing)
    findings: pl.DataFrame


def route(
    session: Session, kind: Kind, submission_id: str, sender: Sender, records: pl.DataFrame, *, recheck: bool
) -> Routed:
    """``recheck``: look for already-open cases before writing new ones. The first time, the unique
    index finds them as the cases are written, at no extra cost; a conflict there brings the
    submission back here to name the records."""
    if kind.routing is Routing.TERRITORY:
        routed = _by_territory(session, kind, submission_id, records, recheck)
    elif kind.routing is Routing.CASE:
        routed = _by_case(session, kind, sender, records)
    else:
        raise ValueError(f"{kind.name} is not exchanged through the platform")
    return Routed(routed.records, pl.concat([routed.findings, _unregistered(session, kind, routed.records)]))


def territory_expr(field: str) -> pl.Expr:
    """The branch code for the address: its district's branch where the county is split, else the
    county's."""
    table = {f"{county}|{district}": branch for (county, district), branch in refdata.territory().items()}
    county, district = pl.col(f"{field}#county"), pl.col(f"{field}#district")
    by_district = pl.concat_str([county, pl.lit("|"), district]).replace_strict(table, default=None)
    by_county = (county + "|").replace_strict(table, default=None)
    return pl.coalesce(by_district, by_county).cast(pl.String)


def _by_territory(
    session: Session, kind: Kind, submission_id: str, records: pl.DataFrame, recheck: bool
) -> Routed:
    records = records.with_columns(territory_expr(str(kind.route_field)).alias(RECIPIENT))
    if not recheck:
        return Routed(records, findings.empty())
    found = registry.lookup(session, records)
    conflicts = found.filter(pl.col("is_open") & (pl.col("opened_by") != submission_id))
    return Routed(records, _case_findings(records, conflicts[ROW], codes.ALREADY_OPEN, kind))


def _by_case(session: Session, kind: Kind, sender: Sender, records: pl.DataFrame) -> Routed:
    found = registry.lookup(session, records)
    holder = "branch_code" if kind.recipient_role == "branch" else "agency_code"
    joined = records.join(
        found.select(
            ROW,
            pl.col("case_id").alias(CASE_ID),
            pl.col(holder).alias(RECIPIENT),
            "is_open",
            pl.col("branch_code").alias("#holder"),
        ),
        on=ROW,
        how="left",
    )
    unknown = joined.filter(pl.col(CASE_ID).is_null())[ROW]
    parts = [_case_findings(joined, unknown, codes.UNKNOWN_CASE, kind)]
    if sender.role == "branch":  # a branch reports only on cases it holds
        not_held = joined.filter(pl.col("#holder").is_not_null() & (pl.col("#holder") != sender.code))[ROW]
        parts.append(_case_findings(joined, not_held, codes.NOT_HELD, kind))
    else:
        closed = joined.filter(pl.col("is_open").not_())[ROW]
        parts.append(_case_findings(joined, closed, codes.CLOSED_CASE, kind))
    return Routed(joined.drop("is_open", "#holder"), pl.concat(parts))


def _case_findings(records: pl.DataFrame, rows: pl.Series, code: Code, kind: Kind) -> pl.DataFrame:
    if rows.len() == 0:
        return findings.empty()
    chosen = records.filter(pl.col(ROW).is_in(rows.implode())).sort(ROW)
    values = chosen["agency_case_no"].to_list()
    cases = chosen.select(findings.case_column(kind))["case_no"].to_list()
    return findings.frame(code, rows.sort().to_list(), field="agency_case_no", values=values, case_nos=cases)


def _unregistered(session: Session, kind: Kind, records: pl.DataFrame) -> pl.DataFrame:
    """Records whose recipient is not an active organisation of the platform."""
    wanted = records[RECIPIENT].drop_nulls().unique().to_list()
    if not wanted:
        return findings.empty()
    active = set(
        session.scalars(select(Organisation.code).where(Organisation.code.in_(wanted), Organisation.active))
    )
    missing = [code for code in wanted if code not in active]
    parts = [findings.empty()]
    for code in sorted(missing):
        chosen = records.filter(pl.col(RECIPIENT) == code)
        rows, cases = chosen[ROW].to_list(), chosen.select(findings.case_column(kind))["case_no"].to_list()
        values = [code] * len(rows)
        parts.append(findings.frame(codes.NO_RECIPIENT, rows, values=values, case_nos=cases, recipient=code))
    return pl.concat(parts)

"""Organisations: HQ, the 13 branches (their territory is ``refdata/territory.csv``), agencies and
partner offices. What they may exchange is in ``accounts.grants``; how their servers authenticate,
in ``accounts.clients``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx import refdata
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.errors import Invalid
from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.kinds.fields import AGENCY_CODE_PATTERN
from aedx.storage.tables import Organisation
from aedx.trust import audit
from aedx.trust.caller import Caller

HQ_CODE = "aea"
HQ_NAME = "法務部行政執行署"
ROLES = ("hq", "branch", "agency", "partner")
CATEGORIES = ("tax", "nhi", "fine", "fee")
IMPORT_COLUMNS = ("code", "name", "role", "category", "preferred_format", "preferred_encoding")


@dataclass(frozen=True)
class OrgRow:
    code: str
    name: str
    role: str = "agency"
    category: str | None = None
    preferred_format: str = "csv"
    preferred_encoding: str = "utf-8"
    abbreviation: str | None = None


def seed_reference(session: Session, actor: str) -> int:
    """HQ and the 13 branches, from the reference tables; returns how many were added."""
    rows = [OrgRow(HQ_CODE, HQ_NAME, "hq")] + [
        OrgRow(b.code, b.name, "branch", abbreviation=b.abbreviation) for b in refdata.branches()
    ]
    return upsert(session, rows, actor)


def upsert(session: Session, rows: Iterable[OrgRow], actor: str) -> int:
    """Add new organisations and update the names and preferences of known ones."""
    known = {o.code: o for o in session.scalars(select(Organisation))}
    added = 0
    for row in rows:
        org = known.get(row.code)
        if org is None:
            org = Organisation(code=row.code, role=row.role)
            session.add(org)
            known[row.code] = org
            added += 1
        elif org.role != row.role:
            raise Invalid(
                f"機關 {row.code} 已登錄為 {org.role}，不可改為 {row.role}",
                f"organisation {row.code} is registered as {org.role}, not {row.role}",
            )
        org.name = row.name
        org.category = row.category
        org.abbreviation = row.abbreviation
        org.preferred_format = row.preferred_format
        org.preferred_encoding = row.preferred_encoding
    session.flush()
    audit.record(session, actor=actor, action="organisations.import", detail={"added": added})
    return added


def parse_csv(text: str) -> list[OrgRow]:
    """The agency list as HQ keeps it: code,name[,role,category,preferred_format,preferred_encoding]."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name"} - set(reader.fieldnames or ())
    if missing:
        raise Invalid(
            f"機關清單缺少欄位：{', '.join(sorted(missing))}",
            f"the organisation list lacks the columns {', '.join(sorted(missing))}",
        )
    rows, problems = [], []
    for line, raw in enumerate(reader, start=2):
        try:
            rows.append(_org_row(raw))
        except ValueError as e:
            problems.append(f"line {line}: {e}")
    if problems:
        raise Invalid("機關清單有誤：" + "; ".join(problems[:20]), "; ".join(problems[:20]))
    return rows


def _org_row(raw: dict[str, str | None]) -> OrgRow:
    def value(name: str, default: str | None = None) -> str | None:
        v = (raw.get(name) or "").strip()
        return v or default

    code, name = value("code"), value("name")
    role = value("role", "agency")
    if not code or not name:
        raise ValueError("code and name are required")
    if role not in ("agency", "partner"):
        raise ValueError(f"role {role!r}: the list holds agencies and partner offices")
    if not re.fullmatch(AGENCY_CODE_PATTERN, code):
        raise ValueError(f"code {code!r} is not an agency code (2 to 10 capital letters or digits)")
    category = value("category")
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    fmt = Format.parse(value("preferred_format", "csv") or "csv").value
    encoding = canonical_encoding(value("preferred_encoding", "utf-8") or "utf-8")
    return OrgRow(code, name, role, category, fmt, encoding)


def get(session: Session, code: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise Invalid(f"查無機關 {code}", f"no organisation {code}")
    return org


def operator(session: Session, actor: str) -> Caller:
    """The platform's operator at its command line (or a set-up script) acts as HQ's
    administrator: HQ is made when missing."""
    hq = session.scalar(select(Organisation).where(Organisation.code == HQ_CODE))
    if hq is None:
        seed_reference(session, actor)
        hq = get(session, HQ_CODE)
    return Caller(hq.id, hq.code, hq.role, actor, permissions=frozenset(ROLE_PERMISSIONS[Role.HQ_ADMIN]))

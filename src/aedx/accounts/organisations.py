"""Organisations: HQ, the 13 branches (their territory is ``refdata/territory.csv``), agencies and
partner offices. What they may exchange is in ``accounts.grants``; how their servers authenticate,
in ``accounts.clients``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx import refdata
from aedx.accounts import grants
from aedx.accounts.roles import ROLE_PERMISSIONS, Permission, Role
from aedx.errors import Conflict, Denied, Invalid
from aedx.findings import UnusableInput
from aedx.formats import Format
from aedx.formats.source import canonical_encoding
from aedx.kinds.fields import AGENCY_CODE_PATTERN, AGENCY_CODE_WORDS
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
        raise ValueError(f"code {code!r} is not an agency code ({AGENCY_CODE_WORDS[1]})")
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


# --- management by HQ (``Permission.ORGANISATIONS_MANAGE``); every change and refusal audited

MANAGED_ROLES = ("agency", "partner")  # HQ and the branches come from the reference tables
SEARCH_LIMIT = 100


def _require_manager(session: Session, caller: Caller, action: str, code: str | None) -> None:
    if caller.may(Permission.ORGANISATIONS_MANAGE):
        return
    audit.by_caller(session, caller, action, outcome="denied", object_type="organisation", object_id=code,
                    detail={"reason": "permission"})  # fmt: skip
    audit.refuse(session, Denied("您無權管理機關", "you may not manage organisations"))


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 2 <= len(name) <= 100:
        raise Invalid("機關名稱須為 2 至 100 字", "an organisation's name has 2 to 100 characters")
    return name


def _preferences(fmt: str, encoding: str) -> tuple[str, str]:
    try:
        return Format.parse(fmt).value, canonical_encoding(encoding)
    except UnusableInput as e:
        raise Invalid(e.message_zh, e.message_en) from None


def _managed_role(role: str) -> str:
    if role not in MANAGED_ROLES:
        raise Invalid(
            "僅可新增或變更為移送機關或合作機關", "only agencies and partner offices are managed here"
        )
    return role


def _changed(session: Session, caller: Caller, action: str, org: Organisation, **detail: Any) -> None:
    audit.by_caller(session, caller, action, organisation_id=org.id, object_type="organisation",
                    object_id=org.code, detail=detail or None)  # fmt: skip


def create(
    session: Session,
    caller: Caller,
    code: str,
    name: str,
    role: str = "agency",
    *,
    category: str | None = None,
    preferred_format: str = "csv",
    preferred_encoding: str = "utf-8",
) -> Organisation:
    """A new agency or partner office; its code is an agency code (2 to 10 capital letters or
    digits) no other organisation has. It receives the grants its kind normally needs, as the
    kinds declare who sends and who receives them (``grants.give_defaults``); they stay editable."""
    _require_manager(session, caller, "organisation.create", code[:64])
    code = code.strip()
    if not re.fullmatch(AGENCY_CODE_PATTERN, code):
        raise Invalid(
            f"機關代號須為 {AGENCY_CODE_WORDS[0]}", f"an organisation code has {AGENCY_CODE_WORDS[1]}"
        )
    if category is not None and category not in CATEGORIES:
        raise Invalid(f"類別須為 {', '.join(CATEGORIES)}", f"the category is one of {', '.join(CATEGORIES)}")
    if session.scalar(select(Organisation.id).where(Organisation.code == code)) is not None:
        raise Conflict(f"機關代號 {code} 已有機關使用", f"the code {code} belongs to another organisation")
    fmt, encoding = _preferences(preferred_format, preferred_encoding)
    org = Organisation(code=code, name=_name(name), role=_managed_role(role), category=category,
                       preferred_format=fmt, preferred_encoding=encoding, active=True)  # fmt: skip
    session.add(org)
    session.flush()
    _changed(session, caller, "organisation.create", org, role=org.role, name=org.name)
    grants.give_defaults(session, caller, org)
    return org


def update(
    session: Session,
    caller: Caller,
    code: str,
    *,
    name: str,
    role: str,
    preferred_format: str,
    preferred_encoding: str,
) -> Organisation:
    """Correct an organisation's name and preferences; an agency may become a partner office and
    back (both give their people the same roles), HQ and branches keep their kind."""
    _require_manager(session, caller, "organisation.update", code[:64])
    org = get(session, code)
    if role != org.role:
        if org.role not in MANAGED_ROLES:
            raise Invalid("總署與分署之類型不可變更", "HQ and the branches keep their kind")
        org.role = _managed_role(role)
    org.name = _name(name)
    org.preferred_format, org.preferred_encoding = _preferences(preferred_format, preferred_encoding)
    session.flush()
    _changed(session, caller, "organisation.update", org, role=org.role, name=org.name,
             preferred_format=org.preferred_format, preferred_encoding=org.preferred_encoding)  # fmt: skip
    return org


def set_active(session: Session, caller: Caller, code: str, active: bool) -> Organisation:
    """Disable an organisation (it neither sends nor receives; its grants stay for when it is
    enabled again) or enable it. HQ cannot be disabled."""
    action = "organisation.enable" if active else "organisation.disable"
    _require_manager(session, caller, action, code[:64])
    org = get(session, code)
    if org.role == "hq" and not active:
        raise Invalid("行政執行署不可停用", "HQ cannot be disabled")
    if org.active != active:
        org.active = active
        session.flush()
        _changed(session, caller, action, org)
    return org


def listing(
    session: Session,
    *,
    role: str | None = None,
    search: str | None = None,
    active: bool | None = None,
    after: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[Organisation]:
    """Organisations by code, filtered by kind, by a piece of the code or name, by state; keyset
    paged on the code."""
    stmt = select(Organisation).order_by(Organisation.code).limit(min(limit, 1000))
    if role:
        stmt = stmt.where(Organisation.role == role)
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            Organisation.code.ilike(like, escape="\\") | Organisation.name.ilike(like, escape="\\")
        )
    if active is not None:
        stmt = stmt.where(Organisation.active.is_(active))
    if after:
        stmt = stmt.where(Organisation.code > after)
    return list(session.scalars(stmt))

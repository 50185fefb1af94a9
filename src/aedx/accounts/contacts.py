"""The contact directory (聯繫窗口): each organisation's office phone and address and its contact
people, whom the others call about an exchange.

Everyone signed in reads the directory. An organisation's administrator (``accounts.manage_own``)
keeps their own organisation's entry, HQ (``accounts.manage``) every one; each change and each
refusal is audited, a refusal committed before it is raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from aedx.accounts.users import EMAIL, may_manage
from aedx.errors import Denied, Invalid, NotFound
from aedx.storage.tables import ContactOffice, ContactPerson, Organisation, utcnow
from aedx.trust import audit
from aedx.trust.caller import Caller

ROLE_ORDER = ("hq", "branch", "agency", "partner")
PHONE = re.compile(r"\+?[0-9()\- ]{6,24}(?:#[0-9]{1,6})?")  # (02)2345-6789#123, 0912-345-678, +886 2 …
MAX_PEOPLE = 20  # per organisation
QUERY_LENGTH = 50


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    title: str
    phone: str
    email: str


@dataclass(frozen=True)
class Entry:
    """One organisation of the directory."""

    organisation_id: int
    code: str
    name: str
    role: str
    phone: str
    address: str
    people: tuple[Person, ...]


# --- checks on what is entered


def phone(raw: str) -> str:
    """A phone number as people write it in Taiwan; empty is allowed."""
    value = " ".join(raw.split())
    digits = sum(c.isdigit() for c in value)
    if value and (not PHONE.fullmatch(value) or digits < 7):
        raise Invalid(
            f"電話「{raw[:40]}」格式有誤，例：(02)2345-6789#123 或 0912-345-678",
            f"{raw[:40]!r} is not a phone number; e.g. (02)2345-6789#123 or 0912-345-678",
        )
    return value


def email(raw: str) -> str:
    """An e-mail address; empty is allowed."""
    value = raw.strip().lower()
    if value and (len(value) > 200 or not EMAIL.fullmatch(value)):
        raise Invalid(f"電子郵件「{raw[:60]}」格式有誤", f"{raw[:60]!r} is not an e-mail address")
    return value


def _text(raw: str, width: int, zh: str, en: str, *, required: bool = False) -> str:
    value = " ".join(raw.split())
    if required and not value:
        raise Invalid(f"請填寫{zh}", f"{en} is required")
    if len(value) > width or any(not c.isprintable() for c in value):
        raise Invalid(f"{zh}至多 {width} 字，且不得含控制字元", f"{en} has at most {width} characters")
    return value


# --- reading


def _people(session: Session, organisation_ids: list[int]) -> dict[int, list[Person]]:
    found: dict[int, list[Person]] = {i: [] for i in organisation_ids}
    if not organisation_ids:
        return found
    rows = session.scalars(
        select(ContactPerson)
        .where(ContactPerson.organisation_id.in_(organisation_ids))
        .order_by(ContactPerson.organisation_id, ContactPerson.id)
    )
    for p in rows:
        found[p.organisation_id].append(Person(p.id, p.name, p.title, p.phone, p.email))
    return found


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session, *, text: str = "", role: str | None = None, offset: int = 0, limit: int = 25
) -> tuple[list[Entry], int]:
    """Organisations whose code, name, or a contact person's name or title contains ``text``,
    HQ first, then the branches in their official order, the agencies and partners by code; and
    how many there are."""
    rank = case({r: i for i, r in enumerate(ROLE_ORDER)}, value=Organisation.role, else_=len(ROLE_ORDER))
    where: list[Any] = [Organisation.active]
    if role in ROLE_ORDER:
        where.append(Organisation.role == role)
    words = " ".join(text.split())[:QUERY_LENGTH]
    if words:
        like = f"%{_escaped(words.lower())}%"
        person = select(ContactPerson.organisation_id).where(
            or_(
                func.lower(ContactPerson.name).like(like, escape="\\"),
                func.lower(ContactPerson.title).like(like, escape="\\"),
            )
        )
        where.append(
            or_(
                func.lower(Organisation.code).like(like, escape="\\"),
                func.lower(Organisation.name).like(like, escape="\\"),
                Organisation.id.in_(person),
            )
        )
    total = session.scalar(select(func.count()).select_from(Organisation).where(*where)) or 0
    rows = session.execute(
        select(Organisation, ContactOffice)
        .outerjoin(ContactOffice, ContactOffice.organisation_id == Organisation.id)
        .where(*where)
        .order_by(rank, case((Organisation.role == "branch", Organisation.id), else_=0), Organisation.code)
        .offset(max(offset, 0))
        .limit(limit)
    ).all()
    people = _people(session, [org.id for org, _ in rows])
    entries = [
        Entry(org.id, org.code, org.name, org.role, office.phone if office else "",
              office.address if office else "", tuple(people[org.id]))
        for org, office in rows
    ]  # fmt: skip
    return entries, total


def entry(session: Session, code: str) -> Entry:
    org = session.scalar(select(Organisation).where(Organisation.code == code[:20], Organisation.active))
    if org is None:
        raise NotFound("查無此機關", "no such organisation")
    office = session.get(ContactOffice, org.id)
    people = _people(session, [org.id])[org.id]
    return Entry(org.id, org.code, org.name, org.role, office.phone if office else "",
                 office.address if office else "", tuple(people))  # fmt: skip


def may_edit(caller: Caller, organisation_id: int) -> bool:
    """HQ for every organisation, an organisation's administrator for their own."""
    return may_manage(caller, organisation_id)


# --- changes


def _target(session: Session, caller: Caller, code: str, action: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.code == code[:20], Organisation.active))
    if org is None:
        raise NotFound("查無此機關", "no such organisation")
    if not may_edit(caller, org.id):
        _denied(session, caller, action, org.id)
    return org


def _denied(session: Session, caller: Caller, action: str, organisation_id: int) -> NoReturn:
    audit.by_caller(session, caller, action, outcome="denied", organisation_id=organisation_id,
                    object_type="organisation", object_id=str(organisation_id),
                    detail={"reason": "permission"})  # fmt: skip
    audit.refuse(
        session, Denied("您無權維護此機關之聯繫窗口", "you may not edit this organisation's contacts")
    )


def _audit(session: Session, caller: Caller, action: str, org: Organisation, **detail: Any) -> None:
    audit.by_caller(session, caller, action, organisation_id=org.id, object_type="organisation",
                    object_id=str(org.id), detail={"code": org.code, **detail})  # fmt: skip


def set_office(session: Session, caller: Caller, code: str, office_phone: str, address: str) -> None:
    org = _target(session, caller, code, "contacts.office")
    value_phone = phone(office_phone)
    value_address = _text(address, 200, "地址", "the address")
    office = session.get(ContactOffice, org.id)
    if office is None:
        office = ContactOffice(organisation_id=org.id)
        session.add(office)
    office.phone, office.address, office.updated_at = value_phone, value_address, utcnow()
    session.flush()
    _audit(session, caller, "contacts.office", org, phone=value_phone, address=value_address)


def _fields(name: str, title: str, person_phone: str, person_email: str) -> dict[str, str]:
    values = {
        "name": _text(name, 60, "姓名", "the name", required=True),
        "title": _text(title, 60, "職稱", "the title"),
        "phone": phone(person_phone),
        "email": email(person_email),
    }
    if not values["phone"] and not values["email"]:
        raise Invalid("電話與電子郵件至少填寫一項", "give a phone number or an e-mail address")
    return values


def add_person(
    session: Session, caller: Caller, code: str, *, name: str, title: str = "", phone: str = "",
    email: str = "",
) -> int:  # fmt: skip
    org = _target(session, caller, code, "contacts.person_add")
    values = _fields(name, title, phone, email)
    count = session.scalar(select(func.count()).where(ContactPerson.organisation_id == org.id)) or 0
    if count >= MAX_PEOPLE:
        raise Invalid(f"每機關至多 {MAX_PEOPLE} 位聯繫窗口", f"at most {MAX_PEOPLE} contact people each")
    person = ContactPerson(organisation_id=org.id, **values)
    session.add(person)
    session.flush()
    _audit(session, caller, "contacts.person_add", org, person=person.id, **values)
    return person.id


def _person(session: Session, org: Organisation, person_id: int) -> ContactPerson:
    person = session.get(ContactPerson, person_id)
    if person is None or person.organisation_id != org.id:
        raise NotFound("查無此聯繫窗口", "no such contact person")
    return person


def update_person(
    session: Session, caller: Caller, code: str, person_id: int, *, name: str, title: str = "",
    phone: str = "", email: str = "",
) -> None:  # fmt: skip
    org = _target(session, caller, code, "contacts.person_change")
    person = _person(session, org, person_id)
    values = _fields(name, title, phone, email)
    person.name, person.title, person.phone, person.email = (
        values["name"], values["title"], values["phone"], values["email"])  # fmt: skip
    person.updated_at = utcnow()
    session.flush()
    _audit(session, caller, "contacts.person_change", org, person=person.id, **values)


def remove_person(session: Session, caller: Caller, code: str, person_id: int) -> None:
    org = _target(session, caller, code, "contacts.person_remove")
    person = _person(session, org, person_id)
    session.delete(person)
    session.flush()
    _audit(session, caller, "contacts.person_remove", org, person=person_id, name=person.name)

"""Contact people for the demonstration: two for each branch and one for each agency, made once.

Phone numbers are in the 02-2xxx range of a fictitious exchange and e-mail addresses under the
reserved example.gov.tw domain, so none reaches a real person.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import contacts
from aedx.storage.tables import ContactPerson, Organisation
from aedx.trust.caller import Caller

TITLES = {"branch": ("書記官", "執行員"), "agency": ("承辦人",), "partner": ("承辦人",)}
NAMES = ("陳怡君", "林志明", "黃雅婷", "張家豪", "李淑芬", "王俊傑", "吳佳穎", "劉建宏", "蔡宜蓁", "楊宗翰")


def seed(session: Session, operator: Caller) -> int:
    """Contact people for organisations that have none; returns how many were added."""
    staffed = set(session.scalars(select(ContactPerson.organisation_id).distinct()))
    added = 0
    for org in session.scalars(select(Organisation).where(Organisation.active).order_by(Organisation.id)):
        if org.id in staffed:
            continue
        for title in TITLES.get(org.role, ()):
            name = NAMES[(org.id + 3 * added) % len(NAMES)]
            contacts.add_person(
                session, operator, org.code, name=name, title=title,
                phone=f"(02)2{org.id % 1000:03d}-{1000 + added:04d}#{100 + added}",
                email=f"{org.code.lower()}.{added}@example.gov.tw",
            )  # fmt: skip
            added += 1
    return added

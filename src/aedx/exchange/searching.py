"""What people's searches share: a part of a text (its wildcards taken literally), a period of
time, and an organisation given by its code or a part of its name."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_

from aedx.storage.tables import Organisation

ESCAPE = "\\"


def contains(column: Any, part: str) -> ColumnElement[bool]:
    """``column`` holds ``part`` somewhere; ``%`` and ``_`` typed by a person match themselves."""
    literal = part.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    matched: ColumnElement[bool] = column.like(f"%{literal}%", escape=ESCAPE)
    return matched


def organisation_matches(given: str) -> ColumnElement[bool]:
    """An organisation by its exact code (any case) or a part of its name."""
    text = given.strip()
    return or_(Organisation.code == text, Organisation.code == text.upper(),
               Organisation.code == text.lower(), contains(Organisation.name, text))  # fmt: skip


@dataclass(frozen=True)
class Period:
    """From ``since`` (included) to ``until`` (excluded); either end may be open."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def bounds(self, column: Any) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(column >= self.since)
        if self.until is not None:
            found.append(column < self.until)
        return found

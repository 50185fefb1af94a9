"""The vocabulary in which exchange kinds are declared.

Kinds (``aedx.kinds``) use these types to declare themselves; readers (``aedx.formats``), the
validation engine (``aedx.validation``), spec pages and the synthetic data generator read them.
Nothing here knows of any concrete kind, of HTTP or of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class FieldType(StrEnum):
    """How a field's text is read; each type brings its own format rules."""

    TEXT = "text"  # free text: byte width, control characters
    CODE = "code"  # an identifier matched by a pattern
    ENUM = "enum"  # one of a closed set of values
    ROC_DATE = "roc_date"  # 7-digit YYYMMDD in the Republic of China calendar
    AMOUNT = "amount"  # whole, non-negative New Taiwan dollars
    FLAG = "flag"  # Y or N
    POSTCODE = "postcode"  # 3, 5 or 6 digits (3, 3+2, 3+3)
    PARTY_ID = "party_id"  # national / resident ID or business ID (UBN)
    PERSON_ID = "person_id"  # national or resident ID only


@dataclass(frozen=True)
class Choice:
    """One allowed value of an enum field, with its labels."""

    value: str
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class Field:
    """One column of an exchange kind: its canonical name is the CSV header and the JSON key."""

    name: str
    label_zh: str
    label_en: str
    type: FieldType
    width: int  # bytes in the file's encoding, for fixed-width files and the width rule
    required: bool = True
    choices: tuple[Choice, ...] = ()
    pattern: str | None = None  # for CODE fields: a full-match regular expression
    pattern_zh: str = ""  # the pattern in words, as people read it (zh-TW, English)
    pattern_en: str = ""
    personal: bool = False  # personal data: masked in reports and logs
    example: str = ""
    note_zh: str = ""
    note_en: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)


@dataclass(frozen=True)
class Check:
    """A reference to a rule of the rule library, with its parameters.

    ``rule`` names an entry of ``aedx.validation.rules``; ``fields`` are the columns it reads, the
    first being the one a finding points at.
    """

    rule: str
    fields: tuple[str, ...]
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)


def check(rule: str, *fields: str, **params: Any) -> Check:
    return Check(rule, tuple(fields), tuple(sorted(params.items())))


class Routing(StrEnum):
    """How the platform finds each record's recipient."""

    TERRITORY = "territory"  # the branch whose territory holds the address in ``route_field``
    CASE = "case"  # whoever holds the case in the case index, per ``recipient_role``


@dataclass(frozen=True)
class Kind:
    """One exchange kind, declared once."""

    name: str
    label_zh: str
    label_en: str
    summary_zh: str
    summary_en: str
    sender_role: str  # agency, branch or partner
    recipient_role: str
    fields: tuple[Field, ...]
    checks: tuple[Check, ...] = ()
    unique_key: tuple[str, ...] = ()  # no two records of one file may share it
    sender_field: str | None = None  # must equal the authenticated sender's code
    control_amount: str | None = None  # the amount the control record totals
    severity: dict[str, Severity] = field(default_factory=dict)  # per-kind overrides by code
    routing: Routing | None = None  # None: the kind is not exchanged through the platform yet
    route_field: str | None = None  # the address field, for territory routing
    case_key: tuple[str, ...] = ("agency_code", "agency_case_no")  # a case in the case index
    spec_version: str = "1.0"  # raised with each change of fields or rules an export must follow
    spec_revised: str = "2026-01-05"  # the date of that version (ISO 8601)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def record_width(self) -> int:
        return sum(f.width for f in self.fields)

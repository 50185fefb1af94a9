"""Findings of the exchange's cross-checks against the case index and the organisation register."""

from __future__ import annotations

from aedx.findings import define
from aedx.schema import Severity

ALREADY_OPEN = define(
    "case.already_open",
    Severity.ERROR,
    "此案件已移送且尚未終結，不得重複移送",
    "this case was referred before and is still open; it cannot be referred again",
)
UNKNOWN_CASE = define(
    "case.unknown",
    Severity.ERROR,
    "查無此移送案件，請確認移送機關代號與案號",
    "no referred case has this agency code and case number",
)
NOT_HELD = define(
    "case.not_held",
    Severity.ERROR,
    "此案件不屬本分署承辦，不得回饋其狀態",
    "this case is not held by the sending branch, which cannot report its status",
)
CLOSED_CASE = define(
    "case.closed",
    Severity.WARNING,
    "此案件已終結",
    "this case is already closed",
)
NO_RECIPIENT = define(
    "route.no_recipient",
    Severity.ERROR,
    "收受機關 {recipient} 未登錄於平台，無法遞送",
    "the recipient {recipient} is not registered on the platform; the record cannot be delivered",
)

"""Every role's landing page: the list of uploaded files, newest first, searched by the day it
arrived (ROC ``115/12/05`` or ISO dates), the sender (HQ, which sees every organisation's), the
kind, the state and a part of the file name; the next pages keep the search."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aedx.accounts.roles import Permission
from aedx.exchange import submissions
from aedx.exchange.searching import Period
from aedx.kinds import KINDS
from aedx.web import dates, i18n
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PREFIX,
    STATE_LABELS,
    PlatformDep,
    VisitDep,
    kind_label,
    locale_of,
    page,
    require,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Query(max_length=100)]
NOT_A_DATE = N_("Write the date as 115/12/05 (ROC) or 2026-12-05.")


@dataclass(frozen=True)
class Search:
    """The list's filters as the form sent them (shown back as typed)."""

    since: str = ""
    until: str = ""
    sender: str = ""
    kind: str = ""
    state: str = ""
    filename: str = ""

    def query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def period(self) -> tuple[Period, list[str]]:
        """The period of the two dates (both days included) and the names of unreadable ones."""
        since, until, wrong = dates.day_range(self.since, self.until)
        return Period(since, until), wrong


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, p: PlatformDep, v: VisitDep, before: Annotated[str | None, Query(max_length=32)] = None,
    since: Text = "", until: Text = "", sender: Text = "", kind: Text = "", state: Text = "",
    filename: Text = "",
) -> Response:  # fmt: skip
    search = Search(since.strip(), until.strip(), sender.strip() if v.caller.is_hq else "",
                    kind.strip(), state.strip(), filename.strip())  # fmt: skip
    period, wrong = search.period()
    with p.db.transaction() as session:
        require(session, v.caller, "submission.list", Permission.SUBMISSIONS_READ)
        rows = [] if wrong else submissions.listing(
            session, v.caller, before=before or None, limit=PAGE_SIZE + 1, sender=search.sender or None,
            kind=search.kind or None, state=search.state or None, filename=search.filename or None,
            received=period,
        )  # fmt: skip
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["received"] = dt.datetime.fromisoformat(row["received_at"])
        row["state_label"] = STATE_LABELS.get(row["state"], row["state"])
        row["kind_label"] = kind_label(request, row["kind"])
    t = i18n.translations(locale_of(request))
    return page(request, p, v, "dashboard.html", _context(request, v, search, rows, more, before) | {
        "wrong": wrong, "date_error": t.gettext(NOT_A_DATE) if wrong else None,
    })  # fmt: skip


def _context(
    request: Request, v: VisitDep, search: Search, rows: list[dict[str, Any]], more: bool, before: str | None
) -> dict[str, Any]:
    query = search.query()
    older = urlencode(query | {"before": rows[-1]["id"]}) if more and rows else None
    return {
        "rows": rows, "search": search, "filtered": bool(query), "paged": bool(before),
        "older": older, "newest": urlencode(query), "show_sender": v.caller.is_hq,
        "kinds": [(name, kind_label(request, name)) for name in KINDS], "states": STATE_LABELS,
    }  # fmt: skip

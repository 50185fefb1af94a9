"""The audit search: filters by time, organisation, actor, action, outcome, kind and object, newest
first page by page; the filtered events exported as CSV or JSON lines; how far the ledger is sealed.
HQ reads every organisation's events, others their own (``audit.read``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from aedx.accounts.roles import Permission
from aedx.errors import Denied, DomainError, Invalid
from aedx.kinds import KINDS
from aedx.trust import actors, audit, ledger
from aedx.web import dates
from aedx.web.admin.common import OUTCOMES, Text, router, show
from aedx.web.portal import PAGE_SIZE, PlatformDep, Refused, VisitDep, message, require


def _time(value: str, end: bool = False) -> dt.datetime | None:
    """A day typed in the ROC calendar (or ISO) as the start of that day in Taiwan, or the start of
    the next with ``end``."""
    try:
        day = dates.parse_optional_date(value)
    except dates.BadDate as e:
        raise Invalid(e.message_zh, e.message_en) from None
    if day is None:
        return None
    return dates.day_end(day) if end else dates.day_start(day)


@dataclass(frozen=True)
class Wanted:
    """The search's filters, as the query string gives them (the search and the export alike)."""

    since: Text = ""
    until: Text = ""
    organisation: Text = ""
    actor: Text = ""
    action: Text = ""
    outcome: Text = ""
    kind: Text = ""
    object_id: Text = ""

    def given(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def filter(self, before: int | None = None, limit: int = PAGE_SIZE + 1) -> audit.Filter:
        return audit.Filter(
            since=_time(self.since),
            until=_time(self.until, end=True),
            kind=self.kind or None,
            organisation=self.organisation or None,
            action=self.action or None,
            actor=self.actor or None,
            outcome=self.outcome or None,
            object_id=self.object_id or None,
            before_id=before,
            newest_first=True,
            limit=limit,
        )


WantedDep = Annotated[Wanted, Depends()]
FILTERS = tuple(f.name for f in fields(Wanted))


@router.get("/audit", response_class=HTMLResponse)
def audit_search(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    wanted: WantedDep,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    given = wanted.given()
    error, status, rows = None, 200, []
    with p.db.transaction() as session:
        require(session, v.caller, "audit.read", Permission.AUDIT_READ)
        try:
            rows = audit.query(session, v.caller, wanted.filter(before))
        except DomainError as e:
            error, status = message(request, e), 403 if isinstance(e, Denied) else 400
        sealing = ledger.status(session) if v.caller.is_hq else None
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        people = actors.labels(session, [row["actor"] for row in rows])
    for row in rows:
        row["at"] = dt.datetime.fromisoformat(row["at"])
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True) if row["detail"] else ""
        row["who"] = people.get(row["actor"])
    query = urlencode({k: x for k, x in given.items() if x})
    context = {
        "rows": rows,
        "given": given,
        "query": query,
        "outcomes": OUTCOMES,
        "kinds": list(KINDS),
        "next_before": rows[-1]["id"] if more and rows else None,
        "paged": before is not None,
        "show_organisation": v.caller.is_hq,
        "sealing": sealing,
        "error": error,
    }
    return show(request, p, v, "audit.html", context, status)


@router.get("/audit/export")
def audit_export(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    wanted: WantedDep,
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
) -> Response:
    try:
        f = wanted.filter()
    except DomainError as e:
        raise Refused() from e
    with p.db.transaction() as session:
        require(session, v.caller, "audit.export", Permission.AUDIT_READ)
        audit.by_caller(
            session,
            v.caller,
            "audit.export",
            detail={"format": format, **{k: str(x) for k, x in f.__dict__.items() if x and k in FILTERS}},
        )

    def lines() -> Iterator[str]:
        with p.db.transaction() as session:
            events = audit.export(session, v.caller, f)
            yield from audit.csv_lines(events) if format == "csv" else audit.json_lines(events)

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    headers = {"Content-Disposition": f'attachment; filename="audit.{format}"', "Cache-Control": "no-store"}
    return StreamingResponse(lines(), media_type=media, headers=headers)

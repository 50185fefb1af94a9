"""The exchange monitor (``/portal/monitor``, permission ``exchange.monitor``): volumes by day,
kind and organisation for a period (the last 14 days unless chosen), rejection rates, processing
times and the expected files that did not arrive (``aedx.exchange.monitor``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aedx.accounts.roles import Permission
from aedx.exchange import monitor
from aedx.kinds import KINDS
from aedx.trust import audit
from aedx.web.i18n import N_
from aedx.web.portal import PlatformDep, Refused, VisitDep, locale_of, navigation, page

MONITOR = "/portal/monitor"
DEFAULT_DAYS = 14
STAGES = {
    "validation": N_("Received to validated"),
    "delivery": N_("Validated to delivered"),
    "total": N_("Received to delivered"),
}
router = APIRouter(prefix="/portal", include_in_schema=False)


def duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/monitor", response_class=HTMLResponse)
def monitor_page(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    today = dt.datetime.now(monitor.TAIPEI).date()
    last = _day(end) or today
    first = _day(start) or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    error = None
    if last < first or (last - first).days >= monitor.MAX_DAYS:
        error = N_("Choose a period of 1 to 366 days, the first day before the last.")
        first, last = today - dt.timedelta(days=DEFAULT_DAYS - 1), today
    with p.db.transaction() as session:
        if not v.caller.may(Permission.EXCHANGE_MONITOR):
            audit.by_caller(
                session, v.caller, "monitor.read", outcome="denied", detail={"reason": "permission"}
            )
            audit.refuse(session, Refused())
        figures = monitor.figures(session, first, last)
    chinese = locale_of(request).startswith("zh")
    labels = {name: (k.label_zh if chinese else k.label_en) for name, k in KINDS.items()}
    return page(
        request, p, v, "monitor/monitor.html",
        {"f": figures, "kinds": labels, "stages": STAGES, "duration": duration, "error": error,
         "total_submissions": sum(r.submissions for r in figures.rates),
         "total_rejected": sum(r.rejected for r in figures.rates)},
    )  # fmt: skip


navigation(MONITOR, N_("Exchange monitor"), permission=Permission.EXCHANGE_MONITOR, order=70)

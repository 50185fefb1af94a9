"""The exchange monitor (``/portal/monitor``, permission ``exchange.monitor``): volumes by day,
kind and organisation for a period (the last 14 days unless chosen), rejection rates, processing
times and the expected files that did not arrive (``aedx.exchange.monitor``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aedx.accounts.roles import Permission
from aedx.errors import Denied, DomainError
from aedx.exchange import expected, monitor
from aedx.kinds import KINDS
from aedx.settings import TAIPEI
from aedx.web import dates
from aedx.web.i18n import N_
from aedx.web.portal import (
    PlatformDep,
    Refused,
    Visit,
    VisitDep,
    kind_label,
    locale_of,
    navigation,
    page,
    require,
    require_csrf,
)

MONITOR = "/portal/monitor"
DEFAULT_DAYS = 14
STAGES = {
    "validation": N_("Received to validated"),
    "delivery": N_("Validated to delivered"),
    "total": N_("Received to delivered"),
}
BAD_DAY = N_("Write a day as ROC year/month/day, e.g. 115/12/05 (or 1151205, 2026-12-05).")
router = APIRouter(prefix="/portal", include_in_schema=False)


def duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _render(
    request: Request,
    p: PlatformDep,
    v: Visit,
    first: dt.date,
    last: dt.date,
    *,
    error: str | None = None,
    expect_error: str | None = None,
    status_code: int = 200,
) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "monitor.read", Permission.EXCHANGE_MONITOR)
        figures = monitor.figures(session, first, last)
        declared = [(code, e.kind, f"{e.due_minute // 60:02d}:{e.due_minute % 60:02d}")
                    for e, code in expected.declared(session)]  # fmt: skip
    labels = {name: kind_label(request, name) for name in KINDS}
    response = page(
        request, p, v, "monitor/monitor.html",
        {"f": figures, "kinds": labels, "stages": STAGES, "duration": duration, "error": error,
         "total_submissions": sum(r.submissions for r in figures.rates),
         "total_rejected": sum(r.rejected for r in figures.rates), "declared": declared,
         "may_declare": _may_declare(v), "expect_error": expect_error},
    )  # fmt: skip
    response.status_code = status_code
    return response


def _may_declare(v: Visit) -> bool:
    return v.caller.is_hq and v.caller.may(Permission.ORGANISATIONS_MANAGE)


def _period(start: str | None, end: str | None) -> tuple[dt.date, dt.date, str | None]:
    today = dt.datetime.now(TAIPEI).date()
    try:
        last = dates.parse_optional_date(end) or today
        first = dates.parse_optional_date(start) or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    except dates.BadDate:
        return today - dt.timedelta(days=DEFAULT_DAYS - 1), today, BAD_DAY
    if last < first or (last - first).days >= monitor.MAX_DAYS:
        error = N_("Choose a period of 1 to 366 days, the first day before the last.")
        return today - dt.timedelta(days=DEFAULT_DAYS - 1), today, error
    return first, last, None


@router.get("/monitor", response_class=HTMLResponse)
def monitor_page(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
) -> Response:
    first, last, error = _period(start, end)
    return _render(request, p, v, first, last, error=error)


@router.post("/monitor/expected", response_class=HTMLResponse)
def declare_expected(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    organisation: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=30)] = "",
    due: Annotated[str, Form(max_length=5)] = "10:00",
    withdraw: Annotated[bool, Form()] = False,
) -> Response:
    """HQ declares (or withdraws) a file an organisation should send on working days."""
    require_csrf(request, p, csrf_token)
    first, last, _ = _period(None, None)
    try:
        when = dt.time.fromisoformat(due)
        with p.db.transaction() as session:
            expected.expect(session, v.caller, organisation.strip(), kind, when, active=not withdraw)
    except Denied:
        raise Refused() from None
    except (DomainError, ValueError) as e:
        chinese = locale_of(request).startswith("zh")
        message = (e.message_zh if chinese else e.message_en) if isinstance(e, DomainError) else str(e)
        return _render(request, p, v, first, last, expect_error=message, status_code=400)
    return RedirectResponse(f"{MONITOR}#expected-heading", status_code=303)


navigation(MONITOR, N_("Exchange monitor"), permission=Permission.EXCHANGE_MONITOR, order=70)

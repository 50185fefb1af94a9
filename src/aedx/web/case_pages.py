"""Case lookup and the case page, for agencies (the cases they referred) and branches (the cases
they hold), HQ seeing every case: a search by a part of a case number, an obligor's ID, or a
person's name with birth date; paged, exported as CSV or XLSX; each case with its history
(移送 → 收案 → 分案 → 徵起 → 終結), the branch's case number and its officer. Obligors are masked
unless the person's role may unmask and asks to (each unmasking audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aedx.accounts.roles import Permission
from aedx.errors import Denied, Invalid, NotFound
from aedx.exchange import case_history
from aedx.exchange.case_history import CaseFile, Criteria
from aedx.kinds.status_feedback import CLOSE_REASONS, EVENTS
from aedx.settings import TAIPEI
from aedx.web import dates, i18n, portal, sheets
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PREFIX,
    PlatformDep,
    Refused,
    VisitDep,
    locale_of,
    message,
    page,
    require,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Query(max_length=100)]
REFERRED = N_("Referred")  # a case's status until its branch reports on it
COLUMNS = {  # the export's columns: the row's key, its heading
    "agency_code": N_("Agency"), "agency_case_no": N_("Agency case number"), "branch_code": N_("Branch"),
    "branch_case_no": N_("Branch case number"), "obligor_id": N_("Obligor ID"), "obligor_name": N_("Obligor"),
    "amount_due": N_("Amount due"), "collected": N_("Collected"), "referral_date": N_("Referral date"),
    "status_label": N_("Status"), "last_event_date": N_("Last event"),
}  # fmt: skip
BIRTH_DATE_WRONG = N_("Write the birth date as 75/03/14 (ROC) or 1986-03-14.")


def _criteria(number: str, obligor_id: str, name: str, birth_date: str) -> tuple[Criteria, bool]:
    """The criteria typed, and whether the birth date could not be read."""
    try:
        born = dates.parse_optional_date(birth_date)
    except dates.BadDate:
        return Criteria(number.strip(), obligor_id.strip(), name.strip()), True
    return Criteria(number.strip(), obligor_id.strip(), name.strip(), born), False


def _labels(request: Request) -> dict[str, str]:
    english = locale_of(request) == "en"
    labels = {c.value: c.label_en if english else c.label_zh for c in EVENTS + CLOSE_REASONS}
    labels["REFERRED"] = i18n.translations(locale_of(request)).gettext(REFERRED)
    return labels


def _search(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    criteria: Criteria,
    *,
    unmask: bool,
    offset: int,
    limit: int,
) -> case_history.Found:
    try:
        with p.db.transaction() as session:
            found = case_history.search(
                session, v.caller, criteria, keyring=p.keyring, index_key=p.settings.index_key,
                unmask=unmask, offset=offset, limit=limit,
            )  # fmt: skip
    except Denied:
        raise Refused() from None
    labels = _labels(request)
    for row in found.rows:
        row["status_label"] = labels.get(row["status"] or "", row["status"])
    return found


@router.get("/cases", response_class=HTMLResponse)
def case_lookup(
    request: Request, p: PlatformDep, v: VisitDep, number: Text = "", obligor_id: Text = "", name: Text = "",
    birth_date: Text = "", unmask: bool = False,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:  # fmt: skip
    with p.db.transaction() as session:
        require(session, v.caller, "case.read", Permission.CASES_READ)
    criteria, wrong_date = _criteria(number, obligor_id, name, birth_date)
    t = i18n.translations(locale_of(request))
    asked = bool(criteria.given()) or wrong_date
    found, error = case_history.Found([], 0), t.gettext(BIRTH_DATE_WRONG) if wrong_date else None
    if asked and not wrong_date:
        try:
            found = _search(request, p, v, criteria, unmask=unmask, offset=(page_no - 1) * PAGE_SIZE,
                            limit=PAGE_SIZE)  # fmt: skip
        except Invalid as e:
            error = message(request, e)
    query = {"number": criteria.number, "obligor_id": criteria.obligor_id, "name": criteria.name,
             "birth_date": birth_date.strip()} | ({"unmask": "true"} if unmask else {})  # fmt: skip
    query = {k: val for k, val in query.items() if val}
    return page(request, p, v, "exchange/cases.html", {
        "criteria": query, "asked": asked, "error": error, "rows": found.rows, "total": found.total,
        "page_no": page_no, "pages": max(1, -(-found.total // PAGE_SIZE)), "query": urlencode(query),
        "unmask": unmask, "may_unmask": v.caller.may(Permission.PERSONAL_DATA_UNMASK),
        "wrong_date": wrong_date, "max_rows": case_history.MAX_ROWS,
    })  # fmt: skip


@router.get("/cases/export.{fmt}")
def case_export(
    request: Request, p: PlatformDep, v: VisitDep, fmt: str, number: Text = "", obligor_id: Text = "",
    name: Text = "", birth_date: Text = "", unmask: bool = False,
) -> Response:  # fmt: skip
    """Every matching case (up to ``MAX_ROWS``) as CSV or XLSX, masked unless unmasked."""
    with p.db.transaction() as session:
        require(session, v.caller, "case.export", Permission.CASES_READ)
    criteria, wrong_date = _criteria(number, obligor_id, name, birth_date)
    if fmt not in sheets.MEDIA_TYPES or wrong_date or not criteria.given():
        return portal.error_page(request, 404 if fmt not in sheets.MEDIA_TYPES else 400)
    try:
        found = _search(request, p, v, criteria, unmask=unmask, offset=0, limit=case_history.MAX_ROWS)
    except Invalid:
        return portal.error_page(request, 400)
    t = i18n.translations(locale_of(request))
    frame = pl.DataFrame([{k: row.get(k) for k in COLUMNS} for row in found.rows], schema=list(COLUMNS),
                         infer_schema_length=None)  # fmt: skip
    frame = frame.with_columns(
        pl.col("referral_date", "last_event_date").map_elements(_roc, return_dtype=pl.String)
    ) if frame.height else frame  # fmt: skip
    headers = [t.gettext(label) for label in COLUMNS.values()]
    body = (sheets.csv_bytes(frame, headers) if fmt == "csv"
            else sheets.xlsx_bytes(frame, headers, t.gettext("Matching cases")))  # fmt: skip
    day = dt.datetime.now(TAIPEI).strftime("%Y%m%d")
    return Response(body, media_type=sheets.MEDIA_TYPES[fmt], headers=sheets.attachment(f"cases-{day}.{fmt}"))


def _roc(value: Any) -> str:
    return dates.roc_text(value) if isinstance(value, dt.date) else ""


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, p: PlatformDep, v: VisitDep, case_id: str, unmask: bool = False) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "case.read", Permission.CASES_READ)
    try:
        with p.db.transaction() as session:
            found = case_history.history(
                session, v.caller, int(case_id) if case_id.isdigit() else -1, keyring=p.keyring, unmask=unmask
            )  # fmt: skip
    except NotFound as e:
        response = page(request, p, v, "exchange/not_found.html", {"message": message(request, e)})
        response.status_code = 404
        return response
    except Denied:
        raise Refused() from None
    labels = _labels(request)
    return page(request, p, v, "exchange/case.html", {
        "case": found.case, "events": found.events, "steps": timeline(found, labels, request),
        "labels": labels, "unmask": unmask, "may_unmask": v.caller.may(Permission.PERSONAL_DATA_UNMASK),
        "officer": next((e["officer"] for e in reversed(found.events) if e["officer"]), None),
    })  # fmt: skip


def timeline(found: CaseFile, labels: dict[str, str], request: Request) -> list[dict[str, Any]]:
    """The five steps of a case, each reached (with its day and what was reported) or not yet."""
    t = i18n.translations(locale_of(request))
    case, events = found.case, found.events

    def first(event: str) -> dict[str, Any] | None:
        return next((e for e in events if e["event"] == event), None)

    assigned, closed = first("ASSIGNED"), first("CLOSED")
    collections = [e for e in events if e["event"] == "COLLECTED"]
    return [
        {"key": "referred", "label": t.gettext("Referred"), "day": case["referral_date"], "done": True},
        {"key": "received", "label": t.gettext("Received by the branch"), "day": found.received_at,
         "done": found.received_at is not None},
        {"key": "assigned", "label": labels["ASSIGNED"], "day": assigned and assigned["event_date"],
         "done": assigned is not None, "event": assigned},
        {"key": "collected", "label": labels["COLLECTED"],
         "day": collections[-1]["event_date"] if collections else None, "done": bool(collections),
         "count": len(collections), "amount": sum(e["amount"] or 0 for e in collections)},
        {"key": "closed", "label": labels["CLOSED"], "day": closed and closed["event_date"],
         "done": closed is not None, "event": closed},
    ]  # fmt: skip


portal.navigation(f"{PREFIX}/cases", N_("Case lookup"), permission=Permission.CASES_READ, order=40)

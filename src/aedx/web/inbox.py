"""The inbox of packages for people: newest first, searched by sender and by the day a package
became ready (ROC ``115/12/05`` or ISO); each package on a page of its own, downloaded in the
clear over TLS in its machine format (as the recipient's systems read it), or as a table for
people (XLSX, or CSV in UTF-8 with a byte-order mark) headed by the kind's field labels; a day's
packages in one zip; acknowledged after a confirmation that names the package, which is then
shown acknowledged. Other organisations' packages are not found."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from aedx.accounts.roles import Permission
from aedx.api.sent import WhenSent
from aedx.errors import Conflict, DomainError, NotFound
from aedx.exchange import delivery, packages
from aedx.exchange.searching import Period
from aedx.kinds import get_kind
from aedx.settings import TAIPEI
from aedx.storage.tables import Delivery
from aedx.trust.caller import Caller
from aedx.web import dates, i18n, portal, sheets
from aedx.web.admin.common import Confirm, confirmed
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PREFIX,
    PlatformDep,
    VisitDep,
    kind_label,
    locale_of,
    message,
    page,
    require,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Query(max_length=100)]
NOT_A_DATE = N_("Write the date as 115/12/05 (ROC) or 2026-12-05.")
TABLES = ("xlsx", "csv")
DAY_LIMIT = 500  # packages in one day's zip at most


def _require(p: PlatformDep, caller: Caller, action: str) -> None:
    if not caller.may(Permission.DELIVERIES_READ):
        with p.db.transaction() as session:
            require(session, caller, action, Permission.DELIVERIES_READ)


def _not_found(request: Request, p: PlatformDep, v: VisitDep, error: DomainError) -> HTMLResponse:
    response = page(request, p, v, "exchange/not_found.html", {"message": message(request, error)})
    response.status_code = 404
    return response


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request, p: PlatformDep, v: VisitDep, acknowledged: bool = False, sender: Text = "",
    since: Text = "", until: Text = "", before: Annotated[str, Query(max_length=32)] = "",
) -> Response:  # fmt: skip
    _require(p, v.caller, "delivery.list")
    start, end, wrong = dates.day_range(since, until)
    period = Period(start, end)
    typed = {"sender": sender, "since": since, "until": until}
    search = {k: val.strip() for k, val in typed.items() if val.strip()}
    with p.db.transaction() as session:
        rows = [] if wrong else packages.listing(
            session, v.caller, include_acknowledged=acknowledged, sender=search.get("sender"), ready=period,
            before=before or None, limit=PAGE_SIZE + 1,
        )  # fmt: skip
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["kind_label"] = kind_label(request, row["kind"])
        row["ready"] = dt.datetime.fromisoformat(row["ready_at"]) if row["ready_at"] else None
    query = search | ({"acknowledged": "true"} if acknowledged else {})
    t = i18n.translations(locale_of(request))
    return page(request, p, v, "exchange/inbox.html", {
        "rows": rows, "acknowledged": acknowledged, "paged": bool(before), "search": search,
        "filtered": bool(search), "query": urlencode(query), "wrong": wrong,
        "older": urlencode(query | {"before": rows[-1]["id"]}) if more and rows else None,
        "date_error": t.gettext(NOT_A_DATE) if wrong else None,
        "today": dates.roc_input(dt.datetime.now(TAIPEI).date()),
    })  # fmt: skip


@router.get("/inbox/day.zip")
def day_zip(request: Request, p: PlatformDep, v: VisitDep, day: Text = "") -> Response:
    """Every package that became ready on the day (Taipei), waiting or acknowledged, in the clear
    and in its machine format, in one zip; each one audited as a download."""
    _require(p, v.caller, "delivery.download")
    try:
        chosen = dates.parse_optional_date(day)
    except dates.BadDate:
        chosen = None
    if chosen is None:
        return portal.error_page(request, 400)
    period = Period(dates.day_start(chosen), dates.day_start(chosen + dt.timedelta(days=1)))
    out = io.BytesIO()
    with p.db.transaction() as session, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        taken = packages.of_period(session, v.caller, period, limit=DAY_LIMIT)
        for delivery_id in taken:
            d, content = delivery.clear(p, session, v.caller, delivery_id)
            sender, _ = packages.sender_of(session, d)
            archive.writestr(f"{sender}-{delivery.filename(d)}", content)
    name = f"packages-{chosen:%Y%m%d}.zip"
    whole = Response(out.getvalue(), media_type="application/zip", headers=sheets.attachment(name))
    return WhenSent(whole, lambda: _downloaded(p, v.caller, taken))


def _downloaded(p: PlatformDep, caller: Caller, taken: list[str]) -> None:
    """Every package whose whole body was sent may now be acknowledged."""
    for delivery_id in taken:
        delivery.downloaded(p, caller, delivery_id)


def _package(p: PlatformDep, v: VisitDep, delivery_id: str) -> tuple[Delivery, str, str | None]:
    with p.db.transaction() as session:
        d = delivery.get(session, v.caller, delivery_id[:64])
        sender, filename = packages.sender_of(session, d)
        session.expunge(d)
    return d, sender, filename


@router.get("/inbox/{delivery_id}", response_class=HTMLResponse)
def package_page(
    request: Request, p: PlatformDep, v: VisitDep, delivery_id: str, done: bool = False
) -> Response:
    """One package: what it is, its downloads, and its acknowledgement (``done`` right after it)."""
    _require(p, v.caller, "delivery.read")
    try:
        d, sender, filename = _package(p, v, delivery_id)
    except NotFound as e:
        return _not_found(request, p, v, e)
    return page(request, p, v, "exchange/package.html", {
        "d": d, "sender": sender, "filename": filename, "kind_label": kind_label(request, d.kind),
        "done": done, "confirming": False, "tables": TABLES,
    })  # fmt: skip


@router.get("/inbox/{delivery_id}/download")
def download(request: Request, p: PlatformDep, v: VisitDep, delivery_id: str) -> Response:
    """The package in the clear (the connection is TLS), as the recipient's systems read it."""
    _require(p, v.caller, "delivery.download")
    try:
        with p.db.transaction() as session:
            d, content = delivery.clear(p, session, v.caller, delivery_id[:64])
    except NotFound as e:
        return _not_found(request, p, v, e)
    charset = "utf-8" if d.encoding == "utf-8" else "big5"
    name = delivery.filename(d)
    whole = Response(
        content, media_type=f"{delivery.MEDIA_TYPES.get(d.format, 'text/plain')}; charset={charset}",
        headers=portal.HEADERS | {"Content-Disposition": f'attachment; filename="{name}"',
                                  "X-Content-SHA256": d.sha256},
    )  # fmt: skip
    return WhenSent(whole, lambda: delivery.downloaded(p, v.caller, d.id))  # then it may be acknowledged


@router.get("/inbox/{delivery_id}/table.{fmt}")
def download_table(request: Request, p: PlatformDep, v: VisitDep, delivery_id: str, fmt: str) -> Response:
    """The package's records for people: XLSX, or CSV with a byte-order mark, headed by the field
    labels of the kind's declaration in the reader's language."""
    _require(p, v.caller, "delivery.download")
    if fmt not in TABLES:
        return _not_found(request, p, v, NotFound("查無此格式", "no such format"))
    try:
        with p.db.transaction() as session:
            d, content = delivery.clear(p, session, v.caller, delivery_id[:64])
    except NotFound as e:
        return _not_found(request, p, v, e)
    kind = get_kind(d.kind)
    english = locale_of(request) == "en"
    headers = [f.label_en if english else f.label_zh for f in kind.fields]
    frame = packages.records(d, content)
    try:
        body = (
            sheets.csv_bytes(frame, headers)
            if fmt == "csv"
            else sheets.xlsx_bytes(frame, headers, kind.label_zh)
        )
    except sheets.TooManyRows:
        return portal.error_page(request, 400)
    name = f"{d.kind}-{d.id}.{fmt}"
    whole = Response(body, media_type=sheets.MEDIA_TYPES[fmt], headers=sheets.attachment(name))
    return WhenSent(whole, lambda: delivery.downloaded(p, v.caller, d.id))


@router.get("/inbox/{delivery_id}/acknowledge", response_class=HTMLResponse)
def confirm_acknowledgement(request: Request, p: PlatformDep, v: VisitDep, delivery_id: str) -> Response:
    """Asks before acknowledging, naming the package: an acknowledged package leaves the inbox."""
    _require(p, v.caller, "delivery.acknowledge")
    try:
        d, sender, filename = _package(p, v, delivery_id)
    except NotFound as e:
        return _not_found(request, p, v, e)
    return page(request, p, v, "exchange/package.html", {
        "d": d, "sender": sender, "filename": filename, "kind_label": kind_label(request, d.kind),
        "done": False, "confirming": d.state != "acknowledged", "tables": TABLES,
    })  # fmt: skip


@router.post("/inbox/{delivery_id}/acknowledge")
def acknowledge(
    request: Request, p: PlatformDep, v: VisitDep, delivery_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "", confirm: Confirm = "",
) -> Response:  # fmt: skip
    """Only from the confirmation page (``confirm=yes``); any other POST is led to it, nothing done."""
    asked = confirmed(
        request, p, v, csrf_token, confirm, "delivery.acknowledge", [Permission.DELIVERIES_READ],
        f"{PREFIX}/inbox/{quote(delivery_id[:64], safe='')}/acknowledge",
    )  # fmt: skip
    if asked is not None:
        return asked
    portal.require_csrf(request, p, csrf_token)
    _require(p, v.caller, "delivery.acknowledge")
    try:
        with p.db.transaction() as session:
            d = delivery.acknowledge(session, v.caller, delivery_id[:64])
            shown = d.id
    except NotFound as e:
        return _not_found(request, p, v, e)
    except Conflict as e:  # not downloaded yet: say so, and offer the download
        response = page(request, p, v, "exchange/not_yet.html",
                        {"message": message(request, e), "delivery_id": delivery_id[:64]})  # fmt: skip
        response.status_code = 409
        return response
    raise portal.Redirect(f"{PREFIX}/inbox/{shown}?done=true")


portal.navigation(f"{PREFIX}/inbox", N_("Inbox"), permission=Permission.DELIVERIES_READ, order=30)

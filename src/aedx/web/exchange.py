"""The exchange pages of the agency and branch portals: uploading a file (with a dry-run that
keeps nothing), a submission with its validation report (filtered, paged, downloadable), the
the inbox is ``inbox``, the case pages are ``case_pages``.

An upload is the raw request body (sent by ``static/exchange.js``), never a multipart form, so
that the bytes stream straight into the sealing of ``intake.submit_by_person`` and no clear copy
is spooled to disk. Every page checks its permission and audits a refusal; objects of other
organisations are not found.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
import polars as pl
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from aedx.accounts.roles import Permission
from aedx.api.submissions import NO_CONTROL_CHARACTERS, blocking, wake_worker
from aedx.errors import Conflict, Denied, DomainError, Invalid, NotFound, NotReady, TooLarge
from aedx.exchange import intake, reports, submissions
from aedx.findings import CASE_FIELD, CATALOGUE, with_case_no
from aedx.formats import Format
from aedx.kinds import KINDS
from aedx.schema import Kind, Severity
from aedx.trust import audit
from aedx.trust.caller import Caller, Direction
from aedx.validation import detect
from aedx.validation.export import MEDIA_TYPES, report_disposition, write_report
from aedx.validation.report import Report, with_lines
from aedx.web import i18n, portal
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    STATE_LABELS,
    PlatformDep,
    Refused,
    VisitDep,
    kind_label,
    locale_of,
    message,
    page,
    require,
)

PREFIX = "/portal"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
CSRF_HEADER = "X-CSRF-Token"
FORMATS = {Format.CSV: N_("CSV (comma-separated)"), Format.FIXED: N_("Fixed width"),
           Format.JSONL: N_("JSON Lines")}  # fmt: skip
ENCODINGS = {"utf-8": "UTF-8", "cp950": "Big5 (CP950)"}
SEVERITIES = {Severity.ERROR: N_("Error"), Severity.WARNING: N_("Warning")}
REPORT_FILES = ("csv", "xlsx", "ods")
DRY_RUN_SHOWN = 200  # findings a dry-run shows; the rest are counted
Short = Annotated[str, Query(max_length=100)]


def _require(p: PlatformDep, caller: Caller, permission: Permission, action: str) -> None:
    if not caller.may(permission):
        with p.db.transaction() as session:
            require(session, caller, action, permission)


def _not_found(request: Request, p: PlatformDep, v: VisitDep, error: DomainError) -> HTMLResponse:
    response = page(request, p, v, "exchange/not_found.html", {"message": message(request, error)})
    response.status_code = 404
    return response


# --- upload


def _sendable(caller: Caller) -> list[Kind]:
    return [k for k in KINDS.values() if k.routing is not None and caller.granted(k.name, Direction.SEND)]


@router.get("/upload", response_class=HTMLResponse)
def upload_form(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    _require(p, v.caller, Permission.SUBMISSIONS_SEND, "submission.create")
    kinds = [(k.name, kind_label(request, k.name)) for k in _sendable(v.caller)]
    limit_mb = p.settings.max_upload_bytes >> 20
    return page(
        request, p, v, "exchange/upload.html",
        {"kinds": kinds, "formats": FORMATS, "encodings": ENCODINGS, "limit_mb": limit_mb,
         "limit_bytes": p.settings.max_upload_bytes},
    )  # fmt: skip


def _error(request: Request, status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=portal.HEADERS)


STATUS = {Denied: 403, NotFound: 404, TooLarge: 413, Invalid: 400, Conflict: 409}


@router.post("/upload")
async def upload(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    kind: Short,
    format: Short = "csv",
    encoding: Short = "utf-8",
    filename: Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS)] = None,
    check: bool = False,
    report: Short = "",
    csrf: Annotated[str, Header(alias=CSRF_HEADER, max_length=200)] = "",
    content_length: Annotated[int | None, Header()] = None,
) -> Response:
    """The file is the request body. ``check`` validates it and keeps nothing (answers the report
    as HTML, or as a report file when ``report`` names its format); otherwise it is submitted
    (answers where its page is)."""
    await anyio.to_thread.run_sync(lambda: portal.require_csrf(request, p, csrf))
    caller, limit = v.caller, p.settings.max_upload_bytes
    t = i18n.translations(locale_of(request))
    if not caller.may(Permission.SUBMISSIONS_SEND):
        await anyio.to_thread.run_sync(lambda: _deny_quietly(p, caller))
        return _error(request, 403, t.gettext("You may not upload files."))
    if content_length is not None and content_length > limit:
        await anyio.to_thread.run_sync(
            lambda: intake.record_declared_too_large(p, caller, kind, content_length)
        )
        return _error(request, 413, t.gettext("The file is larger than %(mb)d MB.") % {"mb": limit >> 20})
    sent = intake.Upload(kind, format, encoding, filename=filename)
    chunks = blocking(request.stream().__aiter__())
    try:
        if check and report:
            if report not in REPORT_FILES:
                return _error(request, 400, t.gettext("Reports are offered as CSV, XLSX or ODS."))
            checked = await anyio.to_thread.run_sync(lambda: intake.dry_run(p, caller, sent, chunks))
            content = await anyio.to_thread.run_sync(lambda: _report_bytes(checked, report))
            named = {"Content-Disposition": report_disposition(filename, "", report)}
            return Response(content, media_type=MEDIA_TYPES[report], headers=portal.HEADERS | named)
        if check:
            checked = await anyio.to_thread.run_sync(lambda: intake.dry_run(p, caller, sent, chunks))
            return page(request, p, v, "exchange/dry_run.html", _dry_run(request, checked))
        received = await anyio.to_thread.run_sync(lambda: intake.submit_by_person(p, caller, sent, chunks))
    except TooLarge:
        return _error(request, 413, t.gettext("The file is larger than %(mb)d MB.") % {"mb": limit >> 20})
    except DomainError as e:
        return _error(
            request, next((s for c, s in STATUS.items() if isinstance(e, c)), 400), message(request, e)
        )
    if received.created:
        wake_worker(request)
    where = f"{PREFIX}/submissions/{received.submission.id}"
    return JSONResponse({"location": where, "duplicate": not received.created}, status_code=201,
                        headers=portal.HEADERS)  # fmt: skip


DETECT_BYTES = 1 << 16  # of the file's start, enough to recognise it


@router.post("/upload/detect")
async def detect_file(
    request: Request, p: PlatformDep, v: VisitDep,
    csrf: Annotated[str, Header(alias=CSRF_HEADER, max_length=200)] = "",
) -> Response:  # fmt: skip
    """The format, encoding and kind the start of a file (the request body) looks like, for the
    form to propose them; nothing is kept or audited, as nothing of the file is answered."""
    await anyio.to_thread.run_sync(lambda: portal.require_csrf(request, p, csrf))
    if not v.caller.may(Permission.SUBMISSIONS_SEND):
        await anyio.to_thread.run_sync(lambda: _deny_quietly(p, v.caller))
        return _error(
            request, 403, i18n.translations(locale_of(request)).gettext("You may not upload files.")
        )
    sample = b""
    async for chunk in request.stream():
        sample += chunk
        if len(sample) >= DETECT_BYTES:
            break
    found = detect.detect(detect.head(sample, DETECT_BYTES))
    sendable = [k.name for k in _sendable(v.caller)]
    kind = next((k.name for k in found.kinds if k.name in sendable), None)
    answer = {
        "format": found.format.value if found.format else None,
        "encoding": found.encoding,
        "kind": kind,
    }
    return JSONResponse(answer | {"message": _detected(request, answer)}, headers=portal.HEADERS)


def _detected(request: Request, found: dict[str, str | None]) -> str | None:
    """「偵測為 CSV、Big5 (CP950) 編碼、〈繳款資料〉，已代為選取。」, or None when nothing was."""
    t = i18n.translations(locale_of(request))
    parts = []
    if found["format"]:
        parts.append(t.gettext(FORMATS[Format(found["format"])]))
    if found["encoding"]:
        parts.append(t.gettext("%(encoding)s encoding") % {"encoding": ENCODINGS[found["encoding"]]})
    if found["kind"]:
        parts.append(f"〈{kind_label(request, found['kind'])}〉")
    if not parts:
        return None
    return t.gettext("Detected as %(what)s; chosen for you.") % {"what": t.gettext(", ").join(parts)}


def _report_bytes(checked: Report, fmt: str) -> bytes:
    """A dry run's report file, made in a private temporary folder outside the data folder and
    gone when answered: nothing of the check is kept."""
    with tempfile.TemporaryDirectory(prefix="aedx-check-") as folder:
        path = Path(folder) / f"report.{fmt}"
        write_report(checked, path)
        return path.read_bytes()


def _deny_quietly(p: PlatformDep, caller: Caller) -> None:
    with p.db.transaction() as session:
        audit.by_caller(
            session, caller, "submission.create", outcome="denied", detail={"reason": "permission"}
        )


def _dry_run(request: Request, report: Report) -> dict[str, Any]:
    shown = _rows(request, report.kind, report.format, report.findings.head(DRY_RUN_SHOWN))
    return {"summary": report.summary(), "rows": shown, "total": report.findings.height,
            "kind_label": kind_label(request, report.kind.name),
            "case_numbers": _has_case_numbers(report.kind)}  # fmt: skip


# --- a submission and its report


def _has_case_numbers(kind: Kind) -> bool:
    return CASE_FIELD in kind.names


def _rows(request: Request, kind: Kind, fmt: str, found: pl.DataFrame) -> list[dict[str, Any]]:
    """Findings as the table shows them, each with the line of the file its record is on."""
    english = locale_of(request) == "en"
    labels = {f.name: (f.label_en if english else f.label_zh) for f in kind.fields}
    rows = []
    for f in with_lines(with_case_no(found), fmt).to_dicts():
        rows.append(
            f | {"message": f["message_en"] if english else f["message_zh"],
                 "field_label": labels.get(f["field"] or "", f["field"] or ""),
                 "severity_label": SEVERITIES.get(f["severity"], f["severity"])}
        )  # fmt: skip
    return rows


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    submission_id: str,
    code: Short = "",
    field: Short = "",
    severity: Short = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    unmask: bool = False,
) -> Response:
    _require(p, v.caller, Permission.SUBMISSIONS_READ, "submission.read")
    try:
        with p.db.transaction() as session:
            sub = submissions.get(session, v.caller, submission_id[:64])
            sender = submissions.sender_code(session, sub)
            if unmask:
                reports.allow_unmask(session, v.caller, sub.id)
    except NotFound as e:
        return _not_found(request, p, v, e)
    except Denied:
        raise Refused() from None
    kind = KINDS[sub.kind]
    context: dict[str, Any] = {
        "sub": sub, "sender": sender, "kind_label": kind_label(request, kind.name),
        "state_label": STATE_LABELS.get(sub.state, sub.state), "report_files": REPORT_FILES,
        "filters": {"code": code, "field": field, "severity": severity}, "unmask": unmask,
        "may_unmask": v.caller.may(Permission.PERSONAL_DATA_UNMASK), "severities": SEVERITIES,
        "received": sub.received_at, "updated": sub.updated_at, "ready": False,
        "case_numbers": _has_case_numbers(kind),
    }  # fmt: skip
    try:
        found = submissions.findings(
            p, sub, code=code, field=field, severity=severity, offset=(page_no - 1) * PAGE_SIZE,
            limit=PAGE_SIZE, masked=not unmask,
        )  # fmt: skip
    except NotReady:
        return page(request, p, v, "exchange/submission.html", context)
    pages = max(1, -(-found.matching // PAGE_SIZE))
    labels = {f.name: (f.label_en if locale_of(request) == "en" else f.label_zh) for f in kind.fields}
    context |= {
        "ready": True, "total": found.total, "matching": found.matching,
        "rows": _rows(request, kind, sub.format, found.page), "page_no": page_no, "pages": pages,
        "codes": [(c, _code_summary(request, c)) for c in found.codes],
        "fields": [(f, labels.get(f, f)) for f in found.fields],
    }  # fmt: skip
    return page(request, p, v, "exchange/submission.html", context)


def _code_summary(request: Request, code: str) -> str:
    """A finding code in words, for the filter of a report."""
    known = CATALOGUE.get(code)
    return known.summary(locale_of(request) == "en") if known else code


@router.get("/submissions/{submission_id}/report.{fmt}")
def report_file(request: Request, p: PlatformDep, v: VisitDep, submission_id: str, fmt: str) -> Response:
    """The whole report, masked, as CSV, XLSX or ODS."""
    _require(p, v.caller, Permission.SUBMISSIONS_READ, "submission.read")
    if fmt not in REPORT_FILES:
        return _not_found(request, p, v, NotFound("查無此格式", "no such format"))
    try:
        with p.db.transaction() as session:
            sub = submissions.get(session, v.caller, submission_id[:64])
        path = submissions.report_file(p, sub, fmt)
    except (NotFound, NotReady) as e:
        return _not_found(request, p, v, e)
    named = {"Content-Disposition": report_disposition(sub.filename, sub.id, fmt)}
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], headers=portal.HEADERS | named)


portal.navigation(f"{PREFIX}/upload", N_("Upload"), permission=Permission.SUBMISSIONS_SEND, order=20)

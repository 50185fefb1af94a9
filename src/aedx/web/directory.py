"""Reference pages: the spec page of each exchange kind, generated
from its declaration (fields, fixed-width positions, code lists, control record, the finding codes
that can apply) with sample files made by the generator, public like ``GET /api/v1/kinds`` so
that an agency's IT staff read them before any account exists; and, signed in, the contact
directory (聯繫窗口), kept by each organisation's administrator and by HQ. Also the portal's page
for "not found"."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from aedx.accounts import contacts
from aedx.errors import Denied, DomainError, NotFound
from aedx.findings import Code
from aedx.formats.records import MALFORMED, NOT_AN_OBJECT, WRONG_LENGTH
from aedx.kinds import KINDS
from aedx.schema import Field, FieldType, Kind
from aedx.sim.generate import Request as SampleRequest
from aedx.sim.generate import generate
from aedx.sim.inject import injections
from aedx.sim.records import DEFAULT_SENDERS
from aedx.validation import codes
from aedx.validation.rules import Context, tests_for
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PREFIX,
    PlatformDep,
    Redirect,
    Refused,
    Visit,
    VisitDep,
    error_page,
    locale_of,
    message,
    navigation,
    page,
    render,
    require_csrf,
    under_portal,
    visit,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
KINDS_PATH = f"{PREFIX}/kinds"
CONTACTS_PATH = f"{PREFIX}/contacts"

ROLE_LABELS = {
    "hq": N_("Headquarters"),
    "branch": N_("Branch"),
    "agency": N_("Transferring agency"),
    "partner": N_("Partner office"),
}
TYPE_LABELS = {
    FieldType.TEXT: N_("Text"),
    FieldType.CODE: N_("Code"),
    FieldType.ENUM: N_("Code list"),
    FieldType.ROC_DATE: N_("ROC date YYYMMDD"),
    FieldType.AMOUNT: N_("Amount in whole NT$"),
    FieldType.FLAG: N_("Y or N"),
    FieldType.POSTCODE: N_("Postcode of 3, 5 or 6 digits"),
    FieldType.PARTY_ID: N_("National, resident or business ID"),
    FieldType.PERSON_ID: N_("National or resident ID"),
}
ROUTING_LABELS = {
    "territory": N_("To the branch whose territory holds the address in the field %(field)s"),
    "case": N_("To whoever holds the case in the case index"),
}
SEVERITY_LABELS = {"error": N_("Error"), "warning": N_("Warning")}

# --- sample files

FORMATS = {"csv": ("CSV", "csv"), "fixed": (N_("Fixed width"), "txt"), "jsonl": ("JSON Lines", "jsonl")}
ENCODINGS = {"utf-8": "UTF-8", "cp950": "CP950 (Big5)"}
SAMPLE_RECORDS = 20
SAMPLE_SEED = 20260105
SAMPLE_DAY = dt.date(2026, 1, 5)  # a fixed day: the same file every time


def sample_sender(kind: Kind, role: str, code: str) -> str:
    """The reader's own code when their organisation sends the kind, so the sample passes the
    sender check as they would send it; the generator's default otherwise."""
    return code if role == kind.sender_role else DEFAULT_SENDERS[kind.name]


@functools.lru_cache(maxsize=256)
def sample(kind_name: str, fmt: str, encoding: str, with_errors: bool, sender: str) -> bytes:
    """A small valid file of the kind with its control record; ``with_errors``: one record for
    each error the generator knows how to make, besides a valid one."""
    kind = KINDS[kind_name]
    planted = injections(kind, today=SAMPLE_DAY, sender=sender, fixed_width=fmt == "fixed")
    slots = len(planted) + (1 if kind.unique_key else 0)  # the generator plants duplicates too
    records = slots + 3 if with_errors else SAMPLE_RECORDS
    request = SampleRequest(
        kind, records, fmt=fmt, encoding=encoding, error_rate=slots / records if with_errors else 0.0,
        seed=SAMPLE_SEED, today=SAMPLE_DAY, sender=sender, control=kind.control_amount is not None,
    )  # fmt: skip
    return b"".join(piece.data for piece in generate(request))


def sample_name(kind: Kind, fmt: str, encoding: str, with_errors: bool) -> str:
    suffix = "-errors" if with_errors else ""
    return f"{kind.name}-sample{suffix}-{encoding}.{FORMATS[fmt][1]}"


# --- the spec of a kind, from its declaration


@dataclass(frozen=True)
class FieldRow:
    number: int
    field: Field
    label: str
    other_label: str
    type_label: str
    start: int  # 1-based byte position in a fixed-width record
    end: int
    choices: list[tuple[str, str]]
    note: str
    codes: list[str]


@dataclass(frozen=True)
class CodeRow:
    code: str
    field: str | None
    severity: str
    message: str


@functools.lru_cache(maxsize=32)
def _codes(kind_name: str, chinese: bool) -> tuple[CodeRow, ...]:
    """Every finding code that can apply to a file of the kind, in the order the engine checks."""
    kind = KINDS[kind_name]
    ctx = Context(kind=kind, today=SAMPLE_DAY, lossy=True, sender=DEFAULT_SENDERS[kind.name])
    rows: list[CodeRow] = []
    seen: set[tuple[str, str | None]] = set()

    def add(code: Code, field: str | None, zh: str, en: str) -> None:
        if (code.code, field) not in seen:
            seen.add((code.code, field))
            severity = kind.severity.get(code.code, code.severity).value
            rows.append(CodeRow(code.code, field, severity, zh if chinese else en))

    for test in tests_for(ctx):
        add(test.code, test.field, *test.messages())
    width = {"expected": kind.record_width}
    add(WRONG_LENGTH, None, WRONG_LENGTH.message_zh.format(**width), WRONG_LENGTH.message_en.format(**width))
    count = {"expected": len(kind.fields)}
    add(MALFORMED, None, MALFORMED.message_zh.format(**count), MALFORMED.message_en.format(**count))
    add(NOT_AN_OBJECT, None, NOT_AN_OBJECT.message_zh, NOT_AN_OBJECT.message_en)
    if kind.unique_key:
        zh_key = "、".join(kind.field(n).label_zh for n in kind.unique_key)
        en_key = ", ".join(kind.field(n).label_en for n in kind.unique_key)
        params = {"key_zh": zh_key, "key_en": en_key, "first": "N"}
        dup = codes.DUPLICATE
        add(dup, kind.unique_key[0], dup.message_zh.format(**params), dup.message_en.format(**params))
    if kind.control_amount:
        params = {"declared": "D", "actual": "A"}
        for code in (codes.CONTROL_COUNT, codes.CONTROL_AMOUNT):
            add(code, None, code.message_zh.format(**params), code.message_en.format(**params))
    return tuple(rows)


def _fields(kind: Kind, chinese: bool, code_rows: tuple[CodeRow, ...]) -> list[FieldRow]:
    rows, start = [], 1
    for number, f in enumerate(kind.fields, start=1):
        rows.append(
            FieldRow(
                number, f, f.label_zh if chinese else f.label_en, f.label_en if chinese else f.label_zh,
                TYPE_LABELS[f.type], start, start + f.width - 1,
                [(c.value, c.label_zh if chinese else c.label_en) for c in f.choices],
                f.note_zh if chinese else f.note_en,
                sorted({row.code for row in code_rows if row.field == f.name}),
            )
        )  # fmt: skip
        start += f.width
    return rows


def _label(kind: Kind, name: str, chinese: bool) -> str:
    f = kind.field(name)
    return f.label_zh if chinese else f.label_en


# --- pages


def _reader(request: Request, p: PlatformDep) -> Visit | None:
    """The signed-in person, or nobody: the spec pages are public."""
    try:
        return visit(request, p)
    except Redirect:
        return None


ReaderDep = Annotated[Visit | None, Depends(_reader)]


def _public_page(
    request: Request, p: PlatformDep, v: Visit | None, template: str, context: dict[str, Any]
) -> Response:
    if v is not None:
        return page(request, p, v, template, context)
    return render(request, template, context, csrf_token="")


def _sender_of(kind: Kind, v: Visit | None) -> str:
    return DEFAULT_SENDERS[kind.name] if v is None else sample_sender(kind, v.caller.role, v.caller.code)


@router.get("/kinds", response_class=HTMLResponse)
def kinds(request: Request, p: PlatformDep, v: ReaderDep) -> Response:
    chinese = locale_of(request).startswith("zh")
    rows = [
        {"kind": k, "label": k.label_zh if chinese else k.label_en,
         "summary": k.summary_zh if chinese else k.summary_en,
         "sender": ROLE_LABELS.get(k.sender_role, k.sender_role),
         "recipient": ROLE_LABELS.get(k.recipient_role, k.recipient_role)}
        for k in KINDS.values()
    ]  # fmt: skip
    return _public_page(request, p, v, "directory/kinds.html", {"rows": rows})


@router.get("/kinds/{name}", response_class=HTMLResponse)
def kind_spec(request: Request, p: PlatformDep, v: ReaderDep, name: str) -> Response:
    kind = KINDS.get(name[:40])
    if kind is None:
        return error_page(request, 404)
    chinese = locale_of(request).startswith("zh")
    code_rows = _codes(kind.name, chinese)
    sender = _sender_of(kind, v)
    preview = sample(kind.name, "csv", "utf-8", False, sender).decode().splitlines()[:4]
    context: dict[str, Any] = {
        "kind": kind,
        "label": kind.label_zh if chinese else kind.label_en,
        "other_label": kind.label_en if chinese else kind.label_zh,
        "summary": kind.summary_zh if chinese else kind.summary_en,
        "sender": ROLE_LABELS.get(kind.sender_role, kind.sender_role),
        "recipient": ROLE_LABELS.get(kind.recipient_role, kind.recipient_role),
        "routing": ROUTING_LABELS.get(kind.routing or ""),
        "route_field": _label(kind, kind.route_field, chinese) if kind.route_field else "",
        "fields": _fields(kind, chinese, code_rows),
        "codes": code_rows,
        "severity_labels": SEVERITY_LABELS,
        "control_label": _label(kind, kind.control_amount, chinese) if kind.control_amount else None,
        "unique": [_label(kind, n, chinese) for n in kind.unique_key],
        "samples": [
            (FORMATS[fmt][0], ENCODINGS[encoding],
             [(f"{KINDS_PATH}/{kind.name}/sample?format={fmt}&encoding={encoding}"
               + ("&errors=true" if errors else ""), sample_name(kind, fmt, encoding, errors))
              for errors in (False, True)])
            for fmt in FORMATS for encoding in ENCODINGS
        ],
        "preview": preview,
    }  # fmt: skip
    return _public_page(request, p, v, "directory/kind.html", context)


@router.get("/kinds/{name}/sample")
def kind_sample(
    request: Request,
    p: PlatformDep,
    v: ReaderDep,
    name: str,
    format: Annotated[str, Query(max_length=10)] = "csv",
    encoding: Annotated[str, Query(max_length=10)] = "utf-8",
    errors: Annotated[bool, Query()] = False,
) -> Response:
    if name[:40] not in KINDS or format not in FORMATS or encoding not in ENCODINGS:
        return error_page(request, 404)
    kind = KINDS[name]
    data = sample(kind.name, format, encoding, errors, _sender_of(kind, v))
    filename = sample_name(kind, format, encoding, errors)
    media = {"csv": "text/csv", "fixed": "text/plain", "jsonl": "application/x-ndjson"}[format]
    return Response(
        data,
        media_type=f"{media}; charset={'big5' if encoding == 'cp950' else 'utf-8'}",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
                 "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


# --- the contact directory


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < len(raw) < 6 else 1


@router.get("/contacts", response_class=HTMLResponse)
def contact_list(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    q: Annotated[str, Query(max_length=contacts.QUERY_LENGTH)] = "",
    role: Annotated[str, Query(max_length=10)] = "",
    page_no: Annotated[str | None, Query(alias="page", max_length=5)] = None,
) -> Response:
    number = _page_number(page_no)
    with p.db.transaction() as session:
        entries, total = contacts.search(
            session, text=q, role=role or None, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    pages = max(1, -(-total // PAGE_SIZE))
    return page(
        request, p, v, "directory/contacts.html",
        {"entries": entries, "total": total, "q": q, "role": role if role in ROLE_LABELS else "",
         "roles": ROLE_LABELS, "page_no": number, "pages": pages,
         "editable": {e.organisation_id for e in entries if contacts.may_edit(v.caller, e.organisation_id)}},
    )  # fmt: skip


def _entry_page(request: Request, p: PlatformDep, v: Visit, code: str, *, error: str | None = None,
                where: str | None = None, values: dict[str, str] | None = None,
                status_code: int = 200) -> Response:  # fmt: skip
    try:
        with p.db.transaction() as session:
            found = contacts.entry(session, code)
    except NotFound:
        return error_page(request, 404)
    response = page(
        request, p, v, "directory/contact.html",
        {"entry": found, "roles": ROLE_LABELS, "editable": contacts.may_edit(v.caller, found.organisation_id),
         "error": error, "where": where, "values": values or {}},
    )  # fmt: skip
    response.status_code = status_code
    return response


@router.get("/contacts/{code}", response_class=HTMLResponse)
def contact_entry(request: Request, p: PlatformDep, v: VisitDep, code: str) -> Response:
    return _entry_page(request, p, v, code)


def _change(request: Request, p: PlatformDep, v: Visit, code: str, where: str, values: dict[str, str],
            action: Callable[[Session], object]) -> Response:  # fmt: skip
    """Apply one change to an organisation's entry; back to its page, or the page with the error."""
    if where not in ("office", "new") and not (where.isdigit() and len(where) < 10):
        return error_page(request, 404)
    try:
        with p.db.transaction() as session:
            action(session)
    except NotFound:
        return error_page(request, 404)
    except Denied:
        raise Refused() from None
    except DomainError as e:
        return _entry_page(request, p, v, code, error=message(request, e), where=where, values=values,
                           status_code=400)  # fmt: skip
    return RedirectResponse(f"{CONTACTS_PATH}/{code}", status_code=303)


@router.post("/contacts/{code}/office")
def contact_office(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    phone: Annotated[str, Form(max_length=40)] = "",
    address: Annotated[str, Form(max_length=250)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    return _change(request, p, v, code, "office", {"phone": phone, "address": address},
                   lambda s: contacts.set_office(s, v.caller, code, phone, address))  # fmt: skip


@router.post("/contacts/{code}/people")
def contact_add(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    name: Annotated[str, Form(max_length=80)] = "",
    title: Annotated[str, Form(max_length=80)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=250)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    values = {"name": name, "title": title, "phone": phone, "email": email}
    return _change(request, p, v, code, "new", values,
                   lambda s: contacts.add_person(s, v.caller, code, **values))  # fmt: skip


@router.post("/contacts/{code}/people/{person_id}")
def contact_change(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    person_id: str,
    name: Annotated[str, Form(max_length=80)] = "",
    title: Annotated[str, Form(max_length=80)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=250)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    values = {"name": name, "title": title, "phone": phone, "email": email}
    return _change(request, p, v, code, str(person_id), values,
                   lambda s: contacts.update_person(s, v.caller, code, int(person_id), **values))  # fmt: skip


@router.post("/contacts/{code}/people/{person_id}/remove")
def contact_remove(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    code: str,
    person_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    return _change(request, p, v, code, str(person_id), {},
                   lambda s: contacts.remove_person(s, v.caller, code, int(person_id)))  # fmt: skip


# --- the portal's pages, as the app routes them


def portal_routes(items: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every route under the portal among ``app.routes``, those of included routers too (which
    FastAPI may keep as one entry holding the router): for checks and measurements that must
    cover pages whichever area adds them."""
    for route in items:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from portal_routes(included.routes)
        elif isinstance(route, APIRoute) and under_portal(route.path):
            yield route


# --- not found


navigation(KINDS_PATH, N_("Exchange kinds"), order=70)
navigation(CONTACTS_PATH, N_("Contacts"), order=75)

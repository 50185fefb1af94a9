"""The notification centre (``/portal/notifications``): the person's notifications, newest first,
each linking to the page concerned; their preferences per event (in the portal or not; e-mail
none, each time or in the daily digest); and organisations' webhooks (``/portal/webhooks``) for
their administrators and HQ.

A withdrawn notification (a decision that changed) is not listed; a package's notification once
the package is taken says when and through which (``已下載（115/12/05 10:32，由 API 用戶端）``)
instead of asking for the download, and is not counted as unread."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts.roles import Permission
from aedx.errors import DomainError
from aedx.kinds import KINDS
from aedx.notify import events, webhooks
from aedx.notify.events import Channel, Event
from aedx.settings import TAIPEI
from aedx.storage.tables import Notification, Organisation
from aedx.trust import audit
from aedx.web import dates
from aedx.web.i18n import N_, translations
from aedx.web.portal import (
    PAGE_SIZE,
    PlatformDep,
    Refused,
    Visit,
    VisitDep,
    locale_of,
    message,
    navigation,
    page,
    require_csrf,
)

NOTICES = "/portal/notifications"
PREFERENCES = f"{NOTICES}/preferences"
WEBHOOKS = "/portal/webhooks"
router = APIRouter(prefix="/portal", include_in_schema=False)

EVENT_LABELS: dict[Event, str] = {
    Event.REPORT_READY: N_("Validation report ready"),
    Event.REJECTED: N_("Submission rejected"),
    Event.PACKAGE_READY: N_("Package ready in the inbox"),
    Event.FILE_MISSING: N_("Expected file missing"),
    Event.FAILED: N_("Submission processing failed"),
}
CHANNEL_LABELS: dict[Channel, str] = {Channel.IN_APP: N_("In the portal"), Channel.EMAIL: N_("By e-mail")}
# How a person hears of an event by e-mail: the form's choices, and the channel each one keeps.
EMAIL_CHOICES: dict[str, str] = {
    "off": N_("No e-mail"),
    "each": N_("Each time"),
    "digest": N_("In the daily digest"),
}
EMAIL_CHANNELS: dict[str, Channel] = {"each": Channel.EMAIL, "digest": Channel.DIGEST}
OUTBOX_STATES: dict[str, str] = {
    "pending": N_("Waiting to retry"),
    "sent": N_("Sent successfully"),
    "failed": N_("Given up"),
    "skipped": N_("Not sent (skipped)"),
}
MESSAGES: dict[str, str] = {
    Event.REPORT_READY: N_(
        "Your %(kind)s file was validated: %(records)s record, %(warnings)s with warnings."
    ),
    Event.REJECTED: N_("Your %(kind)s file was rejected: %(errors)s row with errors."),
    Event.PACKAGE_READY: N_("A %(kind)s package of %(records)s record waits in your inbox."),
    Event.FILE_MISSING: N_("The %(kind)s file due by %(due)s on %(day)s has not arrived."),
    Event.FAILED: N_(
        "Processing the %(kind)s file of %(sender)s failed repeatedly; the platform stopped and alerted HQ."
    ),
}
# A file without records, or refused for what no row shows, is said so rather than "0 errors".
EMPTY: dict[Event, str] = {
    Event.REPORT_READY: N_("Your %(kind)s file holds no records: nothing was delivered."),
    Event.REJECTED: N_("Your %(kind)s file was rejected: it holds no records."),
}
REJECTED_WHOLE = N_("Your %(kind)s file was rejected; its report says why.")
NAMED = N_("File “%(filename)s”: %(text)s")
# A package's notification once the package was taken: no longer "waiting".
DELIVERED = N_("A %(kind)s package of %(records)s record was delivered to your inbox.")
# the plural of each message that counts, and the value it counts by
PLURALS: dict[str, tuple[str, str]] = {
    MESSAGES[Event.REPORT_READY]: (
        "Your %(kind)s file was validated: %(records)s records, %(warnings)s with warnings.",
        "records",
    ),
    MESSAGES[Event.REJECTED]: ("Your %(kind)s file was rejected: %(errors)s rows with errors.", "errors"),
    MESSAGES[Event.PACKAGE_READY]: (
        "A %(kind)s package of %(records)s records waits in your inbox.",
        "records",
    ),
    DELIVERED: ("A %(kind)s package of %(records)s records was delivered to your inbox.", "records"),
}
SETTLED: dict[str, str] = {
    "downloaded": N_("Downloaded (%(at)s, %(by)s)"),
    "acknowledged": N_("Acknowledged (%(at)s, %(by)s)"),
}
SETTLED_BY: dict[str, str] = {
    "api": N_("by the API client"),
    "portal": N_("in the portal"),
    "operator": N_("by the operator"),
}


def user_id(v: Visit) -> int:
    """The signed-in person's user id (the core names people ``user:<id>``)."""
    kind, _, number = v.caller.actor.partition(":")
    if kind != "user" or not number.isdigit():
        raise Refused()
    return int(number)


def describe(n: Notification, locale: str) -> str:
    t = translations(locale)
    p: dict[str, Any] = json.loads(n.params)
    kind = KINDS.get(str(p.get("kind")))
    kind_label = (kind.label_en if locale == "en" else kind.label_zh) if kind else str(p.get("kind"))
    day = p.get("day")
    values = {
        "kind": kind_label,
        "records": p.get("records") or 0,
        "warnings": p.get("warning_rows") or 0,
        "errors": p.get("error_rows") or 0,
        "due": p.get("due", ""),
        "sender": p.get("sender", ""),
        "day": dates.roc_text(dt.date.fromisoformat(day)) if isinstance(day, str) else "",
    }
    taken = n.settled_at is not None and n.event == Event.PACKAGE_READY
    wording = DELIVERED if taken else _message(n.event, p)
    plural, counted = PLURALS.get(wording, (None, ""))
    text = (t.ngettext(wording, plural, int(values[counted])) if plural else t.gettext(wording)) % values
    filename = p.get("filename")
    return t.gettext(NAMED) % {"filename": filename, "text": text} if filename else text


def settled(n: Notification, locale: str) -> str | None:
    """``已下載（115/12/05 10:32，由 API 用戶端）`` for a settled notification; None otherwise."""
    if n.settled_at is None:
        return None
    t = translations(locale)
    at = n.settled_at.astimezone(TAIPEI)
    shown = at.strftime("%Y-%m-%d %H:%M") if locale == "en" else f"{dates.roc_text(at.date())} {at:%H:%M}"
    how = SETTLED.get(n.settled_as or "", SETTLED["downloaded"])
    by = t.gettext(SETTLED_BY.get(n.settled_by or "", SETTLED_BY["operator"]))
    return t.gettext(how) % {"at": shown, "by": by}


def _message(event: str, p: dict[str, Any]) -> str:
    if event in EMPTY and "records" in p and not p["records"]:
        return EMPTY[Event(event)]
    if event == Event.REJECTED and not p.get("error_rows"):
        return REJECTED_WHOLE
    return MESSAGES.get(event, N_("Notification"))


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    request: Request, p: PlatformDep, v: VisitDep, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    me = user_id(v)
    locale = locale_of(request)
    with p.db.transaction() as session:
        rows = events.listing(session, me, before=before, limit=PAGE_SIZE + 1)
        unread = events.unread(session, me)
        more = len(rows) > PAGE_SIZE
        shown = [
            {"id": n.id, "text": describe(n, locale), "link": n.link, "at": n.created_at,
             "unread": n.read_at is None and n.settled_at is None, "event": n.event,
             "settled": settled(n, locale)}
            for n in rows[:PAGE_SIZE]
        ]  # fmt: skip
    return page(request, p, v, "notices/list.html",
                {"rows": shown, "unread": unread, "paged": before is not None,
                 "next_before": shown[-1]["id"] if more and shown else None})  # fmt: skip


@router.post("/notifications/read")
def mark_read(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    notification: Annotated[int | None, Form(ge=1)] = None,
    go: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    me = user_id(v)
    with p.db.transaction() as session:
        events.mark_read(session, me, notification)
    safe = go.startswith("/portal/") and not go.startswith("//") and "\\" not in go
    return RedirectResponse(go if safe else NOTICES, status_code=303)


@router.get("/notifications/preferences", response_class=HTMLResponse)
def preferences_form(request: Request, p: PlatformDep, v: VisitDep, saved: bool = False) -> Response:
    with p.db.transaction() as session:
        chosen = events.preferences(session, user_id(v))
    shown = _preferences(chosen) | {"saved": saved, "digest_hour": f"{p.settings.digest_hour:02d}"}
    return page(request, p, v, "notices/preferences.html", shown)


def _preferences(chosen: dict[tuple[Event, Channel], bool]) -> dict[str, Any]:
    return {
        "events": [(e.value, EVENT_LABELS[e]) for e in Event],
        "channels": [(c.value, CHANNEL_LABELS[c]) for c in (Channel.IN_APP, Channel.EMAIL)],
        "chosen": {f"{e.value}.{c.value}" for (e, c), on in chosen.items() if on},
        "email_choices": list(EMAIL_CHOICES.items()),
        "email": {
            e.value: "each" if chosen[e, Channel.EMAIL] else "digest" if chosen[e, Channel.DIGEST] else "off"
            for e in Event
        },
    }


@router.post("/notifications/preferences")
async def save_preferences(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    form = await request.form(max_files=0, max_fields=50, max_part_size=1024)
    require_csrf(request, p, str(form.get("csrf_token", ""))[:200])
    wanted = {str(value) for key, value in form.multi_items() if key == "on"}
    enabled = {(e, c) for e in Event for c in Channel if f"{e.value}.{c.value}" in wanted}
    for e in Event:  # the e-mail choice: none, each time, or in the daily digest
        channel = EMAIL_CHANNELS.get(str(form.get(f"email.{e.value}", ""))[:10])
        if f"email.{e.value}" in form:
            enabled -= {(e, Channel.EMAIL), (e, Channel.DIGEST)}
        if channel is not None:
            enabled.add((e, channel))
    with p.db.transaction() as session:
        events.set_preferences(session, user_id(v), enabled)
        audit.by_caller(session, v.caller, "notify.preferences",
                        detail={"on": sorted(f"{e.value}.{c.value}" for e, c in enabled)})  # fmt: skip
    return RedirectResponse(f"{PREFERENCES}?saved=1", status_code=303)


# --- webhooks


def _organisation(session: Session, v: Visit, code: str | None) -> Organisation:
    """The organisation whose webhooks are shown: one's own, or any for HQ; refused otherwise."""
    wanted = (code or "").strip()[:20] or v.caller.code
    org = session.scalar(select(Organisation).where(Organisation.code == wanted))
    if org is None or not webhooks.may_manage(v.caller, org.id):
        audit.by_caller(session, v.caller, "webhook.list", outcome="denied",
                        detail={"reason": "permission", "organisation": wanted})  # fmt: skip
        audit.refuse(session, Refused())
    return org


def _webhooks_page(request: Request, p: PlatformDep, v: Visit, session: Session, org: Organisation,
                   **extra: Any) -> HTMLResponse:  # fmt: skip
    hooks = webhooks.listing(session, org.id)
    attempts = webhooks.recent_attempts(session, org.id)
    return page(request, p, v, "notices/webhooks.html",
                {"organisation": org, "hooks": hooks, "attempts": attempts, "is_hq": v.caller.is_hq,
                 "state_labels": OUTBOX_STATES,
                 "secret": None, "error": None} | extra)  # fmt: skip


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    organisation: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    with p.db.transaction() as session:
        org = _organisation(session, v, organisation)
        return _webhooks_page(request, p, v, session, org)


@router.post("/webhooks", response_class=HTMLResponse)
def add_webhook(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=webhooks.MAX_URL)] = "",
    organisation: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    with p.db.transaction() as session:
        org = _organisation(session, v, organisation)
        try:
            added = webhooks.add(session, v.caller, p.keyring, org.id, url)
        except DomainError as e:
            return _webhooks_page(request, p, v, session, org, error=message(request, e), url=url)
        session.flush()
        return _webhooks_page(request, p, v, session, org, secret=added.secret)


@router.post("/webhooks/{webhook_id}/disable")
def disable_webhook(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    webhook_id: int,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(request, p, csrf_token)
    try:
        with p.db.transaction() as session:
            hook = webhooks.disable(session, v.caller, webhook_id)
            code = session.get_one(Organisation, hook.organisation_id).code
    except DomainError:
        raise Refused() from None
    return RedirectResponse(f"{WEBHOOKS}?organisation={code}", status_code=303)


navigation(NOTICES, N_("Notifications"), order=80)
navigation(WEBHOOKS, N_("Webhooks"), permission=Permission.ACCOUNTS_MANAGE_OWN, order=85)

"""The audit search: filters by time, organisation, actor, action, outcome, kind and object, newest
first page by page; the filtered events exported as CSV or JSON lines; how far the ledger is sealed.
HQ reads every organisation's events, others their own (``audit.read``). The auditor
(``audit.verify``) verifies the ledger from here, watching its progress, as ``aedx audit verify``
does."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from aedx.accounts.roles import Permission
from aedx.errors import Denied, DomainError, Invalid
from aedx.exchange.platform import Platform
from aedx.kinds import KINDS
from aedx.trust import actors, audit, ledger
from aedx.trust.caller import Caller
from aedx.web import dates
from aedx.web.admin.common import (
    DIRECTION_LABELS,
    OUTCOMES,
    ROLE_LABELS,
    Csrf,
    Text,
    router,
    show,
    streamed,
)
from aedx.web.i18n import N_
from aedx.web.portal import (
    PAGE_SIZE,
    PlatformDep,
    Refused,
    VisitDep,
    kind_label,
    message,
    require,
    require_csrf,
)

log = logging.getLogger(__name__)

# how the detail of an event reads: its known keys and values in words, the others as they are
DETAIL_LABELS = {
    "reason": N_("Reason"),
    "direction": N_("Direction"),
    "role": N_("Role"),
    "previous": N_("Previous role"),
    "name": N_("Name"),
    "username": N_("Username"),
    "organisation": N_("Organisation"),
    "fields": N_("Fields changed"),
    "added": N_("Added"),
    "format": N_("Format"),
    "preferred_format": N_("Preferred format"),
    "preferred_encoding": N_("Preferred encoding"),
    "records": N_("Records"),
    "size": N_("Size (bytes)"),
    "label": N_("Label"),
    "events": N_("Events"),
    "checkpoints": N_("Checkpoints"),
    "error": N_("Error"),
    "sessions_ended": N_("Sessions ended"),
    "totp_reset": N_("Authenticator reset"),
    "state": N_("State"),
    "scope": N_("Scope"),
}
REASON_LABELS = {
    "permission": N_("no permission for it"),
    "outside_reach": N_("outside the person's reach"),
    "not_granted": N_("no grant for the kind"),
    "other_organisation": N_("another organisation"),
    "hq_role": N_("an HQ role"),
    "own_account": N_("one's own account"),
    "bad_password": N_("wrong password"),
    "bad_code": N_("wrong verification code"),
    "code_missing": N_("no verification code"),
    "defaults": N_("given by the organisation's kind"),
    "too_large": N_("too large"),
    "policy": N_("password rules"),
    "idle": N_("idle too long"),
    "expired": N_("session expired"),
    "disabled": N_("account disabled"),
}
# what the most frequent actions did, in words; the action's code stays beside them
ACTION_LABELS = {
    "admin.view": N_("Opened the management pages"),
    "audit.export": N_("Exported the audit log"),
    "audit.read": N_("Read the audit log"),
    "audit.seal": N_("Sealed audit events"),
    "audit.verify": N_("Verified the audit log"),
    "case.read": N_("Looked up a case"),
    "case.export": N_("Exported cases"),
    "certificate.issue": N_("Issued a certificate"),
    "certificate.revoke": N_("Revoked a certificate"),
    "certificate.import": N_("Imported a certificate"),
    "certificate.download": N_("Downloaded a certificate"),
    "client.register": N_("Registered an API client"),
    "client.disable": N_("Disabled an API client"),
    "client.token": N_("Issued a token to an API client"),
    "contacts.person_add": N_("Added a contact person"),
    "contacts.person_change": N_("Changed a contact person"),
    "contacts.person_remove": N_("Removed a contact person"),
    "delivery.download": N_("Downloaded a package"),
    "delivery.acknowledge": N_("Acknowledged a package"),
    "expected.set": N_("Declared an expected file"),
    "grant.add": N_("Granted a kind"),
    "grant.revoke": N_("Revoked a grant"),
    "grant.defaults": N_("Gave the reference grants"),
    "organisation.create": N_("Added an organisation"),
    "organisation.update": N_("Changed an organisation"),
    "organisation.disable": N_("Disabled an organisation"),
    "organisation.enable": N_("Enabled an organisation"),
    "organisations.import": N_("Imported the organisation list"),
    "personal_data.unmask": N_("Saw personal data unmasked"),
    "portal.csrf": N_("A form without its security token"),
    "submission.create": N_("Sent a file"),
    "submission.check": N_("Checked a file without sending it"),
    "submission.read": N_("Read a submission"),
    "user.create": N_("Added a person"),
    "user.update": N_("Changed a person's details"),
    "user.role": N_("Changed a person's role"),
    "user.disable": N_("Disabled a person"),
    "user.enable": N_("Enabled a person"),
    "user.unlock": N_("Unlocked a person"),
    "user.lock": N_("Locked after failed sign-ins"),
    "user.password_reset": N_("Reset a person's password"),
    "user.password_change": N_("Changed one's password"),
    "user.sign_in": N_("Signed in"),
    "user.sign_out": N_("Signed out"),
    "user.totp_enrol": N_("Set up an authenticator"),
    "user.totp_confirm": N_("Confirmed an authenticator"),
    "webhook.add": N_("Added a webhook"),
    "webhook.disable": N_("Disabled a webhook"),
}
OBJECT_LABELS = {
    "user": N_("person"),
    "submission": N_("submission"),
    "organisation": N_("organisation"),
    "client": N_("API client"),
    "upload": N_("upload"),
    "delivery": N_("package"),
    "case": N_("case"),
    "webhook": N_("webhook"),
    "certificate": N_("certificate"),
    "grant": N_("grant"),
}
OUTCOME_LABELS = {
    "ok": N_("succeeded"),
    "denied": N_("refused"),
    "rejected": N_("rejected"),
    "duplicate": N_("duplicate"),
    "failed": N_("failed"),
}


def _detail_value(key: str, value: object) -> tuple[str, bool]:
    """A detail's value in words where it is a known one (translated by the page: the flag says
    so), otherwise as text."""
    if isinstance(value, bool):
        return (N_("Yes") if value else N_("No")), True
    if isinstance(value, list):
        return ", ".join(str(v) for v in value), False
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()), False
    text = str(value)
    if key == "reason" and text in REASON_LABELS:
        return REASON_LABELS[text], True
    if key in ("role", "previous") and text in ROLE_LABELS:
        return ROLE_LABELS[text], True
    if key == "direction" and text in {d.value for d in DIRECTION_LABELS}:
        return next(label for d, label in DIRECTION_LABELS.items() if d.value == text), True
    return text, False


def detail_items(detail: dict[str, object] | None) -> list[tuple[str, bool, str, bool]]:
    """An event's detail as labelled items: (label, label is a msgid, value, value is a msgid)."""
    return [
        (DETAIL_LABELS.get(key, key.replace("_", " ")), key in DETAIL_LABELS, *_detail_value(key, value))
        for key, value in sorted((detail or {}).items())
    ]


PROGRESS_EVERY = 0.5  # seconds between two progress lines of a verification


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
        row["detail"] = detail_items(row["detail"])
        row["who"] = people.get(row["actor"])
    query = urlencode({k: x for k, x in given.items() if x})
    context = {
        "rows": rows,
        "given": given,
        "query": query,
        "outcomes": [(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
        "outcome_labels": OUTCOME_LABELS,
        "action_labels": ACTION_LABELS,
        "object_labels": OBJECT_LABELS,
        "kinds": list(KINDS),
        "kind_names": {k: kind_label(request, k) for k in KINDS},
        "next_before": rows[-1]["id"] if more and rows else None,
        "paged": before is not None,
        "show_organisation": v.caller.is_hq,
        "sealing": sealing,
        "may_verify": v.caller.may(Permission.AUDIT_VERIFY),
        "error": error,
    }
    return show(request, p, v, "audit.html", context, status)


class Verification:
    """A verification of the ledger, run beside the page that reports it: ``progress`` yields
    (events checked, events in all) as it goes; then ``verdict`` holds the result, recorded in the
    audit log as the command's is. One runs at a time in a process; another asked for meanwhile
    is told so (``busy``)."""

    running = threading.Lock()

    def __init__(self, p: Platform, caller: Caller) -> None:
        self.p, self.caller = p, caller
        self.verdict: ledger.Verdict | None = None
        self.failure: DomainError | None = None
        self.busy = False

    def progress(self) -> Iterator[tuple[int, int]]:
        if not Verification.running.acquire(blocking=False):
            self.busy = True
            return
        steps: queue.Queue[tuple[int, int] | None] = queue.Queue()
        threading.Thread(target=self._run, args=(steps,), name="aedx-audit-verify", daemon=True).start()
        shown = 0.0
        while (step := steps.get()) is not None:
            if time.monotonic() - shown >= PROGRESS_EVERY:
                shown = time.monotonic()
                yield step
        if self.verdict is not None:
            outcome, detail = self.verdict.audited()
            with self.p.db.transaction() as session:
                audit.by_caller(session, self.caller, "audit.verify", outcome=outcome, detail=detail)

    def _run(self, steps: queue.Queue[tuple[int, int] | None]) -> None:
        try:
            self.verdict = ledger.verify(self.p, progress=lambda done, total: steps.put((done, total)))
        except DomainError as e:
            self.failure = e
        except Exception:
            log.exception("the audit log could not be verified")
            self.failure = DomainError("稽核紀錄驗證未能完成", "the verification could not finish")
        finally:
            Verification.running.release()
            steps.put(None)


@router.post("/audit/verify")
def audit_verify(request: Request, p: PlatformDep, v: VisitDep, csrf_token: Csrf = "") -> Response:
    """The ledger verified while the page shows how far it has gone, then the verdict."""
    require_csrf(request, p, csrf_token)
    with p.db.transaction() as session:
        require(session, v.caller, "audit.verify", Permission.AUDIT_VERIFY)
    return streamed(
        request, p, v, "audit_verify.html", {"run": Verification(p, v.caller), "labels": ledger.LABELS}
    )


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

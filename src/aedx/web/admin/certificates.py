"""Certificates: each organisation's, issued from an uploaded CSR and then shown on its own page
to be handed on (downloaded or copied), revoked with a reason after a confirmation that names it;
the CRL and the public certificates to download (``certificates.manage``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aedx.accounts import certificates
from aedx.accounts.roles import Permission
from aedx.errors import DomainError, Invalid
from aedx.storage.tables import Certificate, Organisation
from aedx.trust.pki import Usage
from aedx.web.admin.common import (
    ADMIN,
    REVOCATION_LABELS,
    Code,
    Confirm,
    Csrf,
    PageNumber,
    Text,
    change,
    confirmed,
    done_redirect,
    managed_organisations,
    paged,
    router,
    show,
    upload,
)
from aedx.web.portal import PlatformDep, Refused, Visit, VisitDep, message, require

CERTIFICATES = (Permission.CERTIFICATES_MANAGE,)


def _certificates_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    *,
    organisation: str = "",
    number: int = 1,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with p.db.transaction() as session:
        require(session, v.caller, "certificate.list", *CERTIFICATES)
        rows = [
            (
                c.serial,
                code,
                c.usage,
                c.subject,
                c.not_before,
                c.not_after,
                c.revoked_at,
                c.revocation_reason,
                c.external,
            )
            for c, code in certificates.listing(session)
            if not organisation or code == organisation
        ]
        choices = [(o.code, o.name) for o in managed_organisations(session, v)]
    shown, next_page = paged(rows, number)
    context = {
        "rows": shown,
        "next_page": next_page,
        "number": number,
        "organisation": organisation,
        "organisations": choices,
        "reasons": REVOCATION_LABELS,
        "error": error,
    }
    return show(request, p, v, "certificates.html", context, status_code)


@router.get("/certificates", response_class=HTMLResponse)
def certificates_list(
    request: Request, p: PlatformDep, v: VisitDep, organisation: Text = "", page: PageNumber = 1
) -> Response:
    return _certificates_page(request, p, v, organisation=organisation, number=page)


@router.post("/certificates", response_class=HTMLResponse)
def certificate_issue(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    csrf_token: Csrf = "",
    organisation: Code = "",
    usage: Annotated[str, Form(max_length=20)] = "",
    csr: Annotated[UploadFile | None, File()] = None,
) -> Response:
    def issue(session: Session) -> str:
        data = upload(csr)
        if not data:
            raise Invalid("請上傳憑證請求檔（CSR）", "upload the certificate request (CSR)")
        if usage not in {u.value for u in Usage}:
            raise Invalid("請選擇憑證用途", "choose the certificate's use")
        if not (p.pki_folder / "root.pem").exists():
            raise Invalid(
                "平台尚未建立憑證機構（aedx pki init）", "the platform has no CA yet (aedx pki init)"
            )
        return certificates.issue(
            session, p.authority, organisation, Usage(usage), v.caller.actor, data
        ).certificate.serial

    done = change(request, p, v, csrf_token, "certificate.issue", CERTIFICATES, issue)
    if isinstance(done, DomainError):
        return _certificates_page(request, p, v, error=message(request, done), status_code=400)
    return done_redirect(_address(done), "issued")


@router.get("/certificates/crl.pem")
def certificate_crl(request: Request, p: PlatformDep, v: VisitDep) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "certificate.crl", *CERTIFICATES)
        crl = certificates.crl(session, p.authority)
    return Response(
        crl,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="aedx.crl.pem"'},
    )


def _address(serial: str) -> str:
    return f"{ADMIN}/certificates/{quote(serial)}"


def _certificate_page(
    request: Request,
    p: PlatformDep,
    v: Visit,
    serial: str,
    action: str,
    *,
    confirming: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """One certificate: its subject, serial, validity and owner, its PEM to hand on; or, when
    ``confirming``, the question whether to revoke it."""
    with p.db.transaction() as session:
        require(session, v.caller, action, *CERTIFICATES)
        found = session.execute(
            select(Certificate, Organisation)
            .join(Organisation, Organisation.id == Certificate.organisation_id)
            .where(Certificate.serial == serial.lower()[:64])
        ).one_or_none()
        if found is None:
            raise Refused()
        cert, org = found
        session.expunge_all()
    context = {
        "cert": cert,
        "org": org,
        "reasons": REVOCATION_LABELS,
        "confirming": confirming and cert.revoked_at is None,
        "error": error,
    }
    return show(request, p, v, "certificate.html", context, status_code)


@router.get("/certificates/{serial}", response_class=HTMLResponse)
def certificate(request: Request, p: PlatformDep, v: VisitDep, serial: str) -> Response:
    return _certificate_page(request, p, v, serial, "certificate.view")


@router.get("/certificates/{serial}/revoke", response_class=HTMLResponse)
def certificate_revoke_confirmation(request: Request, p: PlatformDep, v: VisitDep, serial: str) -> Response:
    """Asks before revoking, naming the certificate: a revoked certificate cannot be used again."""
    return _certificate_page(request, p, v, serial, "certificate.view", confirming=True)


@router.post("/certificates/{serial}/revoke", response_class=HTMLResponse)
def certificate_revoke(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    serial: str,
    csrf_token: Csrf = "",
    confirm: Confirm = "",
    reason: Annotated[str, Form(max_length=30)] = "unspecified",
) -> Response:
    serial = serial.lower()[:64]
    ask = confirmed(
        request, p, v, csrf_token, confirm, "certificate.revoke", CERTIFICATES, f"{_address(serial)}/revoke"
    )
    if ask is not None:
        return ask
    done = change(
        request,
        p,
        v,
        csrf_token,
        "certificate.revoke",
        CERTIFICATES,
        lambda s: certificates.revoke(s, serial, reason, v.caller.actor).serial,
    )
    if isinstance(done, DomainError):
        return _certificate_page(
            request, p, v, serial, "certificate.view", confirming=True, error=message(request, done),
            status_code=400,
        )  # fmt: skip
    return done_redirect(_address(done), "revoked")


@router.get("/certificates/{serial}/certificate.pem")
def certificate_download(request: Request, p: PlatformDep, v: VisitDep, serial: str) -> Response:
    with p.db.transaction() as session:
        require(session, v.caller, "certificate.download", *CERTIFICATES)
        found = [c for c, _ in certificates.listing(session) if c.serial == serial.lower()[:64]]
    if not found:
        raise Refused()
    name = f"{found[0].serial}.pem"
    return Response(
        found[0].pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

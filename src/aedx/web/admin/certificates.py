"""Certificates: each organisation's, issued from an uploaded CSR, revoked with a reason; the CRL
and the public certificates to download (``certificates.manage``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from aedx.accounts import certificates
from aedx.accounts.roles import Permission
from aedx.errors import DomainError, Invalid
from aedx.trust.pki import Usage
from aedx.web.admin.common import (
    ADMIN,
    REVOCATION_LABELS,
    Code,
    Csrf,
    PageNumber,
    Text,
    change,
    managed_organisations,
    paged,
    router,
    saved_redirect,
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
    return saved_redirect(f"{ADMIN}/certificates")


@router.post("/certificates/{serial}/revoke", response_class=HTMLResponse)
def certificate_revoke(
    request: Request,
    p: PlatformDep,
    v: VisitDep,
    serial: str,
    csrf_token: Csrf = "",
    reason: Annotated[str, Form(max_length=30)] = "unspecified",
) -> Response:
    done = change(
        request,
        p,
        v,
        csrf_token,
        "certificate.revoke",
        CERTIFICATES,
        lambda s: certificates.revoke(s, serial[:64], reason, v.caller.actor).serial,
    )
    if isinstance(done, DomainError):
        return _certificates_page(request, p, v, error=message(request, done), status_code=400)
    return saved_redirect(f"{ADMIN}/certificates")


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

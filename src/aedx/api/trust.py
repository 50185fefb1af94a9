"""What anyone may fetch to exchange with the platform: its root and issuing CA, the platform's
own signing and encryption certificates, and the CRL. Public, as certificates are."""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509
from fastapi import APIRouter, Response

from aedx.accounts import certificates
from aedx.api.deps import PlatformDep
from aedx.api.schemas import ERRORS
from aedx.trust.pki import pem

router = APIRouter(prefix="/api/v1/trust", tags=["trust"], responses=ERRORS)
PEM = "application/x-pem-file"


class Published(StrEnum):
    ROOT = "root"
    ISSUING = "issuing"
    PLATFORM_SIGNING = "platform-signing"  # verifies packages and receipts
    PLATFORM_ENCRYPTION = "platform-encryption"  # uploads are enveloped to it


@router.get("/certificates/{name}", response_class=Response, summary="平台憑證 The platform's certificates")
def certificate(name: Published, p: PlatformDep) -> Response:
    found: dict[Published, x509.Certificate] = {
        Published.ROOT: p.authority.root,
        Published.ISSUING: p.authority.issuing,
        Published.PLATFORM_SIGNING: p.signer.certificate,
        Published.PLATFORM_ENCRYPTION: p.decrypter.certificate,
    }
    return Response(pem(found[name]), media_type=PEM)


@router.get("/crl", response_class=Response, summary="憑證廢止清冊 Certificate revocation list")
def crl(p: PlatformDep) -> Response:
    with p.db.transaction() as session:
        return Response(certificates.crl(session, p.authority), media_type=PEM)

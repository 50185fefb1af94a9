"""Signed receipts: what the platform says it received and decided, in JSON, signed by the platform
(CMS SignedData with the JSON attached), so that ``openssl cms -verify`` against the platform's
root shows and proves it."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import hashes

from aedx.trust import cms
from aedx.trust.pki import Identity


def make(fields: dict[str, Any], signer: Identity) -> bytes:
    content = json.dumps(fields, ensure_ascii=False, sort_keys=True, indent=1).encode() + b"\n"
    return b"".join(bytes(part) for part in cms.sign(content, signer))


def read(data: bytes, platform_certificate_fingerprint: bytes) -> dict[str, Any]:
    """The receipt's fields, once its signature verifies and its signer is the platform whose
    signing certificate has the given SHA-256 fingerprint."""
    signed = cms.verify(data)
    if signed.signer.fingerprint(hashes.SHA256()) != platform_certificate_fingerprint:
        raise cms.CmsRefused("the receipt is not signed by the platform")
    found: dict[str, Any] = json.loads(bytes(signed.content))
    return found

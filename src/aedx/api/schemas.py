"""Response bodies of the API, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aedx.formats import Format
from aedx.formats.source import ENCODINGS
from aedx.kinds import KINDS
from aedx.validation.export import FORMATS

# The values the API takes, derived from the registry of kinds and the readers and writers, never
# listed by hand: the OpenAPI document shows them as enums; the core still decides (400).
SENDABLE_KINDS = [name for name, kind in KINDS.items() if kind.routing is not None]
FILE_FORMATS = [f.value for f in Format]
FILE_ENCODINGS = list(ENCODINGS)
REPORT_FORMATS = list(FORMATS)
OBLIGOR_ID_PATTERN = r"^[A-Za-z0-9]{8,10}$"  # a national, resident or business ID (blind_index)
DATE_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"  # RFC 3339


def one_of(values: list[str]) -> dict[str, Any]:
    return {"enum": values}


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message_zh: str
    message_en: str


class Error(BaseModel):
    """Every error of the API has this shape."""

    error: ErrorBody


class RecipientOut(BaseModel):
    recipient: str = Field(description="the receiving organisation's code (a branch: sly, tpy, ...)")
    records: int = Field(description="how many of the file's records it receives")


class SubmissionOut(BaseModel):
    id: str
    sender: str
    kind: str
    format: str
    encoding: str
    filename: str | None
    idempotency_key: str | None
    content_sha256: str = Field(description="SHA-256 (hex) of the signed content: the file itself")
    envelope_size: int = Field(description="bytes of the file as sent and kept (the CMS envelope)")
    sha256: str = Field(description="the same as content_sha256 (kept for older clients)", deprecated=True)
    size: int = Field(description="the same as envelope_size (kept for older clients)", deprecated=True)
    state: str = Field(
        description="received, validating, accepted, rejected, routed, delivered, acknowledged, "
        "failed (final: the platform gave up after repeated errors; see failure)"
    )
    records: int | None
    error_rows: int | None
    warning_rows: int | None
    failure: str | None = Field(None, description="why processing gave up, when the state is failed")
    recipients: list[RecipientOut] | None = Field(
        None, description="who received the records, once routed (only in a single submission's status)"
    )
    received_at: str
    updated_at: str


class Accepted(BaseModel):
    id: str
    state: str
    content_sha256: str = Field(description="SHA-256 (hex) of the signed content: the file itself")
    envelope_size: int = Field(description="bytes of the file as sent and kept (the CMS envelope)")
    sha256: str = Field(description="the same as content_sha256 (kept for older clients)", deprecated=True)
    size: int = Field(description="the same as envelope_size (kept for older clients)", deprecated=True)
    duplicate: bool = Field(description="true when the same file or idempotency key was sent before")
    status_url: str


class DeliveryOut(BaseModel):
    id: str
    submission_id: str
    sender: str
    kind: str
    records: int
    format: str
    encoding: str
    sha256: str = Field(description="SHA-256 (hex) of the package as downloaded (the CMS envelope)")
    size: int = Field(description="bytes of the package as downloaded")
    state: str
    downloads: int = Field(description="downloads begun")
    downloaded_at: str | None = Field(description="the first complete download; acknowledging needs one")
    ready_at: str | None
    acknowledged_at: str | None


class FindingOut(BaseModel):
    row: int | None = Field(description="record number, header not counted; null for the whole file")
    line: int | None = Field(
        description="the line of the file the record is on, as a text editor or Excel numbers it "
        "(a CSV file's header is line 1)"
    )
    field: str | None
    code: str
    severity: str
    message_zh: str
    message_en: str
    value: str | None = Field(description="the value found, masked when it is personal data")
    case_no: str | None = Field(description="the record's agency case number, when the kind has one")


class ReportOut(BaseModel):
    summary: dict[str, Any]
    findings: list[FindingOut]
    total_findings: int


class AuditEventOut(BaseModel):
    id: int
    at: str
    actor: str
    organisation: str | None
    action: str
    object_type: str | None
    object_id: str | None
    submission_id: str | None
    kind: str | None
    outcome: str
    detail: dict[str, Any] | None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error} for status in (400, 401, 403, 404, 409, 413, 422)
}

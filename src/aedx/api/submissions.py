"""Submissions: upload a file, follow its state, read its report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import FileResponse

from aedx.api.deps import CallerDep, PlatformDep, SubmissionsReader
from aedx.api.schemas import (
    ERRORS,
    FILE_ENCODINGS,
    FILE_FORMATS,
    REPORT_FORMATS,
    SENDABLE_KINDS,
    Accepted,
    ReportOut,
    SubmissionOut,
    one_of,
)
from aedx.errors import TooLarge
from aedx.exchange import intake, reports, submissions
from aedx.validation.export import FORMATS, MEDIA_TYPES, report_disposition
from aedx.validation.report import with_lines

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"  # PostgreSQL text holds no NUL; names hold no controls
router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"], responses=ERRORS)


def wake_worker(request: Request) -> None:
    """A new submission wakes the in-process worker at once, where there is one."""
    wake = getattr(request.app.state, "wake_worker", None)
    if wake is not None:
        wake()


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    summary="上傳交換檔 Upload an exchange file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("application/pkcs7-mime", "application/octet-stream")
            },
        }
    },
)
async def create(
    request: Request,
    p: PlatformDep,
    caller: CallerDep,  # the kind's send scope is checked by intake.check, as for every upload
    kind: Annotated[str, Query(json_schema_extra=one_of(SENDABLE_KINDS))],
    format: Annotated[str, Query(json_schema_extra=one_of(FILE_FORMATS))] = "csv",
    encoding: Annotated[str, Query(json_schema_extra=one_of(FILE_ENCODINGS))] = "utf-8",
    filename: Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    """The file is the request body: CMS, signed with the organisation's signing certificate and
    enveloped to the platform's encryption certificate (``/api/v1/trust/certificates/
    platform-encryption``). It is checked before anything is kept; any failure of the signature,
    the signer or the encryption gets one answer, ``cms.refused``. Answers 202; follow
    ``status_url``. Sending the same content, or the same ``Idempotency-Key``, again returns the
    first submission."""
    limit = p.settings.max_upload_bytes
    content_length = request.headers.get("content-length", "")  # HTTP's own header, not a parameter
    if content_length.isdigit() and int(content_length) > limit:
        declared = int(content_length)
        await anyio.to_thread.run_sync(lambda: intake.record_declared_too_large(p, caller, kind, declared))
        raise TooLarge(f"檔案超過上限 {limit >> 20} MB", f"the file exceeds the limit of {limit >> 20} MB")
    upload = intake.Upload(kind, format, encoding, idempotency_key, filename)
    chunks = request.stream().__aiter__()
    received = await anyio.to_thread.run_sync(lambda: intake.submit(p, caller, upload, blocking(chunks)))
    return accepted(request, received)


def accepted(request: Request, received: intake.Received) -> dict[str, Any]:
    """The answer to a file taken (``Accepted``); a new submission wakes the in-process worker."""
    if received.created:
        wake_worker(request)
    sub = received.submission
    return {
        "id": sub.id,
        "state": sub.state,
        "content_sha256": sub.sha256,
        "envelope_size": sub.size,
        "sha256": sub.sha256,
        "size": sub.size,
        "duplicate": not received.created,
        "status_url": str(request.url_for("submission", submission_id=sub.id)),
    }


def blocking(chunks: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body, read from the event loop by the thread that stores it (the API's uploads
    and the portal's)."""

    async def next_chunk() -> bytes:
        return await chunks.__anext__()

    while True:
        try:
            chunk = anyio.from_thread.run(next_chunk)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.get("", response_model=list[SubmissionOut], summary="上傳紀錄 List submissions")
def listing(
    p: PlatformDep,
    caller: SubmissionsReader,
    state: str | None = None,
    kind: str | None = None,
    before: Annotated[str | None, Query(description="page on from this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    with p.db.reading() as session:
        return submissions.listing(session, caller, state=state, kind=kind, before=before, limit=limit)


@router.get(
    "/{submission_id}", name="submission", response_model=SubmissionOut, summary="上傳檔狀態 Submission"
)
def read(submission_id: str, p: PlatformDep, caller: SubmissionsReader) -> dict[str, Any]:
    with p.db.transaction() as session:
        sub = submissions.get(session, caller, submission_id)
        described = submissions.describe(sub, submissions.sender_code(session, sub))
        return described | {"recipients": submissions.recipients(session, sub)}


@router.get("/{submission_id}/report", response_model=ReportOut, summary="檢核報告 Validation report")
def report(
    submission_id: str,
    p: PlatformDep,
    caller: SubmissionsReader,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    unmask: Annotated[bool, Query(description="needs personal_data.unmask; every use is audited")] = False,
) -> dict[str, Any]:
    """The summary and a page of findings; every finding is in the report files. Values of
    personal fields (IDs, names, addresses) are masked unless unmasked by a caller who may."""
    with p.db.transaction() as session:
        sub = submissions.get(session, caller, submission_id)
        if unmask:
            reports.allow_unmask(session, caller, sub.id)
    loaded = submissions.report(p, sub, masked=not unmask)
    return {
        "summary": loaded.summary(),
        "findings": with_lines(loaded.findings.slice(offset, limit), loaded.format).to_dicts(),
        "total_findings": loaded.findings.height,
    }


@router.get(
    "/{submission_id}/receipt",
    response_class=FileResponse,
    summary="簽署收據 The platform's signed receipt",
)
def receipt(submission_id: str, p: PlatformDep, caller: SubmissionsReader) -> FileResponse:
    """What the platform received and decided (JSON), signed by it: CMS SignedData, DER. Check it
    with ``openssl cms -verify -inform DER -in receipt.p7s -CAfile root.pem``. Ready once the
    file is accepted or rejected."""
    with p.db.transaction() as session:
        sub = submissions.get(session, caller, submission_id)
    return FileResponse(
        submissions.receipt(p, sub),
        media_type="application/pkcs7-mime; smime-type=signed-data",
        filename=f"receipt-{sub.id}.p7s",
    )


@router.get(
    "/{submission_id}/report/{fmt}",
    response_class=FileResponse,
    summary="下載檢核報告 Download the report (json, csv, xlsx, ods)",
)
def report_file(
    submission_id: str,
    fmt: Annotated[str, Path(json_schema_extra=one_of(REPORT_FORMATS))],
    p: PlatformDep,
    caller: SubmissionsReader,
) -> FileResponse:
    with p.db.transaction() as session:
        sub = submissions.get(session, caller, submission_id)
    path = submissions.report_file(p, sub, fmt)
    disposition = report_disposition(sub.filename, sub.id, fmt)  # named after the file sent
    return FileResponse(path, media_type=MEDIA_TYPES.get(fmt), headers={"Content-Disposition": disposition})


__all__ = ["FORMATS", "router"]

"""Upload sessions: a large file sent in chunks and resumed after an interruption.

1. ``POST /api/v1/uploads?kind=…&size=…&sha256=…`` (with an ``Idempotency-Key``) opens a session;
2. ``PATCH /api/v1/uploads/{id}`` with ``Upload-Offset: N`` appends the body at offset N (which must
   be the offset the platform holds);
3. ``GET /api/v1/uploads/{id}`` tells that offset after an interruption;
4. ``POST /api/v1/uploads/{id}/complete`` hands the assembled file to intake, exactly as
   ``POST /api/v1/submissions`` with the whole body would: answers the same 202;
5. ``DELETE /api/v1/uploads/{id}`` aborts an open session and removes its bytes;
   ``GET /api/v1/uploads`` lists the organisation's open sessions.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from aedx.api.deps import CallerDep, PlatformDep, Sender
from aedx.api.schemas import ERRORS, Accepted
from aedx.api.submissions import NO_CONTROL_CHARACTERS, accepted, blocking
from aedx.exchange import intake, uploads
from aedx.storage.tables import UploadSession

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"], responses=ERRORS)


class UploadOut(BaseModel):
    id: str
    kind: str
    size: int
    offset: int
    state: str = Field(description="open, completed, failed (its completion was refused; closed)")
    submission_id: str | None
    expires_at: str
    upload_url: str


def _out(request: Request, held: UploadSession, response: Response | None = None) -> dict[str, Any]:
    if response is not None:
        response.headers["Upload-Offset"] = str(held.received)
    return {
        "id": held.id,
        "kind": held.kind,
        "size": held.size,
        "offset": held.received,
        "state": held.state,
        "submission_id": held.submission_id,
        "expires_at": held.expires_at.isoformat(),
        "upload_url": str(request.url_for("upload", upload_id=held.id)),
    }


@router.post("", status_code=201, response_model=UploadOut, summary="開始分段上傳 Open an upload session")
def create(
    request: Request,
    response: Response,
    p: PlatformDep,
    caller: CallerDep,  # the kind's send scope is checked by intake.check, as for every upload
    kind: Annotated[str, Query(description="case_referral, payment, status_feedback")],
    size: Annotated[int, Query(ge=1, le=2**62, description="bytes of the file as sent (the CMS)")],
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file as sent")],
    format: Annotated[str, Query(description="csv, fixed or jsonl")] = "csv",
    encoding: Annotated[str, Query(description="utf-8, cp950 or big5")] = "utf-8",
    filename: Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    """The same permission, grant and size limit as an upload. With the same ``Idempotency-Key``
    (and the same kind, format, encoding, size and SHA-256) the session is answered
    again, at its offset; the same key with other parameters is refused (409
    ``upload.key_reused``). One client holds at most 10 open sessions, an organisation 50 (409
    ``upload.too_many``): complete or abort some first."""
    upload = intake.Upload(kind, format, encoding, idempotency_key, filename)
    return _out(request, uploads.create(p, caller, upload, size, sha256), response)


@router.get("", response_model=list[UploadOut], summary="進行中之分段上傳 Open upload sessions")
def listing(request: Request, p: PlatformDep, caller: Sender) -> list[dict[str, Any]]:
    """The organisation's open sessions, oldest first (one client holds at most
    10 open at a time, an organisation 50): resume them, or abort those no longer wanted."""
    return [_out(request, held) for held in uploads.listing(p, caller)]


@router.delete("/{upload_id}", status_code=204, summary="中止分段上傳 Abort an upload session")
def abort(upload_id: str, p: PlatformDep, caller: Sender) -> Response:
    """Ends an open session and removes the bytes received; audited (``upload.abort``). A
    completed session cannot be aborted (409)."""
    uploads.abort(p, caller, upload_id)
    return Response(status_code=204)


@router.get("/{upload_id}", name="upload", response_model=UploadOut, summary="分段上傳進度 Upload session")
def read(
    upload_id: str, request: Request, response: Response, p: PlatformDep, caller: Sender
) -> dict[str, Any]:
    return _out(request, uploads.read(p, caller, upload_id), response)


@router.patch(
    "/{upload_id}",
    response_model=UploadOut,
    summary="上傳一段 Append a chunk",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def append(
    upload_id: str,
    request: Request,
    response: Response,
    p: PlatformDep,
    caller: Sender,
    upload_offset: Annotated[int, Header(ge=0, le=2**62)],
) -> dict[str, Any]:
    """The body is written at ``Upload-Offset``, which must be the session's offset (409 with the
    offset otherwise); what arrives of a chunk cut short is kept and counted."""
    chunks = request.stream().__aiter__()
    held = await anyio.to_thread.run_sync(
        lambda: uploads.append(p, caller, upload_id, upload_offset, blocking(chunks))
    )
    return _out(request, held, response)


@router.post(
    "/{upload_id}/complete",
    status_code=202,
    response_model=Accepted,
    summary="完成分段上傳 Complete the upload",
)
def complete(upload_id: str, request: Request, p: PlatformDep, caller: Sender) -> dict[str, Any]:
    """A refused completion (a changed file, a refused signature…) closes the session: its state
    becomes ``failed`` and its bytes are removed; send the file again in a new session."""
    return accepted(request, uploads.complete(p, caller, upload_id))

"""Deliveries and feedback packages: the inbox, downloads and acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from aedx.api.deps import PlatformDep, Receiver
from aedx.api.schemas import ERRORS, DeliveryOut, Error
from aedx.api.sent import WhenSent
from aedx.exchange import delivery, submissions
from aedx.storage.tables import Delivery, Submission

SEALED_MEDIA = "application/pkcs7-mime; smime-type=authEnveloped-data"
router = APIRouter(prefix="/api/v1", tags=["deliveries"], responses=ERRORS)


def _out(session: Session, d: Delivery) -> dict[str, Any]:
    return delivery.describe(
        d, submissions.sender_code(session, session.get_one(Submission, d.submission_id))
    )


@router.get("/inbox", response_model=list[DeliveryOut], summary="待收檔案 Inbox")
def inbox(
    p: PlatformDep,
    caller: Receiver,
    include_acknowledged: bool = False,
    after: Annotated[str, Query(description="page on from this id")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Packages waiting for the caller, oldest first; they stay listed until acknowledged."""
    with p.db.reading() as session:
        return delivery.inbox(
            session, caller, include_acknowledged=include_acknowledged, after=after, limit=limit
        )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut, summary="遞送檔 Delivery")
def read(delivery_id: str, p: PlatformDep, caller: Receiver) -> dict[str, Any]:
    with p.db.transaction() as session:
        return _out(session, delivery.get(session, caller, delivery_id))


@router.get("/deliveries/{delivery_id}/content", response_class=FileResponse, summary="下載 Download")
def content(delivery_id: str, p: PlatformDep, caller: Receiver) -> Response:
    """The package: CMS signed by the platform and enveloped to the recipient's encryption
    certificate (``application/pkcs7-mime``); its SHA-256 is in the ``ETag`` header. A package
    made while the organisation had no encryption certificate is enveloped to its current one as
    it is downloaded, without an ``ETag`` (409 ``not_ready`` while it has none)."""
    with p.db.transaction() as session:
        d, path = delivery.content(p, session, caller, delivery_id)
        again = delivery.for_client(p, session, d, path)
    charset = "utf-8" if d.encoding == "utf-8" else "big5"
    sealed = path.name.endswith(delivery.SEALED)
    headers = {"ETag": f'"{d.sha256}"', "X-Content-SHA256": d.sha256, "X-Records": str(d.records)}

    def done() -> None:
        delivery.downloaded(p, caller, d.id)

    if again is not None:  # a new envelope: the stored package's digest does not describe it
        disposition = {"Content-Disposition": f'attachment; filename="{path.name}"'}
        streamed = StreamingResponse(
            again, media_type=SEALED_MEDIA, headers=disposition | {"X-Records": str(d.records)}
        )
        return WhenSent(streamed, done)
    whole = FileResponse(
        path,
        media_type=SEALED_MEDIA if sealed else f"{delivery.MEDIA_TYPES[d.format]}; charset={charset}",
        filename=path.name,
        headers=headers,
    )
    return WhenSent(whole, done)  # a range (206) is not a complete download


@router.post(
    "/deliveries/{delivery_id}/ack",
    response_model=DeliveryOut,
    summary="確認收訖 Acknowledge",
    responses={
        409: {"model": Error, "description": "`delivery.not_downloaded`: not downloaded completely yet"}
    },
)
def acknowledge(delivery_id: str, p: PlatformDep, caller: Receiver) -> dict[str, Any]:
    """Only after one complete download of the package (409 ``delivery.not_downloaded`` before);
    acknowledging again changes nothing."""
    with p.db.transaction() as session:
        return _out(session, delivery.acknowledge(session, caller, delivery_id))

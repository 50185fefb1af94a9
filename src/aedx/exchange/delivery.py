"""Deliveries: one package per (submission, recipient) in the recipient's preferred format and
encoding, listed in its inbox until acknowledged. Feedback packages to agencies are deliveries of
status feedback. Downloading is read-only, so downloading twice is safe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from cryptography import x509
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aedx import notify
from aedx.accounts import certificates
from aedx.errors import NotFound, NotReady
from aedx.exchange.platform import Platform
from aedx.exchange.routing import RECIPIENT
from aedx.exchange.states import State, transition
from aedx.formats.source import ControlRecord
from aedx.formats.writers import amount_total, control_line, encode_records
from aedx.schema import Kind
from aedx.storage.tables import Delivery, Organisation, Submission, new_id, utcnow
from aedx.trust import audit, cms
from aedx.trust.caller import Caller

EXTENSIONS = {"csv": "csv", "fixed": "txt", "jsonl": "jsonl"}
Sealing = dict[int, x509.Certificate] | None  # organisation id → its encryption certificate
SEALED = ".p7m"  # signed by the platform, enveloped to the recipient (CMS, DER)


@dataclass(frozen=True)
class Package:
    recipient_id: int
    records: int
    format: str
    encoding: str
    blob_key: str
    sha256: str
    size: int


def recipients(session: Session, routed: pl.DataFrame) -> dict[str, Organisation]:
    codes = routed[RECIPIENT].drop_nulls().unique().to_list()
    return {o.code: o for o in session.scalars(select(Organisation).where(Organisation.code.in_(codes)))}


def write_packages(
    platform: Platform,
    to: dict[str, Organisation],
    sealed_for: Sealing,
    sub: Submission,
    kind: Kind,
    routed: pl.DataFrame,
) -> list[Package]:
    """Write each recipient's package to the blob store, signed by the platform and enveloped to
    the recipient's encryption certificate; keys are per submission and recipient, so a retry after
    a crash overwrites what an earlier attempt left."""
    packages = []
    routed = routed.select(*kind.names, RECIPIENT)
    for (code,), part in routed.partition_by(RECIPIENT, as_dict=True, maintain_order=True).items():
        org = to[str(code)]
        data, encoding = _encode(part, kind, org.preferred_format, org.preferred_encoding)
        key = f"deliveries/{sub.id}/{org.code}.{EXTENSIONS[org.preferred_format]}"
        if sealed_for is None:
            sha, size = platform.blobs.put(key, [data])
        else:
            key += SEALED
            sha, size = platform.blobs.put(key, cms.seal(data, platform.signer, sealed_for[org.id]))
        packages.append(Package(org.id, part.height, org.preferred_format, encoding, key, sha, size))
    return sorted(packages, key=lambda p: p.blob_key)


def sealing(session: Session, platform: Platform, to: dict[str, Organisation]) -> Sealing:
    """Each recipient's encryption certificate (None when the exchange runs in the clear)."""
    if platform.settings.plain_exchange:
        return None
    found = certificates.encryption_certificates(session, [o.id for o in to.values()])
    missing = sorted(o.code for o in to.values() if o.id not in found)
    if missing:  # the job is retried with back-off until HQ issues the certificate
        raise NotReady(
            f"收件機關 {', '.join(missing)} 尚無有效之加密憑證",
            f"no valid encryption certificate for {', '.join(missing)}",
        )
    return found


def _encode(part: pl.DataFrame, kind: Kind, fmt: str, encoding: str) -> tuple[bytes, str]:
    """The records with a control trailer. A recipient on CP950 whose records hold characters Big5
    lacks gets the package in UTF-8 instead, never with characters lost."""
    control = control_line(fmt, ControlRecord(part.height, amount_total(part, kind)))
    try:
        return encode_records(part, kind, fmt, encoding) + control, encoding
    except UnicodeEncodeError:
        return encode_records(part, kind, fmt, "utf-8") + control, "utf-8"


def record_packages(session: Session, sub: Submission, packages: list[Package]) -> None:
    for p in packages:
        session.add(
            Delivery(
                id=new_id(),
                submission_id=sub.id,
                recipient_id=p.recipient_id,
                kind=sub.kind,
                records=p.records,
                format=p.format,
                encoding=p.encoding,
                blob_key=p.blob_key,
                sha256=p.sha256,
                size=p.size,
                state="routed",
            )
        )


def release(session: Session, sub: Submission, actor: str) -> int:
    """Put the submission's packages into their recipients' inboxes."""
    now = utcnow()
    ready = session.scalars(select(Delivery).where(Delivery.submission_id == sub.id)).all()
    for d in ready:
        d.state = "ready"
        d.ready_at = now
        audit.record(
            session,
            actor=actor,
            action="delivery.ready",
            organisation_id=d.recipient_id,
            object_type="delivery",
            object_id=d.id,
            submission_id=sub.id,
            kind=sub.kind,
            detail={"records": d.records},
        )
    notify.packages_ready(session, ready)
    return len(ready)


def describe(d: Delivery, sender: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "submission_id": d.submission_id,
        "sender": sender,
        "kind": d.kind,
        "records": d.records,
        "format": d.format,
        "encoding": d.encoding,
        "sha256": d.sha256,
        "size": d.size,
        "state": d.state,
        "downloads": d.downloads,
        "ready_at": d.ready_at.isoformat() if d.ready_at else None,
        "acknowledged_at": d.acknowledged_at.isoformat() if d.acknowledged_at else None,
    }


def inbox(
    session: Session, caller: Caller, *, include_acknowledged: bool = False, after: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    """What waits for the caller, oldest first; acknowledged packages only when asked."""
    states = ["ready", "acknowledged"] if include_acknowledged else ["ready"]
    stmt = (
        select(Delivery, Organisation.code)
        .join(Submission, Submission.id == Delivery.submission_id)
        .join(Organisation, Organisation.id == Submission.sender_id)
        .where(
            Delivery.recipient_id == caller.organisation_id, Delivery.state.in_(states), Delivery.id > after
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [describe(d, sender) for d, sender in session.execute(stmt)]


def get(session: Session, caller: Caller, delivery_id: str) -> Delivery:
    """The caller's own delivery; any other is 'not found', so its existence does not leak."""
    d = session.get(Delivery, delivery_id)
    if d is None or d.recipient_id != caller.organisation_id or d.state == "routed":
        audit.by_caller(
            session,
            caller,
            "delivery.read",
            outcome="denied",
            object_type="delivery",
            object_id=delivery_id[:64],
        )
        audit.refuse(session, NotFound("查無此遞送檔", "no such delivery"))
    return d


def content(platform: Platform, session: Session, caller: Caller, delivery_id: str) -> tuple[Delivery, Path]:
    d = get(session, caller, delivery_id)
    session.execute(update(Delivery).where(Delivery.id == d.id).values(downloads=Delivery.downloads + 1))
    _audit(session, caller, "delivery.download", d)
    return d, platform.blobs.path(d.blob_key)


def acknowledge(session: Session, caller: Caller, delivery_id: str) -> Delivery:
    """Idempotent; the submission is acknowledged when its last package is."""
    d = get(session, caller, delivery_id)
    if d.state == "acknowledged":
        return d
    d.state = "acknowledged"
    d.acknowledged_at = utcnow()
    _audit(session, caller, "delivery.acknowledge", d)
    session.flush()
    session.get(Submission, d.submission_id, with_for_update=True)  # one acknowledger at a time
    waiting = session.scalar(
        select(func.count()).where(
            Delivery.submission_id == d.submission_id, Delivery.state != "acknowledged"
        )
    )
    if waiting == 0:
        transition(session, d.submission_id, State.ACKNOWLEDGED, actor=caller.actor)
    return d


def _audit(session: Session, caller: Caller, action: str, d: Delivery) -> None:
    audit.by_caller(
        session,
        caller,
        action,
        object_type="delivery",
        object_id=d.id,
        submission_id=d.submission_id,
        kind=d.kind,
    )

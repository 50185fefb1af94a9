"""Deliveries: one package per (submission, recipient) in the recipient's preferred format and
encoding, listed in its inbox until acknowledged. Feedback packages to agencies are deliveries of
status feedback. Downloading is read-only, so downloading twice is safe.

A package is acknowledged only after one complete download (``delivery.not_downloaded``, 409,
before): the edge that sends the bytes (the API, the portal) calls ``downloaded`` once the whole
body has been handed over, so that a download cut short does not count."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from cryptography import x509
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aedx import notify
from aedx.accounts import certificates
from aedx.errors import Conflict, Denied, NotFound, NotReady
from aedx.exchange.platform import Platform
from aedx.exchange.routing import RECIPIENT
from aedx.exchange.states import State, transition
from aedx.formats.source import ControlRecord
from aedx.formats.writers import amount_total, control_line, encode_records
from aedx.schema import Kind
from aedx.storage.tables import Delivery, Organisation, Submission, new_id, utcnow
from aedx.trust import audit, cms
from aedx.trust.caller import Caller, Direction

EXTENSIONS = {"csv": "csv", "fixed": "txt", "jsonl": "jsonl"}
MEDIA_TYPES = {"csv": "text/csv", "fixed": "text/plain", "jsonl": "application/jsonl"}
Sealing = dict[int, list[x509.Certificate]] | None  # organisation id → whom its packages are for
SEALED = ".p7m"  # signed by the platform, enveloped to the recipient and the platform (CMS, DER)


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
    the recipient's encryption certificate and the platform's own (see ``sealing``); keys are
    per submission and recipient, so a retry after a crash overwrites what an earlier attempt
    left."""
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
    """Whom each recipient's packages are enveloped to: its encryption certificate, when it has
    one, and the platform's own, so that its people can download them from the portal (None when
    the exchange runs in the clear). An organisation without a certificate (one that only uses
    the portal) gets packages the platform alone opens."""
    if platform.settings.plain_exchange:
        return None
    found = certificates.encryption_certificates(session, [o.id for o in to.values()])
    ours = platform.decrypter.certificate
    return {o.id: [found[o.id], ours] if o.id in found else [ours] for o in to.values()}


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
        "downloaded_at": d.downloaded_at.isoformat() if d.downloaded_at else None,
        "ready_at": d.ready_at.isoformat() if d.ready_at else None,
        "acknowledged_at": d.acknowledged_at.isoformat() if d.acknowledged_at else None,
    }


def inbox(
    session: Session, caller: Caller, *, include_acknowledged: bool = False, after: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    """What waits for the caller, oldest first; acknowledged packages only when asked."""
    states = ["ready", "acknowledged"] if include_acknowledged else ["ready"]
    received = [kind for kind, direction in caller.grants if direction is Direction.RECEIVE]
    stmt = (
        select(Delivery, Organisation.code)
        .join(Submission, Submission.id == Delivery.submission_id)
        .join(Organisation, Organisation.id == Submission.sender_id)
        .where(
            Delivery.recipient_id == caller.organisation_id,
            Delivery.state.in_(states),
            Delivery.kind.in_(received),  # only the kinds the caller may receive (its token's scope)
            Delivery.id > after,
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
    if not caller.granted(d.kind, Direction.RECEIVE):  # its own, but a kind its token does not carry
        audit.by_caller(
            session, caller, "delivery.read", outcome="denied", object_type="delivery", object_id=d.id,
            kind=d.kind, detail={"reason": "not_granted"},
        )  # fmt: skip
        audit.refuse(
            session,
            Denied(
                f"{caller.code} 未獲授權接收此類別（{d.kind}:receive）",
                f"{caller.code} is not granted to receive this kind ({d.kind}:receive)",
            ),
        )
    return d


def content(platform: Platform, session: Session, caller: Caller, delivery_id: str) -> tuple[Delivery, Path]:
    d = get(session, caller, delivery_id)
    session.execute(update(Delivery).where(Delivery.id == d.id).values(downloads=Delivery.downloads + 1))
    _audit(session, caller, "delivery.download", d)
    return d, platform.blobs.path(d.blob_key)


def for_client(platform: Platform, session: Session, d: Delivery, path: Path) -> Iterator[bytes] | None:
    """What a client downloads when the stored package was enveloped to the platform alone (its
    organisation had no encryption certificate then): the same signed package, enveloped on the
    fly to the organisation's current certificate; None when the stored one is for the client.
    Refused when the organisation still has no certificate."""
    if not path.name.endswith(SEALED):
        return None
    with path.open("rb") as f:
        start = f.read(cms.RECIPIENTS_WITHIN)
    ours = platform.decrypter.certificate
    if any(r != (ours.issuer.public_bytes(), ours.serial_number) for r in cms.recipients(start)):
        return None
    current = certificates.encryption_certificates(session, [d.recipient_id]).get(d.recipient_id)
    if current is None:
        raise NotReady(
            "貴機關尚無有效之加密憑證，請由入口網站下載，或向署本部申請憑證",
            "your organisation has no valid encryption certificate; download the package from the"
            " portal, or ask HQ for a certificate",
        )
    return cms.reenvelope(path.read_bytes(), platform.decrypter, current)


def clear(platform: Platform, session: Session, caller: Caller, delivery_id: str) -> tuple[Delivery, bytes]:
    """A package opened for a person signed in to the portal (the file travels over TLS): the
    platform opens its own envelope and checks its own signature. Audited as a download."""
    d, path = content(platform, session, caller, delivery_id)
    if not path.name.endswith(SEALED):
        return d, path.read_bytes()
    signed = cms.unwrap(path.read_bytes(), platform.decrypter)
    if signed.signer != platform.signer.certificate:
        raise cms.CmsRefused("the package is not signed by the platform")
    return d, bytes(signed.content)


def downloaded(platform: Platform, caller: Caller, delivery_id: str) -> None:
    """The package's whole body has been sent to the caller: the first time, it may now be
    acknowledged."""
    with platform.db.transaction() as session:
        done = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.recipient_id == caller.organisation_id,
                Delivery.downloaded_at.is_(None),
            )
            .values(downloaded_at=utcnow())
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            d = session.get_one(Delivery, delivery_id)
            _audit(session, caller, "delivery.downloaded", d)
            notify.taken(session, d.id, "downloaded", caller.actor)


def filename(d: Delivery) -> str:
    """The name a downloaded clear package gets."""
    return f"{d.kind}-{d.id}.{EXTENSIONS.get(d.format, 'txt')}"


def acknowledge(session: Session, caller: Caller, delivery_id: str) -> Delivery:
    """Idempotent; the submission is acknowledged when its last package is."""
    d = get(session, caller, delivery_id)
    if d.state == "acknowledged":
        return d
    if d.downloaded_at is None:
        audit.by_caller(
            session, caller, "delivery.acknowledge", outcome="denied", object_type="delivery",
            object_id=d.id, submission_id=d.submission_id, kind=d.kind, detail={"reason": "not_downloaded"},
        )  # fmt: skip
        audit.refuse(
            session,
            Conflict(
                "此遞送檔尚未完整下載，請先下載再確認收訖",
                "the package has not been downloaded completely yet; download it before acknowledging",
                code="delivery.not_downloaded",
            ),
        )
    d.state = "acknowledged"
    d.acknowledged_at = utcnow()
    _audit(session, caller, "delivery.acknowledge", d)
    notify.taken(session, d.id, "acknowledged", caller.actor)
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

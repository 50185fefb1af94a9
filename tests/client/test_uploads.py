"""Upload sessions: a large file in chunks, resumed from the platform's offset; the same checks,
grants, audit and idempotency as a whole upload; and the client's resumable push of a 20 MB file
through dropped connections and a server restart."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aedx import client as aedx_client
from aedx.client.exchange import Client
from aedx.errors import Conflict
from aedx.exchange import uploads
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import AuditEvent, Organisation, Submission, UploadSession
from aedx.trust.caller import Caller, Direction
from tests.builders import records
from tests.client.support import Proxy, Server, client_folder
from tests.exchange.hub import Hub

AGENCY, OTHER = "A383000000", "A397000000"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path / "platform")
    yield h
    h.close()


def referrals(n: int, prefix: str = "113U") -> bytes:
    frame = records("case_referral", *({"agency_case_no": f"{prefix}{i:08d}"} for i in range(n)))
    return encode_records(frame, get_kind("case_referral"), "csv", "utf-8")


def open_session(hub: Hub, org: str, sealed: bytes, key: str | None = "k-1") -> Any:
    params = {"kind": "case_referral", "size": len(sealed), "sha256": hashlib.sha256(sealed).hexdigest()}
    headers = hub.auth(org) | ({"Idempotency-Key": key} if key else {})
    return hub.client.post("/api/v1/uploads", params=params, headers=headers)


def patch(hub: Hub, org: str, upload_id: str, offset: int, body: bytes) -> Any:
    headers = hub.auth(org) | {
        "Upload-Offset": str(offset),
        "Content-Type": "application/octet-stream",
    }
    return hub.client.patch(f"/api/v1/uploads/{upload_id}", headers=headers, content=body)


def test_chunks_then_complete_is_one_submission_as_a_whole_upload_would_be(hub: Hub) -> None:
    sealed = hub.seal(AGENCY, referrals(30))
    made = open_session(hub, AGENCY, sealed)
    assert made.status_code == 201, made.text
    upload_id = made.json()["id"]
    assert open_session(hub, AGENCY, sealed).json()["id"] == upload_id  # the same key: the same session
    half = len(sealed) // 2
    assert hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete").status_code == 409  # bytes missing
    assert patch(hub, AGENCY, upload_id, 0, sealed[:half]).json()["offset"] == half
    wrong = patch(hub, AGENCY, upload_id, 0, sealed[:half])  # not where the platform stands
    assert wrong.status_code == 409 and str(half) in wrong.json()["error"]["message_en"]
    read = hub.get(AGENCY, f"/api/v1/uploads/{upload_id}")
    assert read.json()["offset"] == half and read.headers["Upload-Offset"] == str(half)
    too_much = patch(hub, AGENCY, upload_id, half, sealed[half:] + b"x")
    assert too_much.status_code == 413
    assert patch(hub, AGENCY, upload_id, half, sealed[half:]).json()["offset"] == len(sealed)
    done = hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete")
    assert done.status_code == 202, done.text
    assert done.json()["duplicate"] is False
    again = hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete")
    assert again.json()["id"] == done.json()["id"]
    whole = hub.upload(AGENCY, "case_referral", referrals(30))  # the same content, sent whole
    assert whole.json()["id"] == done.json()["id"] and whole.json()["duplicate"] is True
    hub.worker.drain()
    assert hub.get(AGENCY, f"/api/v1/submissions/{done.json()['id']}").json()["state"] in {
        "delivered",
        "routed",
    }
    assert hub.count(Submission) == 1


def test_a_retry_waits_for_a_chunk_still_being_written_and_nothing_is_lost(hub: Hub) -> None:
    """A chunk whose connection was cut may still be writing when the client's retry arrives at
    the same offset; the retry must not truncate what the first one kept."""
    sealed = hub.seal(AGENCY, referrals(200))
    upload_id = open_session(hub, AGENCY, sealed).json()["id"]
    with hub.platform.db.transaction() as s:
        org_id = s.scalars(select(Organisation.id).where(Organisation.code == AGENCY)).one()
    caller = Caller(
        org_id, AGENCY, "agency", "client:test", grants=frozenset({("case_referral", Direction.SEND)})
    )
    first_part, wrote, resume = len(sealed) // 3, threading.Event(), threading.Event()

    def cut_short() -> Iterator[bytes]:
        yield sealed[:first_part]
        wrote.set()
        resume.wait(10)  # the connection hangs, then drops

    outcome: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: outcome.update(first=uploads.append(hub.platform, caller, upload_id, 0, cut_short()))
    )
    first.start()
    assert wrote.wait(10)

    def retry() -> None:
        try:
            uploads.append(hub.platform, caller, upload_id, 0, iter([sealed[: first_part // 2]]))
        except Conflict as e:
            outcome["retry"] = e

    second = threading.Thread(target=retry)
    second.start()
    second.join(0.5)
    resume.set()  # the first request ends while the retry waits for it
    first.join(10)
    second.join(10)
    assert outcome["first"].received == first_part
    assert "offset is" in str(outcome["retry"])  # the retry learns where the upload stands
    assert patch(hub, AGENCY, upload_id, first_part, sealed[first_part:]).json()["offset"] == len(sealed)
    done = hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete")
    assert done.status_code == 202, done.text  # the assembled file is the one declared


def test_a_changed_file_is_refused_at_completion_and_the_session_closed(hub: Hub) -> None:
    sealed = hub.seal(AGENCY, referrals(3))
    upload_id = open_session(hub, AGENCY, sealed).json()["id"]
    patch(hub, AGENCY, upload_id, 0, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    refused = hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete")
    assert refused.status_code == 400 and hub.count(Submission) == 0
    closed = hub.get(AGENCY, f"/api/v1/uploads/{upload_id}").json()
    assert closed["state"] == "failed" and not hub.platform.blobs.exists(f"uploads/{upload_id}")
    again = hub.post(AGENCY, f"/api/v1/uploads/{upload_id}/complete")
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload.failed"
    assert patch(hub, AGENCY, upload_id, 0, sealed).status_code == 409
    assert upload_id not in [u["id"] for u in hub.get(AGENCY, "/api/v1/uploads").json()]


def test_a_reused_idempotency_key_with_other_parameters_is_refused(hub: Hub) -> None:
    sealed = hub.seal(AGENCY, referrals(3))
    first = open_session(hub, AGENCY, sealed, key="day-1")
    other = open_session(hub, AGENCY, hub.seal(AGENCY, referrals(4)), key="day-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "upload.key_reused"
    assert set(other.json()["error"]) == {"code", "message_zh", "message_en"}
    assert open_session(hub, AGENCY, sealed, key="day-1").json()["id"] == first.json()["id"]
    with hub.platform.db.transaction() as session:
        assert len(session.scalars(select(UploadSession)).all()) == 1


def test_a_client_holds_a_bounded_number_of_sessions_and_aborts_old_ones(hub: Hub) -> None:
    sealed = hub.seal(AGENCY, referrals(1))
    held = [open_session(hub, AGENCY, sealed, key=f"k-{i}") for i in range(uploads.MAX_OPEN_PER_CLIENT)]
    assert {r.status_code for r in held} == {201}
    full = open_session(hub, AGENCY, sealed, key="one-more")
    assert full.status_code == 409 and full.json()["error"]["code"] == "upload.too_many"
    listed = hub.get(AGENCY, "/api/v1/uploads").json()
    assert [u["id"] for u in listed] == [r.json()["id"] for r in held]  # oldest first
    oldest = held[0].json()["id"]
    patch(hub, AGENCY, oldest, 0, sealed[:10])
    assert hub.platform.blobs.exists(f"uploads/{oldest}")
    assert hub.client.delete(f"/api/v1/uploads/{oldest}", headers=hub.auth(OTHER)).status_code == 404
    aborted = hub.client.delete(f"/api/v1/uploads/{oldest}", headers=hub.auth(AGENCY))
    assert aborted.status_code == 204 and not hub.platform.blobs.exists(f"uploads/{oldest}")
    assert hub.get(AGENCY, f"/api/v1/uploads/{oldest}").status_code == 404
    events = hub.get(AGENCY, "/api/v1/audit", params={"action": "upload.abort"}).json()
    assert [(e["object_id"], e["outcome"], e["detail"]["received"]) for e in events] == [(oldest, "ok", "10")]
    assert open_session(hub, AGENCY, sealed, key="one-more").status_code == 201  # room again
    hub.enrol(AGENCY)  # another client of the organisation is not locked out by the first
    assert open_session(hub, AGENCY, sealed, key="other-client").status_code == 201


def test_another_organisation_reaches_no_session_and_sending_needs_the_grant(hub: Hub) -> None:
    sealed = hub.seal(AGENCY, referrals(3))
    upload_id = open_session(hub, AGENCY, sealed).json()["id"]
    for org in (OTHER, "sly", "aea"):
        for response in (
            hub.get(org, f"/api/v1/uploads/{upload_id}"),
            patch(hub, org, upload_id, 0, sealed),
            hub.post(org, f"/api/v1/uploads/{upload_id}/complete"),
        ):
            # HQ sends no kind: its token carries no <kind>:send scope (403); others do not find it
            assert response.status_code == (403 if org == "aea" else 404), (org, response.text)
            assert upload_id not in response.text
    assert hub.get(AGENCY, f"/api/v1/uploads/{upload_id}").json()["offset"] == 0
    with hub.platform.db.transaction() as session:
        last = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    refused = open_session(hub, "sly", sealed)  # a branch does not refer cases
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.denied"
    with hub.platform.db.transaction() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.id > last)).all()
        assert [(e.action, e.outcome, e.kind) for e in denied] == [
            ("submission.create", "denied", "case_referral")
        ]
    for headers in ({}, {"Authorization": "Bearer aedx_not-a-token"}):
        assert hub.client.get(f"/api/v1/uploads/{upload_id}", headers=headers).status_code == 401


def test_a_declared_size_over_the_limit_is_refused_and_sessions_expire(
    database_url: str, tmp_path: Path
) -> None:
    hub = Hub(database_url, tmp_path / "small", max_upload_bytes=1000)
    try:
        sealed = hub.seal(AGENCY, referrals(40))
        assert len(sealed) > 1000
        assert open_session(hub, AGENCY, sealed).status_code == 413
        small = hub.seal(AGENCY, referrals(1))[:900]
        upload_id = open_session(hub, AGENCY, small).json()["id"]
        with hub.platform.db.transaction() as session:
            held = session.get_one(UploadSession, upload_id)
            held.expires_at = held.created_at
        assert hub.get(AGENCY, f"/api/v1/uploads/{upload_id}").status_code == 404
        assert hub.platform.blobs.exists(f"uploads/{upload_id}")
        hub.worker.sweep_if_due()  # a running worker sweeps now and then
        assert not hub.platform.blobs.exists(f"uploads/{upload_id}")
        assert uploads.expire(hub.platform) == 0
        with hub.platform.db.transaction() as session:
            assert session.get(UploadSession, upload_id) is None
    finally:
        hub.close()


@pytest.mark.slow
def test_the_client_resumes_a_large_file_through_drops_and_a_restart(tmp_path: Path) -> None:
    hub = Hub(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "platform")
    server = Server(hub)
    server.start()
    try:
        chunk = 1 << 20
        # cuts inside the first connections' chunks; the third also restarts the server
        proxy = Proxy(server.port, [3 * chunk + 5000, 2 * chunk + 777, chunk // 2], {3}, server.restart)
        extra = f"chunk_threshold_bytes = {8 << 20}\nchunk_bytes = {chunk}\n"
        config = aedx_client.load(client_folder(hub, AGENCY, tmp_path / "agency", proxy.url, extra=extra))
        config.make_folders()
        per_record = len(referrals(100, "113L")) / 100
        path = config.outbox / "referral-large.csv"
        path.write_bytes(referrals(int(21_000_000 / per_record), "113L"))
        assert path.stat().st_size > 20_000_000
        events: list[tuple[str, dict[str, Any]]] = []

        class Watch:
            def event(self, name: str, **fields: Any) -> None:
                events.append((name, fields))

            def begin(self, label: str, total: int) -> None:
                pass

            def advance(self) -> None:
                pass

        c = Client(config, events=Watch())
        try:
            counts = c.push()
        finally:
            c.close()
        proxy.close()
        assert (counts.accepted, counts.failed) == (1, 0), events[-5:]
        assert proxy.dropped == 3 and proxy.restarts == 1
        offsets = [f["offset"] for name, f in events if name == "push.chunk"]
        size = offsets[-1]
        assert offsets == sorted(offsets)  # never started over
        assert len(offsets) < 2 * (size // chunk + 1)
        with hub.platform.db.transaction() as session:
            assert len(session.scalars(select(Submission)).all()) == 1
        assert (config.sent / "referral-large.csv").exists()
        assert list(config.state.glob("*.p7m")) == []
    finally:
        server.stop()
        hub.close()

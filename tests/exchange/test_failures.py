"""Files that cannot go anywhere are decided, and jobs that keep failing end: a file without
records is rejected with ``file.no_records``; a submission whose processing fails
``job_attempts`` times ends ``failed`` (final, with its reason, a signed receipt and an alert to
HQ) instead of being retried for ever. The status and the receipt name who received what."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from aedx.accounts import organisations as orgs
from aedx.accounts import users
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import Job, Notification, OutboxMessage, Submission, User
from aedx.trust import cms
from tests.builders import records
from tests.exchange.hub import Hub

AGENCY = "A383000000"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def receipt(hub: Hub, org: str, submission_id: str) -> dict[str, Any]:
    response = hub.get(org, f"/api/v1/submissions/{submission_id}/receipt")
    assert response.status_code == 200, response.text
    signed = cms.verify(response.content)
    assert signed.signer == hub.platform.signer.certificate
    found: dict[str, Any] = json.loads(bytes(signed.content))
    return found


def status(hub: Hub, org: str, submission_id: str) -> dict[str, Any]:
    found: dict[str, Any] = hub.get(org, f"/api/v1/submissions/{submission_id}").json()
    return found


@pytest.mark.parametrize(
    "body",
    [
        ",".join(get_kind("case_referral").names).encode() + b"\r\n",  # the header alone
        ",".join(get_kind("case_referral").names).encode() + b"\r\n#CONTROL,0,0\r\n",  # and a control record
    ],
    ids=["header", "control"],
)
def test_a_file_without_records_is_rejected_not_routed(hub: Hub, body: bytes) -> None:
    sent = hub.upload(AGENCY, "case_referral", body)
    assert sent.status_code == 202, sent.text
    hub.worker.drain()
    sub = status(hub, AGENCY, sent.json()["id"])
    assert (sub["state"], sub["records"]) == ("rejected", 0)
    assert hub.codes(AGENCY, sub["id"]) == ["file.no_records"]
    report = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/report").json()
    (finding,) = report["findings"]
    assert "沒有任何資料紀錄" in finding["message_zh"] and "no records" in finding["message_en"]
    assert receipt(hub, AGENCY, sub["id"])["state"] == "rejected"
    assert hub.count(Job) == 0


@pytest.mark.parametrize("fmt", ["csv", "fixed"])
def test_a_file_of_another_kind_is_rejected_with_one_sentence(hub: Hub, fmt: str) -> None:
    payments = records("payment", *({} for _ in range(120)))
    body = encode_records(payments, get_kind("payment"), fmt, "utf-8")
    sent = hub.upload(AGENCY, "case_referral", body, fmt=fmt)
    assert sent.status_code == 202, sent.text
    hub.worker.drain()
    sub = status(hub, AGENCY, sent.json()["id"])
    assert sub["state"] == "rejected"
    assert hub.codes(AGENCY, sub["id"]) == ["file.other_kind"]
    (finding,) = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/report").json()["findings"]
    assert finding["message_zh"].startswith("此檔案之欄位似為〈繳款資料〉，而非所選之〈移送案件〉")


def _run_attempt(hub: Hub) -> bool:
    """One worker attempt, the job's back-off waived (the test does not wait for it)."""
    with hub.platform.db.transaction() as session:
        session.execute(update(Job).values(queued_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    return hub.worker.run_once()


def test_a_job_that_keeps_failing_ends_failed_and_alerts_hq(hub: Hub) -> None:
    sent = hub.upload(AGENCY, "case_referral", records("case_referral").write_csv().encode())
    submission_id = sent.json()["id"]
    with hub.platform.db.transaction() as session:
        key = session.get_one(Submission, submission_id).blob_key
    hub.platform.blobs.path(key).write_bytes(b"not a CMS envelope any more")  # the stored file is damaged
    with hub.platform.db.transaction() as session:
        operator = orgs.operator(session, "test")
        users.create(
            session, operator, orgs.HQ_CODE, "lin.chihming", "林志明", "hq@example.gov.tw", "hq_admin"
        )
        users.create(
            session, operator, AGENCY, "chen.meiling", "陳美玲", "a@example.gov.tw", "agency_officer"
        )

    attempts = hub.platform.settings.job_attempts
    assert attempts == 5
    for attempt in range(1, attempts):
        assert _run_attempt(hub)
        assert status(hub, AGENCY, submission_id)["state"] == "validating", attempt
    assert _run_attempt(hub)
    assert not _run_attempt(hub)  # nothing left to retry
    assert hub.count(Job) == 0

    sub = status(hub, AGENCY, submission_id)
    assert sub["state"] == "failed" and sub["failure"]
    signed = receipt(hub, AGENCY, submission_id)
    assert (signed["state"], signed["attempts"]) == ("failed", attempts)
    assert "總署" in signed["message_zh"] and "HQ" in signed["message_en"]
    listed = hub.get(AGENCY, "/api/v1/submissions", params={"state": "failed"}).json()
    assert [s["id"] for s in listed] == [submission_id]

    events = hub.get(orgs.HQ_CODE, "/api/v1/audit", params={"submission": submission_id}).json()
    actions = [e["action"] for e in events]
    assert actions.count("submission.retry") == attempts - 1 and "submission.failed" in actions

    with hub.platform.db.transaction() as session:
        alerted = session.execute(
            select(User.username, Notification.link)
            .join(User, User.id == Notification.user_id)
            .where(Notification.event == "failed")
        ).all()
        mails = session.scalars(select(OutboxMessage.body).where(OutboxMessage.event == "failed")).all()
    link = f"/portal/submissions/{submission_id}"
    assert sorted(alerted) == [("chen.meiling", link), ("lin.chihming", link)]
    assert len(mails) == 2 and all(json.loads(m)["params"]["sender"] == AGENCY for m in mails)


def test_the_status_and_the_receipt_name_each_recipient(hub: Hub) -> None:
    sent = records(
        "case_referral",
        {"agency_case_no": "R1", "address": "臺北市士林區中正路100號", "postcode": "11101"},
        {"agency_case_no": "R2", "address": "臺北市士林區中正路101號", "postcode": "11101"},
        {"agency_case_no": "R3", "address": "高雄市苓雅區四維三路2號", "postcode": "802"},
    )
    sub = hub.send(AGENCY, "case_referral", sent)
    assert sub["state"] == "delivered"
    expected = [{"recipient": "ksy", "records": 1}, {"recipient": "sly", "records": 2}]
    assert sub["recipients"] == expected
    assert receipt(hub, AGENCY, sub["id"])["recipients"] == expected

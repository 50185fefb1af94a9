"""Notifications on both databases through the real exchange: a rejected file and a validated
one reach the sender's permitted people as each prefers, packages reach the recipients, e-mails
arrive at a real SMTP server on loopback, webhook calls at a real HTTP receiver, signed, retried
and given up; the outbox survives a worker that dies; a missing expected file is noticed once."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aedx.accounts import organisations as orgs
from aedx.accounts import users
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.errors import Denied, Invalid
from aedx.exchange import expected
from aedx.notify import events, mail, outbox, webhooks
from aedx.notify.events import Channel, Event
from aedx.storage.tables import (
    MissingFile,
    Notification,
    Organisation,
    OutboxAttempt,
    OutboxMessage,
    Submission,
    User,
    utcnow,
)
from aedx.trust.caller import Caller
from tests.builders import records
from tests.exchange.hub import Hub
from tests.notify.loopback import smtp_server, webhook_receiver

NAME = "王小明"  # the obligor's name in the test records, and the people's names
OBLIGOR_ID = "A123456789"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def person(hub: Hub, org: str, username: str, role: str) -> int:
    with hub.platform.db.transaction() as s:
        users.create(s, orgs.operator(s, "test"), org, username, "陳美玲", f"{username}@example.gov.tw", role)
        return int(s.scalar(select(User.id).where(User.username == username)) or 0)


def org_id(hub: Hub, code: str) -> int:
    with hub.platform.db.transaction() as s:
        return int(s.scalar(select(Organisation.id).where(Organisation.code == code)) or 0)


def notices(hub: Hub, user_id: int) -> list[tuple[str, str, dict[str, object]]]:
    with hub.platform.db.transaction() as s:
        rows = events.listing(s, user_id, limit=100)
        return [(n.event, n.link, json.loads(n.params)) for n in rows]


def admin_of(hub: Hub, code: str) -> Caller:
    perms = frozenset(p.value for p in ROLE_PERMISSIONS[Role.AGENCY_ADMIN])
    return Caller(org_id(hub, code), code, "agency", "user:test", perms)


def test_files_decided_reach_the_senders_permitted_people_as_each_prefers(hub: Hub) -> None:
    officer = person(hub, "A383000000", "chen.officer", "agency_officer")
    admin = person(hub, "A383000000", "lin.admin", "agency_admin")
    other = person(hub, "A397000000", "wu.other", "agency_officer")
    hq = person(hub, "aea", "huang.hq", "statistician")  # no submissions.read
    with hub.platform.db.transaction() as s:  # the admin wants no e-mail of rejections
        events.set_preferences(
            s, admin, {(Event.REJECTED, Channel.IN_APP), (Event.REPORT_READY, Channel.IN_APP)}
        )

    bad = hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
    assert bad["state"] == "rejected"
    link = f"/portal/submissions/{bad['id']}"
    for user_id in (officer, admin):
        (notice,) = notices(hub, user_id)
        assert notice[0] == "rejected" and notice[1] == link
        assert notice[2]["kind"] == "case_referral" and notice[2]["error_rows"] == 1
    assert notices(hub, other) == [] and notices(hub, hq) == []

    with smtp_server() as (port, box):
        smtp = mail.Smtp("127.0.0.1", port, sender="aedx@example.gov.tw")
        assert outbox.work(hub.platform, "worker:test", smtp) == 1  # the officer's, not the admin's
        ((to, message),) = box.received
    assert to == ["chen.officer@example.gov.tw"]
    subject = str(message["Subject"])
    assert "上傳檔案已退件" in subject and "Submission rejected" in subject
    text = message.get_content()
    assert "未通過檢核，已退件" in text and "was rejected" in text
    assert text.index("未通過檢核") < text.index("was rejected")  # Chinese first, English below
    assert link in text and bad["id"] in text
    assert NAME not in text and OBLIGOR_ID not in text and "陳美玲" not in text  # nobody's data

    good = hub.send("A383000000", "case_referral", records("case_referral"))
    assert good["state"] == "delivered"
    assert [n[0] for n in notices(hub, officer)] == ["report_ready", "rejected"]  # newest first
    with hub.platform.db.transaction() as s:  # e-mail of reports is off by default: nothing more to send
        pending = s.scalar(select(func.count()).where(OutboxMessage.state == "pending"))
        assert pending == 0
    # the package waits for the branch whose territory holds the case: its people hear of it
    officer_sly = person(hub, "sly", "tsai.branch", "branch_officer")
    again = hub.send("A383000000", "case_referral", records("case_referral", {"agency_case_no": "X1"}))
    ((event, where, params),) = notices(hub, officer_sly)
    assert (event, where, params["submission_id"], params["records"]) == (
        "package_ready",
        "/portal/inbox",
        again["id"],
        1,
    )


def test_webhook_calls_are_signed_retried_and_given_up(hub: Hub) -> None:
    agency = org_id(hub, "A383000000")
    with webhook_receiver(fail_first=2) as receiver:
        with hub.platform.db.transaction() as s:
            added = webhooks.add(s, admin_of(hub, "A383000000"), hub.platform.keyring, agency, receiver.url)
            assert added.secret.startswith("whsec_") and added.secret not in added.webhook.secret_sealed
        hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
        start = utcnow()
        assert outbox.work(hub.platform, "w", None, now=start) == 1  # 503: to be tried again later
        assert outbox.work(hub.platform, "w", None, now=start) == 0  # not due yet
        later = start + outbox.backoff(1)
        assert outbox.work(hub.platform, "w", None, now=later) == 1  # 503 again
        assert outbox.work(hub.platform, "w", None, now=later + outbox.backoff(2)) == 1  # 204
        assert len(receiver.calls) == 3
        call = receiver.calls[-1]
        secret = added.secret.encode()
        h = call.headers
        assert (
            h["x-aedx-event"] == "rejected"
            and h["x-aedx-delivery"] == receiver.calls[0].headers["x-aedx-delivery"]
        )
        assert webhooks.verify(
            secret, h["x-aedx-timestamp"], h["x-aedx-delivery"], call.body, h["x-aedx-signature"], time.time()
        )
        assert not webhooks.verify(
            b"another secret",
            h["x-aedx-timestamp"],
            h["x-aedx-delivery"],
            call.body,
            h["x-aedx-signature"],
            time.time(),
        )
        assert not webhooks.verify(
            secret,
            h["x-aedx-timestamp"],
            h["x-aedx-delivery"],
            call.body + b" ",
            h["x-aedx-signature"],
            time.time(),
        )
        assert not webhooks.verify(
            secret,
            h["x-aedx-timestamp"],
            h["x-aedx-delivery"],
            call.body,
            h["x-aedx-signature"],
            time.time() + 3600,
        )  # a replay
        body = json.loads(call.body)
        assert body["event"] == "rejected" and body["data"]["kind"] == "case_referral"
        assert NAME.encode() not in call.body and OBLIGOR_ID.encode() not in call.body

    # a receiver that is gone: tried MAX_ATTEMPTS times, then given up and recorded
    with webhook_receiver(fail_first=1000) as receiver:
        with hub.platform.db.transaction() as s:
            hook = webhooks.add(s, admin_of(hub, "A383000000"), hub.platform.keyring, agency, receiver.url)
        hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "B123456780"}))
        at = utcnow()
        for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
            outbox.work(hub.platform, "w", None, now=at)
            at += outbox.backoff(attempt)
        assert outbox.work(hub.platform, "w", None, now=at + dt.timedelta(days=1)) == 0
        assert len(receiver.calls) == outbox.MAX_ATTEMPTS
    with hub.platform.db.transaction() as s:
        failed = s.scalars(select(OutboxMessage).where(OutboxMessage.webhook_id == hook.webhook.id)).one()
        assert (failed.state, failed.attempts, failed.last_error) == (
            "failed",
            outbox.MAX_ATTEMPTS,
            "HTTP 503",
        )
        gone = s.scalars(select(OutboxMessage).where(OutboxMessage.webhook_id == added.webhook.id)).all()
        assert [m.state for m in gone] == ["sent", "failed"]  # the first receiver, closed since
        assert gone[1].last_error is not None and "ConnectError" in gone[1].last_error
        tries = webhooks.recent_attempts(s, agency)
        assert len(tries) == 3 + 6 + 6 and {t.status for t in tries} == {503, 204, None}


def test_webhooks_take_http_urls_from_those_who_may_manage_them(hub: Hub) -> None:
    agency = org_id(hub, "A383000000")
    with hub.platform.db.transaction() as s:
        for url in (
            "ftp://example.gov.tw/x",
            "file:///etc/passwd",
            "https://user:pw@example.gov.tw/",
            "example.gov.tw",
        ):
            with pytest.raises(Invalid):
                webhooks.add(s, admin_of(hub, "A383000000"), hub.platform.keyring, agency, url)
    with pytest.raises(Denied), hub.platform.db.transaction() as s:  # another agency's administrator
        webhooks.add(s, admin_of(hub, "A397000000"), hub.platform.keyring, agency, "https://example.gov.tw/")
    officer = Caller(
        agency,
        "A383000000",
        "agency",
        "user:x",
        frozenset(p.value for p in ROLE_PERMISSIONS[Role.AGENCY_OFFICER]),
    )
    with pytest.raises(Denied), hub.platform.db.transaction() as s:
        webhooks.add(s, officer, hub.platform.keyring, agency, "https://example.gov.tw/")
    with hub.platform.db.transaction() as s:
        hq = orgs.operator(s, "test")
        added = webhooks.add(s, hq, hub.platform.keyring, agency, "https://hooks.example.gov.tw/aedx")
        assert webhooks.secret_of(hub.platform.keyring, added.webhook) == added.secret.encode()
        webhooks.disable(s, hq, added.webhook.id)
        assert webhooks.listing(s, agency) == []


def test_a_worker_that_dies_while_sending_leaves_the_message_to_the_next(hub: Hub) -> None:
    person(hub, "A383000000", "chen.officer", "agency_officer")
    hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
    now = utcnow()
    leased = outbox.claim(hub.platform, "worker:dead", now)
    assert leased is not None  # ... and the worker dies here, before sending
    assert outbox.claim(hub.platform, "worker:other", now + dt.timedelta(seconds=30)) is None  # leased
    with smtp_server() as (port, box):
        smtp = mail.Smtp("127.0.0.1", port)
        assert (
            outbox.work(hub.platform, "worker:other", smtp, now=now + outbox.LEASE + dt.timedelta(seconds=1))
            == 1
        )
        assert len(box.received) == 1
    with hub.platform.db.transaction() as s:
        message = s.get_one(OutboxMessage, leased)
        assert (message.state, message.attempts, message.leased_until) == ("sent", 1, None)


def test_without_an_smtp_host_e_mail_is_skipped_and_recorded(hub: Hub) -> None:
    person(hub, "A383000000", "chen.officer", "agency_officer")
    hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
    assert outbox.work(hub.platform, "w", None) == 1
    with hub.platform.db.transaction() as s:
        message = s.scalars(select(OutboxMessage)).one()
        assert (message.state, message.last_error) == ("skipped", "no SMTP host configured")
        assert s.scalar(select(func.count()).select_from(OutboxAttempt)) == 1


def test_a_missing_expected_file_is_noticed_once(hub: Hub) -> None:
    officer = person(hub, "A383000000", "chen.officer", "agency_officer")
    nhi = person(hub, "A397000000", "wu.nhi", "agency_officer")
    with hub.platform.db.transaction() as s:
        hq = orgs.operator(s, "test")
        expected.expect(s, hq, "A383000000", "payment")  # by 10:00
        expected.expect(s, hq, "A397000000", "payment", dt.time(9, 0))
    admin = admin_of(hub, "A383000000")
    with pytest.raises(Denied), hub.platform.db.transaction() as s:
        expected.expect(s, admin, "A383000000", "case_referral")
    tpe = dt.timezone(dt.timedelta(hours=8))
    monday = dt.datetime(2026, 11, 23, 9, 30, tzinfo=tpe)
    nhi_org = org_id(hub, "A397000000")
    with hub.platform.db.transaction() as s:
        s.add(
            Submission(
                id="s-nhi-payment",
                sender_id=nhi_org,
                kind="payment",
                format="csv",
                encoding="utf-8",
                sha256="0" * 64,
                size=1,
                blob_key="x",
                state="delivered",
                received_at=monday - dt.timedelta(hours=1),
                updated_at=monday,
            )
        )
    with hub.platform.db.transaction() as s:
        assert expected.missing(s, monday) == []  # 09:30: the tax office has until 10:00
        late = monday.replace(hour=10, minute=5)
        assert [(m.organisation, m.kind) for m in expected.missing(s, late)] == [("A383000000", "payment")]
        assert [m.organisation for m in expected.check(s, late)] == ["A383000000"]
    with hub.platform.db.transaction() as s:
        assert expected.check(s, late + dt.timedelta(hours=2)) == []  # once a day
        assert expected.missing(s, dt.datetime(2026, 11, 28, 12, 0, tzinfo=tpe)) == []  # a Saturday
        assert expected.missing(s, dt.datetime(2026, 10, 9, 12, 0, tzinfo=tpe)) == []  # a Friday off (補假)
        assert expected.missing(s, dt.datetime(2026, 2, 17, 12, 0, tzinfo=tpe)) == []  # 春節
        makeup = expected.missing(s, dt.datetime(2025, 2, 8, 12, 0, tzinfo=tpe))  # a make-up Saturday
        assert "A383000000" in {m.organisation for m in makeup}
        assert s.scalar(select(func.count()).select_from(MissingFile)) == 1
    ((event, link, params),) = notices(hub, officer)
    assert (event, link, params) == (
        "file_missing",
        "/portal/",
        {"kind": "payment", "day": "2026-11-23", "due": "10:00"},
    )
    assert notices(hub, nhi) == []
    with hub.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).where(OutboxMessage.channel == "email")) == 1  # on by default
        assert s.scalar(select(func.count()).select_from(Notification)) == 1


def test_two_workers_never_lease_the_same_message(hub: Hub) -> None:
    for name in ("chen.mei", "lin.yu", "wu.hao"):
        person(hub, "A383000000", name, "agency_officer")
    hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
    now = utcnow()
    leased = [outbox.claim(hub.platform, f"worker:{n}", now) for n in range(4)]
    assert None not in leased[:3] and len(set(leased[:3])) == 3 and leased[3] is None


def test_a_running_worker_sends_the_outbox_and_notices_missing_files(hub: Hub) -> None:
    person(hub, "A383000000", "chen.officer", "agency_officer")
    hub.send("A383000000", "case_referral", records("case_referral", {"obligor_id": "A123456780"}))
    with smtp_server() as (port, box):
        hub.worker.notifier.smtp = mail.Smtp("127.0.0.1", port)
        hub.worker.notifier.tick()
        hub.worker.notifier.tick()  # too soon: nothing more
        assert [to for to, _ in box.received] == [["chen.officer@example.gov.tw"]]


def test_the_operator_declares_and_checks_expected_files_at_the_console(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from aedx.cli import app

    env = {"AEDX_DATABASE_URL": database_url, "AEDX_DATA_DIR": str(hub.platform.settings.data_dir)}
    runner = CliRunner()
    done = runner.invoke(app, ["notify", "expect", "A383000000", "payment", "--by", "00:00"], env=env)
    assert done.exit_code == 0, done.output
    wrong = runner.invoke(app, ["notify", "expect", "A383000000", "no_such_kind"], env=env)
    assert wrong.exit_code == 1
    checked = runner.invoke(app, ["notify", "check-expected"], env=env)
    assert checked.exit_code == 0, checked.output
    weekday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).weekday() < 5
    assert ("A383000000\tpayment" in checked.output) is weekday
    again = runner.invoke(app, ["notify", "check-expected"], env=env)
    assert "A383000000\tpayment" not in again.output  # once a day
    sent = runner.invoke(app, ["notify", "send"], env=env)
    assert sent.exit_code == 0, sent.output


@pytest.mark.parametrize(
    ("event", "counted", "one", "two"),
    [
        ("report_ready", "records", "validated: 1 record,", "validated: 2 records,"),
        ("rejected", "error_rows", "rejected: 1 row with errors", "rejected: 2 rows with errors"),
        ("package_ready", "records", "package (1 record) waits", "package (2 records) waits"),
    ],
)
def test_an_e_mail_counts_one_and_two_in_english(event: str, counted: str, one: str, two: str) -> None:
    def body(n: int) -> str:
        params = {"kind": "payment", "submission_id": "s1", "records": 5, counted: n}
        message = mail.compose(
            "aedx@example.gov.tw", "a@example.gov.tw", event, "/portal", params, "https://x"
        )
        return str(message.get_content())

    assert one in body(1) and two in body(2)

"""Notices that stay true, on both databases through the real exchange: one submission gives its
sender one decision notice, even when a concurrent file turns its acceptance into a rejection,
and a decision that changes later withdraws the earlier notice; a package's notice is settled when
the organisation's API client downloads and acknowledges it, and its e-mail not yet sent goes no
further."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from aedx.exchange import failures, process
from aedx.exchange.states import State, transition
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.notify import events
from aedx.notify.events import Channel, Event
from aedx.storage.tables import Notification, Organisation, OutboxMessage, Submission
from aedx.web.notices import describe, settled
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import referrals
from tests.notify.test_notify import person

AGENCY = "A383000000"
ACTOR = "worker:test"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def uploaded(hub: Hub, frame: pl.DataFrame) -> str:
    sent = hub.upload(
        AGENCY, "case_referral", encode_records(frame, get_kind("case_referral"), "csv", "utf-8")
    )
    assert sent.status_code == 202, sent.text
    return str(sent.json()["id"])


def accept(hub: Hub, submission_id: str) -> process.Evaluation:
    """A worker's first steps on the file: validated and accepted, not routed yet."""
    platform = hub.platform
    with platform.db.transaction() as s:
        transition(
            s, submission_id, State.VALIDATING, actor=ACTOR, validated_on=platform.settings.current_day()
        )
    with platform.db.transaction() as s:
        sub = s.get_one(Submission, submission_id)
        sender = s.get_one(Organisation, sub.sender_id)
    evaluation = process.evaluate(platform, sub, get_kind(sub.kind), sender, recheck=False)
    process._decide(platform, sub, sender, evaluation, ACTOR)
    return evaluation


def of_subject(hub: Hub, subject: str) -> list[Notification]:
    with hub.platform.db.transaction() as s:
        rows = s.scalars(
            select(Notification).where(Notification.subject == subject).order_by(Notification.id)
        )
        return list(rows)


def mails(hub: Hub, subject: str) -> list[tuple[str, str]]:
    with hub.platform.db.transaction() as s:
        return [
            (m.event, m.state)
            for m in s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.subject == subject, OutboxMessage.channel == "email")
                .order_by(OutboxMessage.id)
            )
        ]


def test_an_acceptance_a_concurrent_file_turns_into_a_rejection_gives_one_notice(hub: Hub) -> None:
    officer = person(hub, AGENCY, "chen.officer", "agency_officer")
    with hub.platform.db.transaction() as s:  # every decision by e-mail too
        events.set_preferences(
            s,
            officer,
            {(e, c) for e in (Event.REPORT_READY, Event.REJECTED) for c in Channel if c != "digest"},
        )
    late = uploaded(hub, referrals("sly"))
    accept(hub, late)  # accepted while the case is not indexed yet ...
    first = uploaded(hub, referrals("sly", "tpy"))  # the same case, in another file
    assert process.run(hub.platform, first, ACTOR) is State.DELIVERED  # ... then another file opens it
    hub.worker.drain()
    with hub.platform.db.transaction() as s:
        assert s.get_one(Submission, late).state == "rejected"

    subject = events.submission_subject(late)
    assert [(n.event, n.withdrawn_at) for n in of_subject(hub, subject)] == [("rejected", None)]
    assert mails(hub, subject) == [("rejected", "pending")]
    with hub.platform.db.transaction() as s:
        listed = [json.loads(n.params)["submission_id"] for n in events.listing(s, officer)]
    assert listed == [late, first]  # the first file's acceptance, then the rejection: one each
    assert [n.event for n in of_subject(hub, events.submission_subject(first))] == ["report_ready"]


def test_a_routed_file_the_platform_gives_up_on_withdraws_its_acceptance(hub: Hub) -> None:
    officer = person(hub, AGENCY, "chen.officer", "agency_officer")
    with hub.platform.db.transaction() as s:
        events.set_preferences(s, officer, {(Event.REPORT_READY, Channel.IN_APP), (Event.REPORT_READY, Channel.EMAIL),
                                            (Event.FAILED, Channel.IN_APP)})  # fmt: skip
    sid = uploaded(hub, referrals("sly"))
    evaluation = accept(hub, sid)
    with hub.platform.db.transaction() as s:
        sub = s.get_one(Submission, sid)
    assert process._route(hub.platform, sub, get_kind(sub.kind), evaluation.records, ACTOR)  # routed
    subject = events.submission_subject(sid)
    ((announced,),) = [of_subject(hub, subject)]
    assert announced.event == "report_ready" and mails(hub, subject) == [("report_ready", "pending")]
    with hub.platform.db.transaction() as s:
        assert events.unread(s, officer) == 1

    assert failures.give_up(hub.platform, sid, ACTOR, attempts=5, reason="RuntimeError: x") is State.FAILED
    shown = of_subject(hub, subject)
    assert [(n.event, n.withdrawn_at is not None) for n in shown] == [
        ("report_ready", True),
        ("failed", False),
    ]
    assert mails(hub, subject) == [("report_ready", "withdrawn")]  # failed: e-mail off for this person
    with hub.platform.db.transaction() as s:
        assert [n.event for n in events.listing(s, officer)] == ["failed"]
        assert events.unread(s, officer) == 1


def test_a_package_taken_by_the_api_client_is_no_longer_waiting(hub: Hub) -> None:
    branch = person(hub, "sly", "tsai.branch", "branch_officer")
    with hub.platform.db.transaction() as s:  # the package by e-mail too
        events.set_preferences(
            s, branch, {(Event.PACKAGE_READY, Channel.IN_APP), (Event.PACKAGE_READY, Channel.EMAIL)}
        )
    hub.send(AGENCY, "case_referral", referrals("sly"))
    (waiting,) = hub.inbox("sly")
    subject = events.delivery_subject(waiting["id"])
    (notice,) = of_subject(hub, subject)
    assert notice.settled_at is None and "待下載" in describe(notice, "zh_TW")
    assert mails(hub, subject) == [("package_ready", "pending")]

    hub.download("sly", waiting)
    (notice,) = of_subject(hub, subject)
    assert (notice.settled_as, notice.settled_by) == ("downloaded", "api")
    text = describe(notice, "zh_TW")
    assert "待下載" not in text and "已送達貴機關收件匣" in text
    taken = settled(notice, "zh_TW")
    assert taken is not None and taken.startswith("已下載（") and taken.endswith("，由 API 用戶端）")
    assert mails(hub, subject) == [("package_ready", "withdrawn")]  # not sent after the download
    with hub.platform.db.transaction() as s:
        assert events.unread(s, branch) == 0 and [n.id for n in events.listing(s, branch)] == [notice.id]

    acked = hub.post("sly", f"/api/v1/deliveries/{waiting['id']}/ack")
    assert acked.status_code == 200, acked.text
    (notice,) = of_subject(hub, subject)
    assert notice.settled_as == "acknowledged"
    assert str(settled(notice, "en")).startswith("Acknowledged (") and "by the API client" in str(
        settled(notice, "en")
    )

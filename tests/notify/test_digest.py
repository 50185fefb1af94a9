"""The daily digest on both databases, through the real exchange and a real SMTP server on
loopback: a person who chose it gets one e-mail at the hour (Taipei) with the day's notices,
counted per event, each file named and linked; never twice a day, not even from two workers at
once; nothing on an empty day; and a person who chose "each time" gets their e-mails as before."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.notify import digest, events, mail, outbox
from aedx.notify.events import Channel, Event
from aedx.settings import TAIPEI
from aedx.storage.tables import NotificationDigest, OutboxMessage, Submission, utcnow
from tests.builders import records
from tests.exchange.hub import Hub
from tests.notify.loopback import smtp_server
from tests.notify.test_notify import person

AGENCY = "A383000000"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def next_hour(hub: Hub, after: dt.datetime) -> dt.datetime:
    """The first digest hour after ``after``."""
    hour = hub.platform.settings.digest_hour
    day = after.astimezone(TAIPEI).date()
    at = digest.cutoff(day, hour)
    return at if at > after else digest.cutoff(day + dt.timedelta(days=1), hour)


def digests(hub: Hub) -> list[tuple[int, dt.date, int]]:
    with hub.platform.db.transaction() as s:
        rows = s.scalars(
            select(NotificationDigest).order_by(NotificationDigest.day, NotificationDigest.user_id)
        )
        return [(d.user_id, d.day, d.entries) for d in rows]


def rejected_file(hub: Hub, obligor: str, name: str) -> str:
    """A file with an error, sent under the name the agency gave it; the worker rejects it."""
    body = encode_records(
        records("case_referral", {"obligor_id": obligor}), get_kind("case_referral"), "csv", "utf-8"
    )
    params = {"kind": "case_referral", "format": "csv", "encoding": "utf-8", "filename": name}
    sent = hub.client.post(
        "/api/v1/submissions", params=params, headers=hub.auth(AGENCY), content=hub.seal(AGENCY, body)
    )
    assert sent.status_code == 202, sent.text
    hub.worker.drain()
    with hub.platform.db.transaction() as s:
        assert s.get_one(Submission, sent.json()["id"]).state == "rejected"
    return str(sent.json()["id"])


def test_the_daily_digest_goes_once_at_the_hour_with_the_days_notices(hub: Hub) -> None:
    summed = person(hub, AGENCY, "chen.digest", "agency_officer")
    each = person(hub, AGENCY, "lin.each", "agency_officer")  # e-mail each time: the default for rejections
    quiet = person(hub, "A397000000", "wu.quiet", "agency_officer")  # chose the digest, hears of nothing
    with hub.platform.db.transaction() as s:
        events.set_preferences(s, each, {(Event.REJECTED, Channel.IN_APP), (Event.REJECTED, Channel.EMAIL)})
    for who in (summed, quiet):
        with hub.platform.db.transaction() as s:
            events.set_preferences(
                s, who, {(e, Channel.IN_APP) for e in Event} | {(e, Channel.DIGEST) for e in Event}
            )
    first = rejected_file(hub, "A123456780", "北區-1205.csv")
    second = rejected_file(hub, "A123456781", "南區-1205.csv")
    with hub.platform.db.transaction() as s:
        held = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "digest")).all()
        assert {(m.user_id, m.state) for m in held} == {(summed, "held")} and len(held) == 2
    at = next_hour(hub, utcnow())

    assert digest.make_due(hub.platform, at - dt.timedelta(minutes=1)) == 0  # not before the hour
    assert digest.make_due(hub.platform, at + dt.timedelta(minutes=1)) == 1
    assert digest.make_due(hub.platform, at + dt.timedelta(hours=3)) == 0  # once a day
    day = at.astimezone(TAIPEI).date()
    assert digests(hub) == [(summed, day, 2)]  # nobody else: an empty day sends nothing

    with smtp_server() as (port, box):
        smtp = mail.Smtp("127.0.0.1", port, sender="aedx@example.gov.tw")
        outbox.work(hub.platform, "worker:test", smtp, now=at + dt.timedelta(minutes=2))
        received = box.received
    to_summed = [m for to, m in received if to == ["chen.digest@example.gov.tw"]]
    to_each = [m for to, m in received if to == ["lin.each@example.gov.tw"]]
    assert len(received) == 3 and len(to_each) == 2 and len(to_summed) == 1
    assert all("上傳檔案已退件" in str(m["Subject"]) for m in to_each)  # as before, one each time
    (summary,) = to_summed
    roc = f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"
    assert (
        str(summary["Subject"])
        == f"[行政執行資料交換平台] 每日通知彙整 {roc} / Daily digest of notifications"
    )
    text = summary.get_content()
    assert f"以下為截至 {roc} {hub.platform.settings.digest_hour:02d}:00 之通知彙整，共 2 則" in text
    assert "・上傳檔案已退件：2 則" in text and "- Submission rejected: 2" in text
    assert f"/portal/submissions/{first}" in text and f"/portal/submissions/{second}" in text
    assert "1. 檔案「北區-1205.csv」：" in text and "2. 檔案「南區-1205.csv」：" in text
    assert "王小明" not in text and "陳美玲" not in text  # nobody's data

    # the next day: one digest, even with two workers at it at once
    third = rejected_file(hub, "A123456782", "北區-1206.csv")
    tomorrow = at + dt.timedelta(days=1, minutes=1)
    made: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        made.append(digest.make_due(hub.platform, tomorrow))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made) == [0, 1]
    assert digests(hub) == [(summed, day, 2), (summed, day + dt.timedelta(days=1), 1)]
    with hub.platform.db.transaction() as s:
        (body,) = s.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.event == "digest")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).all()
        assert third in body and first not in body
        assert s.scalar(select(func.count()).where(OutboxMessage.state == "held")) == 0


def test_a_digest_lists_a_package_taken_since_as_taken(hub: Hub) -> None:
    branch = person(hub, "sly", "tsai.branch", "branch_officer")
    with hub.platform.db.transaction() as s:
        events.set_preferences(s, branch, {(Event.PACKAGE_READY, Channel.DIGEST)})
    hub.send(AGENCY, "case_referral", records("case_referral"))
    (package,) = hub.inbox("sly")
    hub.download("sly", package)
    at = next_hour(hub, utcnow()) + dt.timedelta(minutes=1)
    assert digest.make_due(hub.platform, at) == 1
    with smtp_server() as (port, box):
        outbox.work(hub.platform, "worker:test", mail.Smtp("127.0.0.1", port), now=at)
        ((_, message),) = box.received
    text = message.get_content()
    assert "・回饋檔已可下載：1 則" in text and "目前狀態：已下載（" in text and "，由 API 用戶端）" in text

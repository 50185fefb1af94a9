"""The exchange monitor on both databases: the figures of a known set of submissions and their
transitions (days in Taipei, rejection rates, nearest-rank medians and 95th percentiles), the
missing expected files, and the page for those who hold ``exchange.monitor`` only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import Browser
from sqlalchemy import func, select

from aedx.accounts import organisations as orgs
from aedx.exchange import expected, monitor
from aedx.storage.tables import AuditEvent, MissingFile
from aedx.web.i18n import translations
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph
from tests.web.conftest import Portal, csrf_of, ready
from tests.web.notify_support import org_id

zh = translations("zh_TW").gettext

TPE = dt.timezone(dt.timedelta(hours=8))
FIRST, LAST = dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def known_exchange(portal: Portal) -> None:
    """Four submissions in the period, one before it; seconds to decision and to delivery."""
    made = [  # org, n, state, received (Taipei), seconds to the decision, to delivery
        ("A383000000", 1, "delivered", dt.datetime(2026, 11, 20, 9, 30, tzinfo=TPE), 60, 180),
        ("A383000000", 2, "rejected", dt.datetime(2026, 11, 20, 1, 0, tzinfo=TPE), 120, None),  # 11-19 in UTC
        ("A383000000", 3, "delivered", dt.datetime(2026, 11, 19, 23, 0, tzinfo=TPE), 30, 100),
        ("A397000000", 4, "delivered", dt.datetime(2026, 11, 20, 10, 0, tzinfo=TPE), 300, 400),
        (
            "A397000000",
            5,
            "delivered",
            dt.datetime(2026, 11, 1, 10, 0, tzinfo=TPE),
            1,
            2,
        ),  # before the period
    ]
    for org, n, state, received, decided, delivered in made:
        sid = portal.submission(org, n, state=state, at=received.astimezone(dt.UTC))
        with portal.platform.db.transaction() as s:
            action = "submission.rejected" if state == "rejected" else "submission.accepted"
            steps = [(action, decided)] + ([("submission.delivered", delivered)] if delivered else [])
            for step, seconds in steps:
                s.add(AuditEvent(actor="worker:test", action=step, submission_id=sid, kind="case_referral",
                                 outcome="ok", at=received + dt.timedelta(seconds=seconds)))  # fmt: skip
    a383 = org_id(portal, "A383000000")
    with portal.platform.db.transaction() as s:
        s.add(MissingFile(organisation_id=a383, kind="payment", day=LAST, noticed_at=dt.datetime.now(dt.UTC)))


def test_the_figures_of_a_known_exchange(portal: Portal) -> None:
    known_exchange(portal)
    with portal.platform.db.transaction() as s:
        f = monitor.figures(s, FIRST, LAST)
    assert [(v.day, v.organisation, v.submissions, v.records, v.rejected) for v in f.volumes] == [
        (LAST, "A383000000", 2, 20, 1),
        (LAST, "A397000000", 1, 10, 0),
        (FIRST, "A383000000", 1, 10, 0),
    ]
    assert [(r.organisation, r.submissions, r.rejected) for r in f.rates] == [
        ("A383000000", 3, 1),
        ("A397000000", 1, 0),
    ]
    assert [(t.stage, t.count, t.median, t.p95) for t in f.timings] == [
        ("validation", 4, 60.0, 300.0),  # 30, 60, 120, 300
        ("delivery", 3, 100.0, 120.0),  # 70, 100, 120
        ("total", 3, 180.0, 400.0),  # 100, 180, 400
    ]
    assert f.missing == [("A383000000", "payment", LAST)]


def test_the_monitor_page_for_hq_and_no_one_else(portal: Portal) -> None:
    known_exchange(portal)
    browser = portal.browser()
    ready(portal, browser, "aea", "huang.stat", "statistician")
    page = browser.get("/portal/monitor?from=2026-11-19&to=2026-11-20")
    assert page.status_code == 200
    text = page.text
    assert "交換監控" in text and '<a href="/portal/monitor" aria-current="page">' in text
    assert "33.3%" in text and "0.0%" in text  # A383: 1 of 3 rejected
    assert "0:01:00" in text and "0:05:00" in text and "0:06:40" in text  # medians and 95th percentiles
    assert '<time datetime="2026-11-20" title="2026-11-20">115/11/20</time>' in text
    assert text.count("<caption>") == 4 and 'scope="col"' in text and 'scope="row"' in text
    assert "A397000000" in text and "移送案件" in text
    wrong = browser.get("/portal/monitor?from=2026-11-20&to=2026-11-01")
    assert (
        wrong.status_code == 200 and 'role="alert"' in wrong.text and "請選擇 1 至 366 日之期間" in wrong.text
    )
    default = browser.get("/portal/monitor")
    today = dt.datetime.now(TPE).date()
    first = today - dt.timedelta(days=13)
    assert f'value="{first.year - 1911}/{first.month:02d}/{first.day:02d}"' in default.text  # ROC
    not_a_day = browser.get("/portal/monitor?from=notaday")
    assert not_a_day.status_code == 200 and "日期請寫成民國年/月/日" in not_a_day.text
    roc_period = browser.get("/portal/monitor?from=115/11/19&to=1151120")
    assert 'value="115/11/19"' in roc_period.text and "33.3%" in roc_period.text
    english = browser.get("/portal/monitor?from=2026-11-19&to=2026-11-20", headers={"accept-language": "en"})
    assert "Exchange monitor" in english.text and "Rejection rates" in english.text

    officer = portal.browser()
    ready(portal, officer, "A383000000", "chen.mei", "agency_officer")
    refused = officer.get("/portal/monitor")
    assert refused.status_code == 403 and "33.3%" not in refused.text
    assert "/portal/monitor" not in officer.get("/portal/notifications").text
    assert csrf_of(officer.get("/portal/notifications"))
    with portal.platform.db.transaction() as s:
        denied = s.scalar(
            select(func.count()).where(AuditEvent.action == "monitor.read", AuditEvent.outcome == "denied")
        )
    assert denied == 1


def test_the_monitor_in_chromium(portal: Portal, chromium: Browser, tmp_path: Path) -> None:
    known_exchange(portal)
    with portal.platform.db.transaction() as s:
        expected.expect(s, orgs.operator(s, "test"), "A383000000", "payment")
    initial = portal.person("aea", "huang.stat", "statistician")
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        first_sign_in(page, url, "huang.stat", initial)
        page.wait_for_load_state()
        page.goto(f"{url}/portal/monitor")
        page.get_by_role("heading", name=zh("Exchange monitor"), exact=True).wait_for()
        page.get_by_label(zh("First day")).fill("2026-11-19")
        page.get_by_label(zh("Last day")).fill("2026-11-20")
        with page.expect_navigation():
            page.get_by_role("button", name=zh("Show the period")).click()
        assert page.get_by_role("cell", name="33.3%").count() == 1
        assert page.locator("caption").count() == 5
        photograph(page, "monitor", tmp_path)
        context.close()


def test_hq_declares_and_withdraws_expected_files(portal: Portal) -> None:
    admin = portal.browser()
    ready(portal, admin, "aea", "lin.hq", "hq_admin")
    page = admin.get("/portal/monitor")
    assert "尚未設定應送檔案。" in page.text and 'id="expect-organisation"' in page.text
    form = {"organisation": "A383000000", "kind": "payment", "due": "09:30", "csrf_token": csrf_of(page)}
    assert admin.post("/portal/monitor/expected", data=form | {"csrf_token": "0" * 64}).status_code == 403
    declared = admin.post("/portal/monitor/expected", data=form)
    assert declared.status_code == 303
    page = admin.get("/portal/monitor")
    assert (
        '<td><abbr title="A383000000">財政部臺北國稅局</abbr></td><td>繳款資料</td><td>09:30</td>'
        in page.text
    )
    unknown = admin.post("/portal/monitor/expected", data=form | {"organisation": "X999"})
    assert unknown.status_code == 400 and 'role="alert"' in unknown.text and "無此機關" in unknown.text
    bad_time = admin.post("/portal/monitor/expected", data=form | {"due": "25:99"})
    assert bad_time.status_code == 400 and 'role="alert"' in bad_time.text
    withdrawn = admin.post("/portal/monitor/expected", data=form | {"withdraw": "true"})
    assert withdrawn.status_code == 303 and "尚未設定應送檔案。" in admin.get("/portal/monitor").text

    # a statistician sees the declarations but may not change them
    stat = portal.browser()
    ready(portal, stat, "aea", "huang.stat", "statistician")
    page = stat.get("/portal/monitor")
    assert page.status_code == 200 and 'id="expect-organisation"' not in page.text
    refused = stat.post("/portal/monitor/expected", data=form | {"csrf_token": csrf_of(page)})
    assert refused.status_code == 403
    with portal.platform.db.transaction() as s:
        denied = s.scalar(
            select(func.count()).where(AuditEvent.action == "expected.set", AuditEvent.outcome == "denied")
        )
    assert denied == 1

"""The notification centre, preferences and webhooks over HTTP on both databases: only one's own
notifications, newest first, page by page, unread marked and marked read with CSRF; preferences
kept and obeyed; webhooks for administrators only, their secret shown once."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import func, select

from aedx.notify import events
from aedx.notify.events import Event
from aedx.storage.tables import AuditEvent, Notification, OutboxMessage, Webhook
from aedx.web import notices
from aedx.web.i18n import translations
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph
from tests.web.conftest import Portal, csrf_of, ready
from tests.web.notify_support import org_id, rejected, user_id

zh = translations("zh_TW").gettext


def email_choices(html: str) -> dict[str, str]:
    """Each event's e-mail choice as the preference form shows it selected."""
    found = {}
    for event, options in re.findall(r'name="email\.([a-z_]+)">(.*?)</select>', html, re.S):
        (chosen,) = re.findall(r'value="([a-z]+)" selected', options)
        found[event] = chosen
    return found


def _denied(portal: Portal, action: str) -> int:
    with portal.platform.db.transaction() as s:
        return int(
            s.scalar(select(func.count()).where(AuditEvent.action == action, AuditEvent.outcome == "denied"))
            or 0
        )


def test_the_centre_lists_ones_own_notifications_newest_first_and_marks_them_read(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    other = portal.browser()
    ready(portal, other, "A397000000", "lin.yu", "agency_officer")
    for n in range(30):
        rejected(portal, "A383000000", f"sub{n:04d}", errors=n)
    rejected(portal, "A397000000", "theirs0001")

    first = browser.get("/portal/notifications")
    assert first.status_code == 200
    assert "未讀通知：30" in first.text and first.text.count('class="notice-item unread"') == 25
    assert first.text.index("/portal/submissions/sub0029") < first.text.index("/portal/submissions/sub0028")
    assert "/portal/submissions/sub0004" not in first.text and "theirs0001" not in first.text
    assert "貴機關上傳之移送案件檔案未通過檢核，已退件：錯誤 29 筆。" in first.text
    assert '<a href="/portal/notifications" aria-current="page">通知</a>' in first.text
    older = re.search(r'href="/portal/notifications\?before=(\d+)" rel="next"', first.text)
    assert older is not None
    second = browser.get(f"/portal/notifications?before={older.group(1)}")
    assert (
        second.text.count('class="notice-item unread"') == 5 and "/portal/submissions/sub0000" in second.text
    )

    me = user_id(portal, "chen.mei")
    with portal.platform.db.transaction() as s:
        newest = s.scalar(select(func.max(Notification.id)).where(Notification.user_id == me))
        theirs = s.scalar(select(Notification.id).where(Notification.user_id != me))
    assert browser.post("/portal/notifications/read", data={"notification": newest}).status_code == 403
    marked = browser.post(
        "/portal/notifications/read", data={"notification": newest, "csrf_token": csrf_of(first)}
    )
    assert marked.status_code == 303 and marked.headers["location"] == "/portal/notifications"
    # another person's notification is not theirs to mark
    browser.post("/portal/notifications/read", data={"notification": theirs, "csrf_token": csrf_of(first)})
    assert "未讀通知：29" in browser.get("/portal/notifications").text
    assert "未讀通知：1" in other.get("/portal/notifications").text
    browser.post("/portal/notifications/read", data={"csrf_token": csrf_of(first)})
    page = browser.get("/portal/notifications", headers={"accept-language": "en"})
    assert "Unread notifications：0" in page.text and 'class="notice-item unread"' not in page.text
    english = browser.get("/portal/language/en?next=/portal/notifications")
    assert english.status_code == 303
    page = browser.get("/portal/notifications")
    assert "file was rejected: 29 rows with errors." in page.text and '<html lang="en">' in page.text


def test_preferences_are_kept_and_obeyed(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    form = browser.get("/portal/notifications/preferences")
    assert form.status_code == 200
    checked = set(re.findall(r'value="([a-z_]+\.[a-z_]+)" checked', form.text))
    assert checked == {
        "report_ready.in_app",
        "rejected.in_app",
        "package_ready.in_app",
        "file_missing.in_app",
        "failed.in_app",
    }  # the defaults
    assert email_choices(form.text) == {
        "report_ready": "off",
        "rejected": "each",
        "package_ready": "off",
        "file_missing": "each",
        "failed": "each",
    }
    assert '<label for="email-rejected"' in form.text and "<caption>" in form.text
    assert (
        browser.post("/portal/notifications/preferences", data={"on": ["rejected.email"]}).status_code == 403
    )
    saved = browser.post(
        "/portal/notifications/preferences",
        data={"on": ["rejected.email", "report_ready.email"], "csrf_token": csrf_of(form)},
    )
    assert saved.status_code == 303
    again = browser.get(saved.headers["location"])
    assert "通知設定已儲存。" in again.text
    assert set(re.findall(r'value="([a-z_]+\.[a-z_]+)" checked', again.text)) == set()
    assert email_choices(again.text) == {
        "report_ready": "each",
        "rejected": "each",
        "package_ready": "off",
        "file_missing": "off",
        "failed": "off",
    }
    rejected(portal, "A383000000", "sub0001")
    assert "目前沒有通知。" in browser.get("/portal/notifications").text  # in-app turned off
    with portal.platform.db.transaction() as s:
        (message,) = s.scalars(select(OutboxMessage)).all()
        assert message.channel == "email" and json.loads(message.body)["event"] == "rejected"


def test_administrators_add_and_disable_webhooks_and_see_the_secret_once(portal: Portal) -> None:
    admin = portal.browser()
    ready(portal, admin, "A383000000", "lin.admin", "agency_admin")
    page = admin.get("/portal/webhooks")
    assert page.status_code == 200 and "尚未設定 Webhook。" in page.text
    bad = admin.post(
        "/portal/webhooks", data={"url": "ftp://hooks.example.gov.tw/", "csrf_token": csrf_of(page)}
    )
    assert (
        'role="alert"' in bad.text
        and "網址須為 http 或 https" in bad.text
        and 'aria-invalid="true"' in bad.text
    )
    added = admin.post(
        "/portal/webhooks", data={"url": "https://hooks.example.gov.tw/aedx", "csrf_token": csrf_of(page)}
    )
    assert added.status_code == 200
    secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', added.text)
    assert secret is not None and "https://hooks.example.gov.tw/aedx" in added.text
    shown_again = admin.get("/portal/webhooks")
    assert secret.group(1) not in shown_again.text and "https://hooks.example.gov.tw/aedx" in shown_again.text
    with portal.platform.db.transaction() as s:
        hook = s.scalars(select(Webhook)).one()
        assert secret.group(1) not in hook.secret_sealed
    assert (
        admin.post("/portal/webhooks", data={"url": "https://x.example/", "csrf_token": "0" * 64}).status_code
        == 403
    )

    # an officer may not; another agency's administrator may not reach this agency's
    officer = portal.browser()
    ready(portal, officer, "A383000000", "chen.mei", "agency_officer")
    assert officer.get("/portal/webhooks").status_code == 403
    assert "/portal/webhooks" not in officer.get("/portal/notifications").text  # not in the navigation
    stranger = portal.browser()
    ready(portal, stranger, "A397000000", "wu.admin", "agency_admin")
    assert stranger.get("/portal/webhooks?organisation=A383000000").status_code == 403
    refused = stranger.post(
        f"/portal/webhooks/{hook.id}/disable", data={"csrf_token": csrf_of(stranger.get("/portal/webhooks"))}
    )
    assert refused.status_code == 403
    assert _denied(portal, "webhook.list") == 2 and _denied(portal, "webhook.disable") == 1

    disabled = admin.post(f"/portal/webhooks/{hook.id}/disable", data={"csrf_token": csrf_of(page)})
    assert (
        disabled.status_code == 303
        and disabled.headers["location"] == "/portal/webhooks?organisation=A383000000"
    )
    assert "尚未設定 Webhook。" in admin.get("/portal/webhooks").text


def test_hq_administrators_manage_any_organisations_webhooks(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "aea", "lin.hq", "hq_admin")
    page = browser.get("/portal/webhooks?organisation=A397000000")
    assert page.status_code == 200 and "衛生福利部中央健康保險署" in page.text
    added = browser.post(
        "/portal/webhooks",
        data={
            "url": "https://nhi.example.gov.tw/hook",
            "organisation": "A397000000",
            "csrf_token": csrf_of(page),
        },
    )
    assert "whsec_" in added.text
    with portal.platform.db.transaction() as s:
        hook = s.scalars(select(Webhook)).one()
        assert hook.url == "https://nhi.example.gov.tw/hook"


def test_the_notification_centre_in_chromium(portal: Portal, chromium: Browser, tmp_path: Path) -> None:
    initial = portal.person("A383000000", "chen.mei", "agency_officer")
    agency = org_id(portal, "A383000000")
    rejected(portal, "A383000000", "01a2b3c4d5e6f708a9b0")
    with portal.platform.db.transaction() as s:
        for event, link, params in [
            (Event.PACKAGE_READY, "/portal/inbox", {"kind": "status_feedback", "records": 128}),
            (Event.FILE_MISSING, "/portal/", {"kind": "payment", "day": "2026-11-24", "due": "10:00"}),
            (Event.REPORT_READY, "/portal/submissions/01a2b3c4d5e6f708a9b1",
             {"kind": "case_referral", "records": 5230, "warning_rows": 12, "error_rows": 0}),
        ]:  # fmt: skip
            events.emit(s, events.Notice(event, agency, link, params))
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        first_sign_in(page, url, "chen.mei", initial)
        page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
        page.get_by_role("link", name=zh("Notifications")).click()
        page.get_by_role("heading", name=zh("Notifications")).wait_for()
        assert page.locator("li.notice-item.unread").count() == 4
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("^" + zh("Mark as read") + ":")).first.click()
        assert page.locator("li.notice-item.unread").count() == 3
        assert page.locator("time[title]").count() == 4
        photograph(page, "notifications", tmp_path)
        page.get_by_role("link", name=zh("Notification preferences")).click()
        page.get_by_label(f"{zh('Validation report ready')}：{zh('By e-mail')}").select_option("each")
        page.get_by_role("button", name=zh("Save preferences")).click()
        page.get_by_role("status").wait_for()
        assert (
            page.get_by_label(f"{zh('Validation report ready')}：{zh('By e-mail')}").input_value() == "each"
        )
        context.close()


@pytest.mark.parametrize(
    ("event", "params", "one", "two"),
    [
        (Event.REPORT_READY, {"records": 1, "warning_rows": 0}, "1 record, 0 with warnings", "2 records,"),
        (Event.REJECTED, {"records": 3, "error_rows": 1}, "1 row with errors", "2 rows with errors"),
        (Event.PACKAGE_READY, {"records": 1}, "of 1 record waits", "of 2 records waits"),
    ],
)
def test_english_notices_count_one_and_two(event: str, params: dict[str, int], one: str, two: str) -> None:
    counted = "error_rows" if event == Event.REJECTED else "records"

    def said(n: int, locale: str = "en") -> str:
        values = {"kind": "payment", **params, counted: n}
        note = Notification(event=event, params=json.dumps(values), settled_at=None)
        return notices.describe(note, locale)

    assert one in said(1) and two in said(2)
    assert "筆" in said(1, "zh_TW") and "筆" in said(2, "zh_TW")
    delivered = Notification(event=Event.PACKAGE_READY, params=json.dumps({"kind": "payment", "records": 1}),
                             settled_at=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))  # fmt: skip
    assert "package of 1 record was delivered" in notices.describe(delivered, "en")

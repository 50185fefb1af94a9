"""The portal explains the end of a session over HTTP, on both databases: a locked account is told
until when and whom to call (an unknown name hears the one failure message, as before); a session
that ended while idle leads to a sign-in page that says so; sign-in returns to the portal page the
person was going to (a local path only, across the authenticator step); the idle warning's
renewal keeps the session open."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aedx.accounts import totp
from aedx.settings import HELP_DESK, Settings
from aedx.storage.tables import User, UserSession, utcnow
from aedx.web import dates
from tests.web.conftest import NEW_PASSWORD, SECRET, Portal, csrf_of, sign_in, signed_in

FAILED_ZH = "登入失敗：帳號、密碼或驗證碼有誤，或帳號目前無法使用。"
LOCKED_ZH = "此帳號因連續登入失敗已暫時鎖定"
IDLE_ZH = "您已閒置逾 15 分鐘，為保護資料已自動登出，請重新登入。"
NEXT = re.compile(r'name="next" value="([^"]*)"')
EVIL = ("https://evil.example", "//evil.example", "/\\evil.example", "/portal/\\evil", "/\t/evil.example",
        "evil.example", "/elsewhere")  # fmt: skip


def _next_of(page: httpx.Response) -> str | None:
    found = NEXT.search(page.text)
    return html.unescape(found.group(1)) if found else None


def _sign_in_to(browser: TestClient, username: str, password: str, next_path: str) -> httpx.Response:
    form = browser.get("/portal/sign-in", params={"next": next_path})
    data = {"username": username, "password": password, "csrf_token": csrf_of(form), "next": next_path}
    return browser.post("/portal/sign-in", data=data)


def _locked_until(portal: Portal, username: str) -> dt.datetime | None:
    with portal.platform.db.transaction() as s:
        return s.scalar(select(User.locked_until).where(User.username == username))


def _idle_for(portal: Portal, span: dt.timedelta) -> None:
    """Every open session last used ``span`` ago."""
    with portal.platform.db.transaction() as s:
        s.execute(update(UserSession).where(UserSession.ended_at.is_(None)).values(last_seen=utcnow() - span))


def test_a_locked_account_is_told_until_when_and_whom_to_call(portal: Portal) -> None:
    initial = portal.person("A383000000", "chen.mei", "agency_officer")
    browser = portal.browser()
    for _ in range(4):
        answer = sign_in(browser, "chen.mei", "not the password at all")
        assert answer.status_code == 401 and FAILED_ZH in answer.text and LOCKED_ZH not in answer.text
    locking = sign_in(browser, "chen.mei", "not the password at all")  # the fifth locks
    until = _locked_until(portal, "chen.mei")
    assert until is not None
    shown = str(dates.roc(until))  # ROC date and minutes, Taipei time
    assert re.search(r">1\d\d/\d\d/\d\d \d\d:\d\d</time>", shown)
    for answer in (locking, sign_in(browser, "chen.mei", initial)):  # the right password, still locked
        assert answer.status_code == 401 and "aedx_session" not in answer.headers.get("set-cookie", "")
        assert LOCKED_ZH in answer.text and shown in answer.text and "（臺灣時間）" in answer.text
        assert f"如需提前解除鎖定，請洽 {HELP_DESK}。" in answer.text and 'role="alert"' in answer.text
    # the help desk is a setting
    portal.platform.settings = dataclasses.replace(
        portal.platform.settings, help_desk="資訊室 (02)2345-6789#123"
    )
    assert "請洽 資訊室 (02)2345-6789#123。" in sign_in(browser, "chen.mei", initial).text
    # in English too
    browser.cookies.set("lang", "en")
    english = sign_in(browser, "chen.mei", initial)
    assert "This account is locked after repeated failed sign-ins" in english.text and shown in english.text


def test_an_unknown_name_hears_the_one_failure_message_as_before(portal: Portal) -> None:
    portal.person("A383000000", "chen.mei", "agency_officer")
    browser = portal.browser()
    wrong = sign_in(browser, "chen.mei", "not the password at all")
    for _ in range(6):  # more than would lock an account
        unknown = sign_in(browser, "nobody.here", "not the password at all")
        assert unknown.status_code == 401 and LOCKED_ZH not in unknown.text and FAILED_ZH in unknown.text
        assert unknown.text == wrong.text  # the same page, to the byte, as a known name's wrong password


def test_an_idle_session_leads_to_a_sign_in_page_that_says_why(portal: Portal) -> None:
    browser = signed_in(portal, "A383000000", "chen.mei", "agency_officer")
    assert browser.get("/portal/notifications?page=1").status_code == 200
    _idle_for(portal, dt.timedelta(minutes=16))
    ended = browser.get("/portal/notifications?page=1")
    assert ended.status_code == 303 and 'aedx_session=""' in ended.headers["set-cookie"]
    location = ended.headers["location"]
    assert location == "/portal/sign-in?ended=idle&next=%2Fportal%2Fnotifications%3Fpage%3D1"
    page = browser.get(location)
    assert page.status_code == 200 and IDLE_ZH in page.text and 'role="status"' in page.text
    assert _next_of(page) == "/portal/notifications?page=1"
    back = browser.post(
        "/portal/sign-in",
        data={
            "username": "chen.mei",
            "password": NEW_PASSWORD,
            "csrf_token": csrf_of(page),
            "next": _next_of(page),
        },
    )
    assert back.status_code == 303 and back.headers["location"] == "/portal/notifications?page=1"
    assert browser.get(back.headers["location"]).status_code == 200
    # without an ended session there is nothing to explain
    assert IDLE_ZH not in portal.browser().get("/portal/sign-in").text
    assert (
        portal.browser().get("/portal/notifications").headers["location"]
        == "/portal/sign-in?next=%2Fportal%2Fnotifications"
    )


def test_the_idle_limit_is_a_setting(portal: Portal) -> None:
    browser = signed_in(portal, "A383000000", "chen.mei", "agency_officer")
    portal.platform.settings = dataclasses.replace(
        portal.platform.settings, idle_timeout=dt.timedelta(minutes=30)
    )
    _idle_for(portal, dt.timedelta(minutes=16))
    assert browser.get("/portal/notifications").status_code == 200  # within 30 minutes
    _idle_for(portal, dt.timedelta(minutes=31))
    ended = browser.get("/portal/notifications")
    assert ended.headers["location"].startswith("/portal/sign-in?ended=idle")
    assert "您已閒置逾 30 分鐘" in browser.get(ended.headers["location"]).text


def test_idle_minutes_and_the_help_desk_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings.from_env(tmp_path).idle_timeout == dt.timedelta(minutes=15)
    assert Settings.from_env(tmp_path).help_desk == HELP_DESK
    monkeypatch.setenv("AEDX_IDLE_MINUTES", "0.5")
    monkeypatch.setenv("AEDX_HELP_DESK", "資訊室 分機 123")
    assert Settings.from_env(tmp_path).idle_timeout == dt.timedelta(seconds=30)
    assert Settings.from_env(tmp_path).help_desk == "資訊室 分機 123"
    monkeypatch.setenv("AEDX_IDLE_MINUTES", "0")
    with pytest.raises(ValueError, match="positive"):
        Settings.from_env(tmp_path)


def test_sign_in_returns_to_a_local_path_only(portal: Portal) -> None:
    signed_in(portal, "A383000000", "chen.mei", "agency_officer")
    browser = portal.browser()
    answer = _sign_in_to(browser, "chen.mei", NEW_PASSWORD, "/portal/notifications?page=2")
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/notifications?page=2"
    for evil in EVIL:
        other = portal.browser()
        assert _next_of(other.get("/portal/sign-in", params={"next": evil})) is None  # not even carried
        answer = _sign_in_to(other, "chen.mei", NEW_PASSWORD, evil)
        assert answer.status_code == 303 and answer.headers["location"] == "/portal/", evil
    # a failed attempt keeps where the person was going
    failed = _sign_in_to(portal.browser(), "chen.mei", "not the password at all", "/portal/notifications")
    assert failed.status_code == 401 and _next_of(failed) == "/portal/notifications"


def test_sign_in_returns_to_the_page_across_the_authenticator_step(portal: Portal) -> None:
    initial = portal.person("aea", "lin.meihua", "hq_admin")
    browser = portal.browser()
    enrol = _sign_in_to(browser, "lin.meihua", initial, "/portal/notifications")
    found = SECRET.search(enrol.text)
    assert found is not None and _next_of(enrol) == "/portal/notifications"
    key = totp.from_base32(found.group(1))
    confirmed = browser.post(
        "/portal/sign-in/code",
        data={
            "code": totp.code_at(key, utcnow() - dt.timedelta(seconds=30)),
            "csrf_token": csrf_of(enrol),
            "next": "/portal/notifications",
        },
    )
    assert confirmed.headers["location"] == "/portal/password"  # the initial password first, always
    page = browser.get("/portal/password")
    browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    wanted_and_reached = [
        ("/portal/notifications?page=1", "/portal/notifications?page=1"),
        ("//evil.example", "/portal/"),
    ]
    for step, (wanted, to) in enumerate(wanted_and_reached, start=1):
        other = portal.browser()
        asked = _sign_in_to(other, "lin.meihua", NEW_PASSWORD, wanted)
        assert asked.status_code == 200 and 'name="code"' in asked.text
        carried = _next_of(asked)
        assert carried == (wanted if to == wanted else None)
        code = totp.code_at(key, utcnow() + dt.timedelta(seconds=30 * (step - 1)))  # each is accepted once
        done = other.post(
            "/portal/sign-in/code", data={"code": code, "csrf_token": csrf_of(asked), "next": wanted}
        )
        assert done.status_code == 303 and done.headers["location"] == to


def test_staying_signed_in_renews_the_session(portal: Portal) -> None:
    browser = signed_in(portal, "A383000000", "chen.mei", "agency_officer")
    page = browser.get("/portal/notifications")
    assert 'id="idle-warning" role="alert" hidden' in page.text and "繼續使用" in page.text
    assert re.search(
        r'data-left="(8\d\d|900)" data-warn="120"', page.text
    )  # seconds left, warned 2 min before
    assert '<script src="/portal/static/session.js" defer></script>' in page.text
    assert 'id="idle-warning"' not in portal.browser().get("/portal/sign-in").text
    _idle_for(portal, dt.timedelta(minutes=14))
    refused = browser.post("/portal/session/renew", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    renewed = browser.post("/portal/session/renew", data={"csrf_token": csrf_of(page)})
    assert renewed.status_code == 200 and 890 <= renewed.json()["left"] <= 900
    with portal.platform.db.transaction() as s:  # used just now, 14 idle minutes forgotten
        seen = s.scalar(select(UserSession.last_seen).where(UserSession.ended_at.is_(None)))
        assert seen is not None and utcnow() - seen.replace(tzinfo=dt.UTC) < dt.timedelta(minutes=1)
    assert browser.get("/portal/notifications").status_code == 200
    _idle_for(portal, dt.timedelta(minutes=16))
    ended = browser.post("/portal/session/renew", data={"csrf_token": csrf_of(page)})
    assert ended.status_code == 401 and ended.json() == {"left": 0}
    assert browser.get("/portal/notifications").headers["location"].startswith("/portal/sign-in")

"""The portal over HTTP on both databases: sign-in with a password and with TOTP (enrolment
included), one failure message, the forced password change, CSRF, sign-out, the language switch
and the dashboard scoped to the person's organisation."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select

from aedx.accounts import totp
from aedx.storage.tables import AuditEvent, UserSession, utcnow
from tests.web.conftest import NEW_PASSWORD, Portal, csrf_of, ready, sign_in

FAILED_ZH = "登入失敗：帳號、密碼或驗證碼有誤，或帳號目前無法使用。"


def _events(portal: Portal, action: str) -> list[tuple[str, dict[str, object]]]:
    with portal.platform.db.transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(e.outcome, json.loads(e.detail) if e.detail else {}) for e in rows]


def test_sign_in_with_a_password_then_the_forced_change_then_the_dashboard(portal: Portal) -> None:
    browser = portal.browser()
    initial = portal.person("A383000000", "chen.mei", "agency_officer")
    assert browser.get("/portal/").headers["location"] == "/portal/sign-in"
    answer = sign_in(browser, "chen.mei", initial)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/password"
    cookie = answer.headers["set-cookie"]
    assert "aedx_session=aedxs_" in cookie and "HttpOnly" in cookie and "Path=/portal" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # plain http here; see the https test
    # until the password is changed, the portal sends the person to the password page
    assert browser.get("/portal/").headers["location"] == "/portal/password"
    page = browser.get("/portal/password")
    assert page.status_code == 200 and "請先設定您自己的密碼" in page.text
    weak = browser.post(
        "/portal/password",
        data={"current": initial, "new": "short", "confirm": "short", "csrf_token": csrf_of(page)},
    )
    assert weak.status_code == 400 and 'role="alert"' in weak.text and 'aria-invalid="true"' in weak.text
    changed = browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert changed.status_code == 303
    home = browser.get("/portal/")
    assert home.status_code == 200
    assert "王小明" in home.text and "財政部臺北國稅局" in home.text and "目前尚無上傳紀錄。" in home.text
    assert '<html lang="zh-Hant-TW">' in home.text and 'href="#main"' in home.text
    assert (
        home.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in home.headers["content-security-policy"]
    )
    assert browser.get("/portal/static/portal.css").headers["content-type"].startswith("text/css")
    # a new browser signs in with the chosen password straight to the dashboard
    other = portal.browser()
    again = sign_in(other, "chen.mei", NEW_PASSWORD)
    assert again.status_code == 303 and again.headers["location"] == "/portal/"
    assert other.get("/portal/").status_code == 200


def test_the_session_cookie_is_secure_over_https(portal: Portal) -> None:
    browser = portal.browser("https://testserver")
    initial = portal.person("A383000000", "chen.mei", "agency_officer")
    answer = sign_in(browser, "chen.mei", initial)
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_person_hear_the_same_message(portal: Portal) -> None:
    portal.person("A383000000", "chen.mei", "agency_officer")
    browser = portal.browser()
    wrong = sign_in(browser, "chen.mei", "not the password at all")
    unknown = sign_in(browser, "nobody.here", "not the password at all")
    for answer in (wrong, unknown):
        assert answer.status_code == 401 and "aedx_session" not in answer.headers.get("set-cookie", "")
        assert FAILED_ZH in answer.text and 'role="alert"' in answer.text
    assert wrong.text.replace(csrf_of(wrong), "") == unknown.text.replace(csrf_of(unknown), "")
    reasons = [d["reason"] for outcome, d in _events(portal, "user.sign_in") if outcome == "denied"]
    assert reasons == ["bad_password", "unknown_user"]  # the core audits each, once


def test_hq_people_enrol_an_authenticator_then_sign_in_with_a_code(portal: Portal) -> None:
    initial = portal.person("aea", "wang.hq", "hq_auditor")
    browser = portal.browser()
    enrol = sign_in(browser, "wang.hq", initial)
    assert enrol.status_code == 200 and "aedx_session" not in enrol.headers.get("set-cookie", "")
    assert "設定驗證器" in enrol.text and "otpauth://totp/" in enrol.text
    found = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
    assert found is not None
    secret = totp.from_base32(found.group(1))
    assert "aedx_pending=" in enrol.headers["set-cookie"]
    assert initial not in enrol.headers["set-cookie"]  # the pending sign-in travels sealed
    # the key as a QR code drawn here: an inline SVG, no image from elsewhere
    qr = enrol.text[enrol.text.index('<figure class="qr-code">') :]
    assert qr.startswith('<figure class="qr-code"><svg') and "<path" in qr[: qr.index("</figure>")]
    assert "<img" not in enrol.text and "http" not in qr[: qr.index("</figure>")]
    # a mistyped code keeps the person on the same key, with a word on why
    wrong_code = "000000" if totp.code_at(secret, utcnow()) != "000000" else "111111"
    failed = browser.post("/portal/sign-in/code", data={"code": wrong_code, "csrf_token": csrf_of(enrol)})
    assert failed.status_code == 400 and "驗證碼不正確" in failed.text and "金鑰不變" in failed.text
    again = re.search(r'<code class="secret">([A-Z2-7]+)</code>', failed.text)
    assert again is not None and totp.from_base32(again.group(1)) == secret
    assert [r for o, r in _events(portal, "user.sign_in") if o == "denied"][-1]["reason"] == "bad_code"
    enrol = sign_in(browser, "wang.hq", initial)  # starting again offers the same pending key
    found = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
    assert found is not None and totp.from_base32(found.group(1)) == secret
    confirmed = browser.post(
        "/portal/sign-in/code", data={"code": totp.code_at(secret, utcnow()), "csrf_token": csrf_of(enrol)}
    )
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/portal/password"
    assert [o for o, _ in _events(portal, "user.totp_confirm")] == ["ok"]
    page = browser.get("/portal/password")
    browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    # enrolled: the password step now asks for the code, and only the code opens a session
    later = portal.browser()
    asked = sign_in(later, "wang.hq", NEW_PASSWORD)
    assert asked.status_code == 200 and 'name="code"' in asked.text and "otpauth" not in asked.text
    assert "aedx_session" not in asked.headers.get("set-cookie", "")
    next_code = totp.code_at(secret, utcnow() + dt.timedelta(seconds=totp.STEP_SECONDS))
    signed = later.post("/portal/sign-in/code", data={"code": next_code, "csrf_token": csrf_of(asked)})
    assert signed.status_code == 303 and signed.headers["location"] == "/portal/"
    assert "王小明" in later.get("/portal/").text
    # with a wrong password the code step is never offered: the same failure as any other
    stranger = portal.browser()
    refused = sign_in(stranger, "wang.hq", "not the password at all")
    assert refused.status_code == 401 and 'name="code"' not in refused.text


def test_forms_without_the_csrf_token_are_refused(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = browser.post("/portal/sign-out", data=data)
        assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert browser.get("/portal/").status_code == 200  # still signed in
    # the sign-in form: the pre-session cookie's token, and no other
    stranger = portal.browser()
    stranger.get("/portal/sign-in")
    forged = stranger.post(
        "/portal/sign-in", data={"username": "chen.mei", "password": NEW_PASSWORD, "csrf_token": "x"}
    )
    assert forged.status_code == 403 and "aedx_session" not in forged.headers.get("set-cookie", "")
    # another session's token does not do either
    other = portal.browser()
    sign_in(other, "chen.mei", NEW_PASSWORD)
    foreign = csrf_of(other.get("/portal/"))
    assert browser.post("/portal/sign-out", data={"csrf_token": foreign}).status_code == 403
    assert [o for o, _ in _events(portal, "portal.csrf")] == ["denied"] * 4


def test_sign_out_ends_the_session(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    token = browser.cookies.get("aedx_session")
    assert token
    home = browser.get("/portal/")
    out = browser.post("/portal/sign-out", data={"csrf_token": csrf_of(home)})
    assert out.status_code == 303 and out.headers["location"] == "/portal/sign-in"
    assert not browser.cookies.get("aedx_session")
    with portal.platform.db.transaction() as s:
        ended = s.scalars(select(UserSession.end_reason)).all()
    assert "signed_out" in ended
    assert [o for o, _ in _events(portal, "user.sign_out")] == ["ok"]
    # the old token, replayed, opens nothing
    replay = portal.browser()
    replay.cookies.set("aedx_session", token, domain="testserver.local", path="/portal")
    assert replay.get("/portal/").headers["location"] == "/portal/sign-in"


def test_the_language_switch_changes_the_page_and_beats_accept_language(portal: Portal) -> None:
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    page = browser.get("/portal/", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in page.text and "No submissions yet." in page.text  # the browser's choice
    switched = browser.get("/portal/language/zh_TW?next=/portal/")
    assert switched.status_code == 303 and switched.headers["location"] == "/portal/"
    page = browser.get("/portal/", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="zh-Hant-TW">' in page.text and "目前尚無上傳紀錄。" in page.text
    assert "No submissions yet." not in page.text
    browser.get("/portal/language/en?next=/portal/")
    page = browser.get("/portal/")
    assert '<html lang="en">' in page.text and "Sign out" in page.text and "登出" not in page.text
    assert browser.get("/portal/language/en?next=https://evil.example/").headers["location"] == "/portal/"


def test_the_language_switch_comes_back_to_the_same_page_with_its_query(portal: Portal) -> None:
    browser = portal.browser()
    signing_in = browser.get("/portal/sign-in", params={"next": "/portal/inbox"})
    assert "/portal/language/en?next=/portal/sign-in%3Fnext%3D%252Fportal%252Finbox" in signing_in.text
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    page = browser.get("/portal/", params={"page": "2"})
    assert "/portal/language/en?next=/portal/%3Fpage%3D2" in page.text
    switched = browser.get("/portal/language/en", params={"next": "/portal/?page=2&kind=payment"})
    assert switched.status_code == 303 and switched.headers["location"] == "/portal/?page=2&kind=payment"
    back = browser.get("/portal/language/zh_TW", params={"next": "/portal/sign-in?next=/portal/inbox"})
    assert back.headers["location"] == "/portal/sign-in?next=/portal/inbox"
    for elsewhere in ("//evil.example/portal/", "/api/v1/inbox", "/portal/\\evil", "https://evil.example/"):
        answer = browser.get("/portal/language/en", params={"next": elsewhere})
        assert answer.headers["location"] == "/portal/"


def test_the_dashboard_shows_only_the_organisations_submissions_page_by_page(portal: Portal) -> None:
    for n in range(30):
        portal.submission("A383000000", n, state="rejected" if n == 29 else "accepted")
    theirs = portal.submission("A397000000", 1)
    browser = portal.browser()
    ready(portal, browser, "A383000000", "chen.mei", "agency_officer")
    first = browser.get("/portal/")
    assert first.text.count("<tr>") == 1 + 25  # the header and a page
    assert "A383000000-29.csv" in first.text and "A383000000-5.csv" in first.text
    assert "A383000000-4.csv" not in first.text and theirs not in first.text
    assert "已退件" in first.text and "檢核通過" in first.text and "rejected<" not in first.text
    assert (
        '<time datetime="2024-11-25T09:59:00+08:00" title="2024-11-25 09:59">113/11/25 09:59</time>'
        in first.text
    )
    older = re.search(r'href="/portal/\?before=([^"]+)" rel="next"', first.text)
    assert older is not None and older.group(1) == "sa383000005"
    second = browser.get(f"/portal/?before={older.group(1)}")
    assert second.text.count("<tr>") == 1 + 5 and 'rel="next"' not in second.text
    assert "A383000000-4.csv" in second.text and "A383000000-0.csv" in second.text
    # the other agency sees its own only
    other = portal.browser()
    ready(portal, other, "A397000000", "lin.yu", "agency_officer")
    page = other.get("/portal/")
    assert "A397000000-1.csv" in page.text and "A383000000" not in page.text


def test_a_person_without_the_permission_is_refused_the_dashboard(portal: Portal) -> None:
    initial = portal.person("aea", "huang.stat", "statistician")
    browser = portal.browser()
    enrol = sign_in(browser, "huang.stat", initial)
    found = re.search(r'<code class="secret">([A-Z2-7]+)</code>', enrol.text)
    assert found is not None
    code = totp.code_at(totp.from_base32(found.group(1)), utcnow())
    signed = browser.post("/portal/sign-in/code", data={"code": code, "csrf_token": csrf_of(enrol)})
    assert signed.status_code == 303
    page = browser.get("/portal/password")
    browser.post(
        "/portal/password",
        data={"current": initial, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
    )
    portal.submission("A383000000", 1)
    refused = browser.get("/portal/")
    assert refused.status_code == 403 and "A383000000-1.csv" not in refused.text
    assert [(o, d["reason"]) for o, d in _events(portal, "submission.list")] == [("denied", "permission")]

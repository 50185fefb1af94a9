"""Signing in and staying signed in: MFA for HQ roles with enrolment at first sign-in, replayed
codes, lockout, one failure message for every cause, idle and absolute limits, and sessions that
end when the account changes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from aedx.accounts import sessions, totp, users
from aedx.accounts.roles import Permission
from aedx.storage.tables import UserSession
from tests.accounts.conftest import KEY, NEW_PASSWORD, T0, People

MIN = dt.timedelta(minutes=1)
SEC = dt.timedelta(seconds=1)


def test_first_sign_in_must_change_the_initial_password(people: People) -> None:
    initial = people.create("A383000000", "chen.mei", "agency_officer")
    signed = people.sign_in("chen.mei", initial)
    assert signed.must_change_password and signed.token.startswith("aedxs_")
    with pytest.raises(sessions.PasswordChangeRequired):
        people.resume(signed.token)
    with people.db.transaction() as s:
        sessions.change_password(s, signed.token, initial, NEW_PASSWORD, now=T0)
    caller = people.resume(signed.token)
    user = people.user("chen.mei")
    assert caller.actor == f"user:{user.id}" and caller.code == "A383000000" and caller.role == "agency"
    assert caller.may(Permission.SUBMISSIONS_SEND) and not caller.may(Permission.ACCOUNTS_MANAGE_OWN)
    assert caller.grants == frozenset()
    with people.db.transaction() as s:
        stored = s.scalars(select(UserSession.digest)).all()
    assert stored == [sessions.digest(signed.token)] and signed.token not in stored[0]
    ok = [e for e in people.events("user.sign_in") if e["outcome"] == "ok"]
    assert len(ok) == 1 and ok[0]["detail"]["address"] == "192.0.2.7"


def test_hq_roles_need_a_second_factor_enrolled_at_first_sign_in(people: People) -> None:
    initial = people.create("aea", "wang.hq", "hq_auditor")
    with pytest.raises(sessions.EnrolmentRequired):
        people.sign_in("wang.hq", initial)
    assert people.events("user.sign_in")[-1]["detail"]["reason"] == "mfa_enrolment_required"
    secret = people.enrol("wang.hq", initial)
    with pytest.raises(sessions.EnrolmentRequired):  # not confirmed yet: still no session
        people.sign_in("wang.hq", initial)
    with pytest.raises(sessions.SignInFailed):
        people.sign_in("wang.hq", initial, "000000" if totp.code_at(secret, T0) != "000000" else "111111")
    signed = people.sign_in("wang.hq", initial, totp.code_at(secret, T0))
    assert people.user("wang.hq").totp_confirmed_at == T0
    assert people.events("user.totp_confirm")[0]["outcome"] == "ok"
    with people.db.transaction() as s:
        sessions.change_password(s, signed.token, initial, NEW_PASSWORD, now=T0)
    assert people.resume(signed.token).may(Permission.AUDIT_VERIFY)

    later = T0 + 2 * MIN
    with pytest.raises(sessions.SignInFailed):  # the password alone no longer does
        people.sign_in("wang.hq", NEW_PASSWORD, now=later)
    assert people.events("user.sign_in")[-1]["detail"]["reason"] == "code_missing"
    with pytest.raises(Exception, match="enrolled"):  # nobody re-enrols over a confirmed factor
        people.enrol("wang.hq", NEW_PASSWORD, now=later)
    people.sign_in("wang.hq", NEW_PASSWORD, totp.code_at(secret, later), now=later)
    secrets_at_rest = people.user("wang.hq").totp_secret or ""
    assert totp.to_base32(secret) not in secrets_at_rest
    assert totp.decrypt(KEY, secrets_at_rest, people.user("wang.hq").id) == secret


def test_a_code_is_used_once_and_one_step_of_drift_is_accepted(people: People) -> None:
    initial = people.create("aea", "wang.hq", "hq_admin")
    secret = people.enrol("wang.hq", initial)
    people.sign_in("wang.hq", initial, totp.code_at(secret, T0))
    with pytest.raises(sessions.SignInFailed):
        people.sign_in("wang.hq", initial, totp.code_at(secret, T0), now=T0 + 5 * SEC)
    assert people.events("user.sign_in")[-1]["detail"]["reason"] == "bad_code"
    # the phone runs 30 s behind, then 30 s ahead of the server
    t1 = T0 + 3 * MIN
    people.sign_in("wang.hq", initial, totp.code_at(secret, t1 - 30 * SEC), now=t1)
    t2 = T0 + 6 * MIN
    people.sign_in("wang.hq", initial, totp.code_at(secret, t2 + 30 * SEC), now=t2)
    t3 = T0 + 9 * MIN
    with pytest.raises(sessions.SignInFailed):  # two steps behind
        people.sign_in("wang.hq", initial, totp.code_at(secret, t3 - 60 * SEC), now=t3)


def test_lockout_after_five_failures_for_fifteen_minutes(people: People) -> None:
    _, _ = people.ready("A383000000", "chen.mei", "agency_officer")
    for i in range(5):
        with pytest.raises(sessions.SignInFailed):
            people.sign_in("chen.mei", "not the password", now=T0 + i * SEC)
    locked_at = T0 + 4 * SEC
    assert people.user("chen.mei").locked_until == locked_at + 15 * MIN
    with pytest.raises(sessions.SignInFailed):  # the right password, still locked
        people.sign_in("chen.mei", NEW_PASSWORD, now=locked_at + 14 * MIN + 59 * SEC)
    people.sign_in("chen.mei", NEW_PASSWORD, now=locked_at + 15 * MIN)
    reasons = [e["detail"]["reason"] for e in people.events("user.sign_in") if e["outcome"] == "denied"]
    assert reasons == ["bad_password"] * 5 + ["locked"]
    assert len(people.events("user.lock")) == 1
    user = people.user("chen.mei")
    assert user.failed_sign_ins == 0 and user.locked_until is None


def test_a_success_resets_the_count(people: People) -> None:
    people.ready("A383000000", "chen.mei", "agency_officer")
    for round_ in range(2):
        for i in range(4):
            with pytest.raises(sessions.SignInFailed):
                people.sign_in("chen.mei", "not the password", now=T0 + (10 * round_ + i) * SEC)
        people.sign_in("chen.mei", NEW_PASSWORD, now=T0 + (10 * round_ + 5) * SEC)
    assert people.user("chen.mei").locked_until is None


def test_one_failure_message_whatever_was_wrong(people: People) -> None:
    people.ready("A383000000", "chen.mei", "agency_officer")
    people.ready("A383000000", "lin.off", "agency_officer")
    people.ready("A397000000", "wu.mei", "agency_officer")
    with people.db.transaction() as s:
        users.disable(s, people.console, "lin.off")
    for _ in range(5):
        with pytest.raises(sessions.SignInFailed):
            people.sign_in("wu.mei", "not the password")
    initial = people.create("aea", "wang.hq", "hq_admin")
    secret = people.enrol("wang.hq", initial)
    people.sign_in("wang.hq", initial, totp.code_at(secret, T0))
    attempts = {
        "unknown_user": ("nobody.here", NEW_PASSWORD, None),
        "bad_password": ("chen.mei", "not the password", None),
        "disabled": ("lin.off", NEW_PASSWORD, None),
        "locked": ("wu.mei", NEW_PASSWORD, None),
        "bad_code": ("wang.hq", initial, "000000" if totp.code_at(secret, T0) != "000000" else "111111"),
    }
    messages = set()
    for reason, (username, password, code) in attempts.items():
        with pytest.raises(sessions.SignInFailed) as failed:
            people.sign_in(username, password, code, now=T0 + 40 * SEC)
        messages.add((failed.value.code, failed.value.message_zh, failed.value.message_en))
        assert people.events("user.sign_in")[-1]["detail"]["reason"] == reason
    assert len(messages) == 1
    unknown = [e for e in people.events("user.sign_in") if e["detail"].get("reason") == "unknown_user"]
    assert unknown[0]["actor"] == "anonymous:192.0.2.7" and unknown[0]["detail"]["username"] == "nobody.here"


def test_idle_and_absolute_limits(people: People) -> None:
    _, token = people.ready("A383000000", "chen.mei", "agency_officer")
    t = T0
    for _ in range(3):  # active every 14 minutes: still signed in after 42 minutes
        t += 14 * MIN
        people.resume(token, t)
    with pytest.raises(sessions.SessionEnded):
        people.resume(token, t + 15 * MIN + SEC)
    with pytest.raises(sessions.SessionEnded):  # ended for good, even within the idle time
        people.resume(token, t + SEC)
    ended = [e["detail"]["reason"] for e in people.events("user.session")]
    assert ended == ["idle", "ended"]

    signed = people.sign_in("chen.mei", NEW_PASSWORD, now=T0)
    t = T0
    while t + 10 * MIN < T0 + 12 * dt.timedelta(hours=1):
        t += 10 * MIN
        people.resume(signed.token, t)
    with pytest.raises(sessions.SessionEnded):
        people.resume(signed.token, T0 + 12 * dt.timedelta(hours=1) + SEC)
    assert people.events("user.session")[-1]["detail"]["reason"] == "expired"


def test_last_seen_is_written_at_most_once_a_minute(people: People) -> None:
    _, token = people.ready("A383000000", "chen.mei", "agency_officer")

    def last_seen() -> dt.datetime:
        with people.db.transaction() as s:
            return s.scalars(select(UserSession.last_seen)).one()

    people.resume(token, T0 + 30 * SEC)
    assert last_seen() == T0
    people.resume(token, T0 + MIN)
    assert last_seen() == T0 + MIN


def test_disabling_role_change_reset_and_sign_out_end_sessions(people: People) -> None:
    _, first = people.ready("sly", "kao.officer", "branch_officer")
    second = people.sign_in("kao.officer", NEW_PASSWORD).token
    with people.db.transaction() as s:
        users.disable(s, people.console, "kao.officer")
    for token in (first, second):
        with pytest.raises(sessions.SessionEnded):
            people.resume(token)
    assert people.events("user.disable")[0]["detail"]["sessions_ended"] == 2
    with people.db.transaction() as s:
        users.enable(s, people.console, "kao.officer")
    with pytest.raises(sessions.SessionEnded):  # re-enabling does not bring a session back
        people.resume(first)

    token = people.sign_in("kao.officer", NEW_PASSWORD).token
    with people.db.transaction() as s:
        users.set_role(s, people.console, "kao.officer", "branch_supervisor")
    with pytest.raises(sessions.SessionEnded):
        people.resume(token)
    token = people.sign_in("kao.officer", NEW_PASSWORD).token
    assert people.resume(token).may(Permission.ACCOUNTS_MANAGE_OWN)
    with people.db.transaction() as s:
        initial = users.reset_password(s, people.console, "kao.officer")
    with pytest.raises(sessions.SessionEnded):
        people.resume(token)
    with pytest.raises(sessions.SignInFailed):
        people.sign_in("kao.officer", NEW_PASSWORD)

    token = people.sign_in("kao.officer", initial).token
    with people.db.transaction() as s:
        sessions.change_password(s, token, initial, "a brand new passphrase", now=T0)
    with people.db.transaction() as s:
        sessions.sign_out(s, token, now=T0)
    with pytest.raises(sessions.SessionEnded):
        people.resume(token)
    assert people.events("user.sign_out")[0]["outcome"] == "ok"
    with people.db.transaction() as s:
        reasons = sorted(r or "" for r in s.scalars(select(UserSession.end_reason)))
    assert reasons == ["disabled", "disabled", "password_reset", "role_changed", "signed_out"]


def test_reset_with_totp_lets_a_person_enrol_again(people: People) -> None:
    initial = people.create("aea", "wang.hq", "hq_admin")
    secret = people.enrol("wang.hq", initial)
    people.sign_in("wang.hq", initial, totp.code_at(secret, T0))
    with people.db.transaction() as s:
        again = users.reset_password(s, people.console, "wang.hq", reset_totp=True)
    with pytest.raises(sessions.EnrolmentRequired):
        people.sign_in("wang.hq", again, now=T0 + MIN)
    fresh = people.enrol("wang.hq", again, now=T0 + MIN)
    assert fresh != secret
    people.sign_in("wang.hq", again, totp.code_at(fresh, T0 + MIN), now=T0 + MIN)


def test_unknown_tokens_are_refused_and_recorded(people: People) -> None:
    for token in (None, "", "aedxs_not-a-session", "aedx_organisation-token"):
        with pytest.raises(sessions.SessionEnded):
            people.resume(token or "")
    assert [e["detail"]["reason"] for e in people.events("user.session")] == ["unknown_token"] * 4


def test_a_pending_authenticator_key_is_offered_again_until_it_expires(people: People) -> None:
    initial = people.create("aea", "wang.hq", "hq_admin")
    first = people.enrol("wang.hq", initial)
    assert people.enrol("wang.hq", initial, now=T0 + dt.timedelta(minutes=5)) == first  # a retry, same key
    later = T0 + sessions.PENDING_ENROLMENT + dt.timedelta(seconds=1)
    assert people.enrol("wang.hq", initial, now=later) != first  # an old, unconfirmed key is replaced

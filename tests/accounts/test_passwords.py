"""Password hashes and the password policy, history included, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select, update

from aedx.accounts import passwords, sessions
from aedx.storage.tables import Organisation, PasswordHistory
from tests.accounts.conftest import NEW_PASSWORD, T0, People


def test_hashes_are_argon2id_with_owasp_parameters() -> None:
    hashed = passwords.hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(hashed, "a long enough passphrase")
    assert not passwords.verify(hashed, "a long enough passphrasE")
    assert not passwords.verify("not a hash", "a long enough passphrase")
    assert hashed != passwords.hash_password("a long enough passphrase")  # salted
    assert not passwords.needs_rehash(hashed)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash("x" * 12)
    assert passwords.needs_rehash(weak)


@pytest.mark.parametrize(
    "password",
    ["short pass", "chen.mei is my password", "my CHEN.MEI@example.gov.tw pass", "chen.mei"],
)
def test_policy_refuses(password: str) -> None:
    with pytest.raises(passwords.WeakPassword):
        passwords.check_policy(password, "chen.mei", "chen.mei@example.gov.tw")


def test_policy_accepts_a_long_passphrase_and_initial_passwords_pass() -> None:
    passwords.check_policy("twelve chars", "chen.mei", "chen.mei@example.gov.tw")
    initial = passwords.initial_password()
    assert len(initial) == passwords.INITIAL_LENGTH and initial != passwords.initial_password()
    passwords.check_policy(initial, "chen.mei", "chen.mei@example.gov.tw")


def test_an_initial_password_holding_the_person_s_name_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = iter("yatingWq7hTz3KmR" + "Wq7hTz3KmR9dXb4N")  # the first draw holds "yating"
    monkeypatch.setattr(passwords.secrets, "choice", lambda _alphabet: next(drawn))
    initial = passwords.initial_password("chen.yating", "chen.yating@example.gov.tw", "陳雅婷")
    assert initial == "Wq7hTz3KmR9dXb4N"
    passwords.check_policy(initial, "chen.yating", "chen.yating@example.gov.tw", names=["陳雅婷"])


def test_each_of_the_last_three_passwords_refused_and_the_fourth_last_allowed(people: People) -> None:
    _, token = people.ready("A383000000", "chen.mei", "agency_officer")  # initial, then NEW_PASSWORD
    chosen = ["second passphrase", "third passphrase"]
    current = NEW_PASSWORD
    for i, new in enumerate(chosen, start=1):
        with people.db.transaction() as s:
            sessions.change_password(s, token, current, new, now=T0 + dt.timedelta(seconds=i))
        current = new
    # the last three: NEW_PASSWORD, "second passphrase", "third passphrase" (the current one)
    for reused in [NEW_PASSWORD, *chosen]:
        with people.db.transaction() as s, pytest.raises(passwords.WeakPassword):
            sessions.change_password(s, token, current, reused, now=T0 + dt.timedelta(seconds=5))
    refusals = [e for e in people.events("user.password_change") if e["outcome"] == "denied"]
    assert [e["detail"]["reason"] for e in refusals] == ["policy"] * 3
    with people.db.transaction() as s:
        sessions.change_password(s, token, current, "fourth passphrase", now=T0 + dt.timedelta(seconds=6))
    # NEW_PASSWORD is now the fourth-last: it may be chosen again
    with people.db.transaction() as s:
        sessions.change_password(
            s, token, "fourth passphrase", NEW_PASSWORD, now=T0 + dt.timedelta(seconds=7)
        )
    with people.db.transaction() as s:
        kept = s.scalar(select(func.count()).select_from(PasswordHistory))
    assert kept == passwords.HISTORY
    assert people.sign_in("chen.mei", NEW_PASSWORD, now=T0 + dt.timedelta(seconds=8)).token


def test_the_current_password_is_asked_and_a_weak_one_refused(people: People) -> None:
    _, token = people.ready("A383000000", "chen.mei", "agency_officer")
    with people.db.transaction() as s, pytest.raises(sessions.Denied):
        sessions.change_password(s, token, "wrong current password", "another passphrase", now=T0)
    with people.db.transaction() as s, pytest.raises(passwords.WeakPassword):
        sessions.change_password(s, token, NEW_PASSWORD, "too short", now=T0)
    assert people.user("chen.mei").failed_sign_ins == 1  # the wrong current password counted


def test_an_old_hash_is_upgraded_at_sign_in(people: People) -> None:
    people.ready("A383000000", "chen.mei", "agency_officer")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(NEW_PASSWORD)
    with people.db.transaction() as s:
        user = people.user("chen.mei")
        s.merge(user).password_hash = weak
    people.sign_in("chen.mei", NEW_PASSWORD)
    upgraded = people.user("chen.mei").password_hash
    assert upgraded != weak and upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password1234", "常見或曾外洩"),
        ("qwertyuiop12", "常見或曾外洩"),
        ("abcdefghijkl", "連續、重複或鍵盤"),
        ("chenmei20260302", "姓名、帳號"),  # the username without its dot, and a date
        ("TaipeiTax2026", "姓名、帳號"),  # the organisation's words
    ],
)
def test_common_and_guessable_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    with pytest.raises(passwords.WeakPassword) as refused:
        passwords.check_policy(
            password, "chen.mei", "chen.mei@example.gov.tw", names=["陳美", "Taipei Tax", "A383000000"]
        )
    assert why in refused.value.message_zh and "passphrase" in refused.value.message_en


def test_the_organisation_and_the_persons_name_count_when_a_password_is_chosen(people: People) -> None:
    _, token = people.ready("A383000000", "chen.mei", "agency_officer")
    with people.db.transaction() as s:
        s.execute(
            update(Organisation).where(Organisation.code == "A383000000").values(name="Nangang Customs")
        )
    for guessable in ["nangangcustoms2026", "a383000000!!aa"]:
        with people.db.transaction() as s, pytest.raises(passwords.WeakPassword) as refused:
            sessions.change_password(s, token, NEW_PASSWORD, guessable, now=T0)
        assert "機關名稱" in refused.value.message_zh


@pytest.mark.parametrize(
    "password",
    ["陳雅婷的生日是2026年", "臺北國稅局的密碼2026", "Chen Yating 2026!!", "財政部臺北國稅局2026"],
)
def test_a_password_holding_one_s_own_name_or_organisation_is_refused_however_long(password: str) -> None:
    with pytest.raises(passwords.WeakPassword) as refused:
        passwords.check_policy(
            password,
            "chen.yating",
            "chen.yating@example.gov.tw",
            names=["陳雅婷", "A383000000", "財政部臺北國稅局"],
        )
    assert "姓名、帳號、電子郵件或機關名稱" in refused.value.message_zh
    passwords.check_policy(  # a passphrase of unrelated words is still welcome
        "linear algebra rocks hard",
        "chen.yating",
        "chen.yating@example.gov.tw",
        names=["陳雅婷", "財政部臺北國稅局"],
    )

"""Who may create and manage whose account, what an account must be (one person, one account),
and the audit trail of every change and refusal."""

from __future__ import annotations

import pytest

from aedx.accounts import users
from aedx.errors import Conflict, Denied, Invalid, NotFound
from tests.accounts.conftest import T0, People


def create(people: People, actor: object, org: str, username: str, role: str, **kw: str) -> users.NewUser:
    with people.db.transaction() as s:
        return users.create(
            s, actor, org, username, kw.get("name", "林美華"), kw.get("email", f"{username}@example.gov.tw"),
            role, now=T0,
        )  # type: ignore[arg-type]  # fmt: skip


def test_hq_creates_anyone_with_a_role_the_organisation_allows(people: People) -> None:
    made = create(people, people.console, "aea", "wang.hq", "hq_admin")
    assert made.user.role == "hq_admin" and made.user.must_change_password and made.user.active
    assert len(made.initial_password) >= 12
    create(people, people.console, "sly", "lee.branch", "branch_supervisor")
    create(people, people.console, "A383000000", "chen.agency", "agency_admin")
    with pytest.raises(Invalid):
        create(people, people.console, "A383000000", "hsu.agency", "branch_officer")  # not an agency role
    with pytest.raises(Invalid):
        create(people, people.console, "sly", "kao.branch", "hq_auditor")
    with pytest.raises(Invalid):
        create(people, people.console, "sly", "kao.branch", "overlord")
    events = people.events("user.create")
    assert [e["detail"]["username"] for e in events] == ["wang.hq", "lee.branch", "chen.agency"]
    assert all(e["actor"] == "cli:operator" and e["outcome"] == "ok" for e in events)
    assert all(made.initial_password not in str(e) for e in events)


def test_an_agency_admin_manages_only_their_own_organisation(people: People) -> None:
    admin, _ = people.ready("A383000000", "chen.admin", "agency_admin")
    officer = create(people, admin, "A383000000", "lin.officer", "agency_officer")
    assert officer.user.organisation_id == admin.organisation_id
    with pytest.raises(Denied):
        create(people, admin, "A397000000", "wu.other", "agency_officer")
    with pytest.raises(Denied):
        create(people, admin, "aea", "wu.hq", "hq_admin")
    with pytest.raises(Denied):
        create(people, admin, "A383000000", "wu.hq", "hq_admin")  # never an HQ role, anywhere
    denied = [e for e in people.events("user.create") if e["outcome"] == "denied"]
    assert [e["detail"]["reason"] for e in denied] == ["other_organisation", "hq_role", "hq_role"]
    assert all(e["actor"] == admin.actor for e in denied)

    # another organisation's person is "not found" to them, and the attempt is recorded
    create(people, people.console, "A397000000", "wu.other", "agency_officer")
    with people.db.transaction() as s, pytest.raises(NotFound):
        users.disable(s, admin, "wu.other")
    assert people.events("user.disable")[-1]["outcome"] == "denied"
    with people.db.transaction() as s:
        listed = users.listing(s, admin)
    assert {v.username for v in listed} == {"chen.admin", "lin.officer"}
    with people.db.transaction() as s, pytest.raises(Denied):
        users.listing(s, admin, "A397000000")


def test_an_officer_manages_nobody(people: People) -> None:
    officer, _ = people.ready("A383000000", "lin.officer", "agency_officer")
    with pytest.raises(Denied):
        create(people, officer, "A383000000", "hsu.friend", "agency_officer")
    with people.db.transaction() as s, pytest.raises(Denied):
        users.listing(s, officer)
    assert [e["outcome"] for e in people.events("user.create")] == ["ok", "denied"]  # the console's, theirs


@pytest.mark.parametrize(
    "username", ["admin", "test", "guest", "root", "user", "officer", "admin01", "hq-admin", "test_user"]
)
def test_generic_usernames_are_refused(people: People, username: str) -> None:
    with pytest.raises(Invalid):
        create(people, people.console, "A383000000", username, "agency_officer")


@pytest.mark.parametrize(
    "name", ["", "  ", "管理員", "測試帳號", "admin", "user 01", "財政部臺北國稅局", "X"]
)
def test_accounts_need_a_persons_name(people: People, name: str) -> None:
    with pytest.raises(Invalid):
        create(people, people.console, "A383000000", "chen.mei", "agency_officer", name=name)


def test_usernames_and_emails_are_unique(people: People) -> None:
    create(people, people.console, "A383000000", "chen.mei", "agency_officer")
    with pytest.raises(Conflict):
        create(
            people, people.console, "A397000000", "Chen.Mei", "agency_officer", email="other@example.gov.tw"
        )
    with pytest.raises(Conflict):
        create(people, people.console, "A397000000", "chen.mei2", "agency_officer",
               email="CHEN.MEI@example.gov.tw")  # fmt: skip
    with pytest.raises(Invalid):
        create(people, people.console, "A397000000", "chen.mei3", "agency_officer", email="not-an-address")


def test_changes_are_audited_and_nobody_disables_themselves(people: People) -> None:
    admin, _ = people.ready("sly", "lee.super", "branch_supervisor")
    create(people, admin, "sly", "kao.officer", "branch_officer")
    with people.db.transaction() as s:
        users.change(s, admin, "kao.officer", full_name="高志明", email="kao.cm@example.gov.tw")
        users.set_role(s, admin, "kao.officer", "branch_supervisor")
        users.disable(s, admin, "kao.officer")
        users.enable(s, admin, "kao.officer")
        users.unlock(s, admin, "kao.officer")
        secret = users.reset_password(s, admin, "kao.officer")
    with people.db.transaction() as s, pytest.raises(Denied):
        users.disable(s, admin, "lee.super")
    with people.db.transaction() as s, pytest.raises(Denied):
        users.set_role(s, admin, "lee.super", "branch_officer")
    user = people.user("kao.officer")
    assert (user.full_name, user.email, user.role, user.active) == ("高志明", "kao.cm@example.gov.tw",
                                                                   "branch_supervisor", True)  # fmt: skip
    assert people.events("user.update")[0]["detail"]["fields"] == ["full_name", "email"]
    assert people.events("user.role")[0]["detail"] | {"sessions_ended": 0} == {
        "username": "kao.officer", "role": "branch_supervisor", "previous": "branch_officer", "sessions_ended": 0,
    }  # fmt: skip
    for action in ("user.disable", "user.enable", "user.unlock", "user.password_reset"):
        assert people.events(action)[0]["actor"] == admin.actor, action
    assert people.events("user.disable")[-1]["detail"]["reason"] == "own_account"
    assert all(secret not in str(e) for e in people.events("user.password_reset"))
    assert people.user("kao.officer").must_change_password

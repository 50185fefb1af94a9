"""Spec pages, sample files, the contact directory and the portal's "not found" page, over HTTP on
both databases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from aedx.accounts import contacts
from aedx.accounts import organisations as orgs
from aedx.errors import Invalid
from aedx.formats import Format
from aedx.kinds import KINDS
from aedx.sim import contacts as demo_contacts
from aedx.storage.tables import AuditEvent
from aedx.validation import rules
from aedx.validation.engine import Options, validate_file
from aedx.web import directory
from tests.web.conftest import Portal, csrf_of, signed_in

AGENCY = "A383000000"


def _events(portal: Portal, action: str) -> list[tuple[str, dict[str, object]]]:
    with portal.platform.db.transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(e.outcome, json.loads(e.detail) if e.detail else {}) for e in rows]


def test_the_spec_page_of_each_kind_follows_its_declaration(portal: Portal) -> None:
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    listing = browser.get("/portal/kinds")
    assert listing.status_code == 200 and 'href="/portal/kinds"' in listing.text  # in the navigation
    for kind in KINDS.values():
        assert f'href="/portal/kinds/{kind.name}"' in listing.text and kind.label_zh in listing.text
        spec = browser.get(f"/portal/kinds/{kind.name}")
        assert spec.status_code == 200
        text = spec.text
        position = 1
        for f in kind.fields:  # every field, its labels, width and byte positions
            assert f'id="field-{f.name}"' in text and f.label_zh in text and f.label_en in text
            assert f"{position}–{position + f.width - 1}" in text
            position += f.width
            for choice in f.choices:
                assert f"<code>{choice.value}</code> {choice.label_zh}" in text
        assert f"{kind.record_width} 位元組" in text
        ctx = rules.Context(kind=kind, today=directory.SAMPLE_DAY, lossy=True, sender="X")
        for test in rules.tests_for(ctx):  # every code the engine can give, with the field it points at
            assert f'id="code-{test.code.code}-{test.field or ""}"' in text
        assert "record.length" in text and "record.duplicate" in text and "control.amount_mismatch" in text
        assert "#CONTROL," in text and "CP950" in text
    referral = browser.get("/portal/kinds/case_referral").text
    assert "依「義務人地址」所在地，送交轄區分署" in referral  # routing, from the declaration
    english = browser.get("/portal/kinds/payment", headers={"Accept-Language": "en"})
    assert "Payments an agency received" in english.text and "Amount paid" in english.text
    assert "bank transfer" in english.text


@pytest.mark.parametrize("fmt", ["csv", "fixed", "jsonl"])
def test_sample_files_are_valid_deterministic_and_the_error_samples_fail(
    portal: Portal, tmp_path: Path, fmt: str
) -> None:
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    for kind in KINDS.values():
        sender = AGENCY if kind.sender_role == "agency" else directory.DEFAULT_SENDERS[kind.name]
        for encoding in ("utf-8", "cp950"):
            url = f"/portal/kinds/{kind.name}/sample?format={fmt}&encoding={encoding}"
            answer = browser.get(url)
            assert answer.status_code == 200
            assert "attachment" in answer.headers["content-disposition"]
            assert browser.get(url).content == answer.content  # the same file every time
            path = tmp_path / f"{kind.name}-{encoding}.{fmt}"
            path.write_bytes(answer.content)
            report = validate_file(path, kind, Format(fmt), encoding, Options(sender=sender))
            assert report.records == directory.SAMPLE_RECORDS
            assert report.findings.height == 0, report.findings.head(5)
            assert report.control is not None and report.control.records == directory.SAMPLE_RECORDS
            broken = browser.get(url + "&errors=true")
            path.write_bytes(broken.content)
            checked = validate_file(path, kind, Format(fmt), encoding, Options(sender=sender))
            found = set(checked.findings["code"].to_list())
            assert "required" in found and len(found) > 5, found
    assert browser.get("/portal/kinds/payment/sample?format=xml").status_code == 404
    assert browser.get("/portal/kinds/nothing/sample").status_code == 404


def test_not_found_under_the_portal_is_a_page_and_elsewhere_json(portal: Portal) -> None:
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    for path in (
        "/portal/nowhere",
        "/portal/kinds/nothing",
        "/portal/contacts/NOBODY",
        "/portal/static/x.css",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), path
        assert '<html lang="zh-Hant-TW">' in answer.text and "查無此網頁" in answer.text
        assert 'href="/portal/"' in answer.text
        assert 'class="main-nav"' in answer.text and "登出" in answer.text  # the menu stays
    anonymous = portal.browser().get("/portal/nowhere")
    assert anonymous.status_code == 404 and 'class="main-nav"' not in anonymous.text
    english = browser.get("/portal/nowhere", headers={"Accept-Language": "en"})
    assert "Page not found" in english.text
    api = browser.get("/nowhere")
    assert api.status_code == 404 and api.json()["error"]["code"] == "http.404"
    assert browser.get("/portalish").headers["content-type"].startswith("application/json")


def test_other_errors_under_the_portal_are_pages_too(portal: Portal) -> None:
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    unreadable = browser.get("/portal/", params={"before": "x" * 40})  # longer than a submission id
    assert unreadable.status_code == 400 and "無法處理此請求" in unreadable.text
    wrong_method = browser.get("/portal/sign-out")
    assert wrong_method.status_code == 405 and "無法處理此請求" in wrong_method.text
    assert 'class="main-nav"' in unreadable.text and 'class="main-nav"' in wrong_method.text
    assert wrong_method.headers["content-type"].startswith("text/html")
    api = browser.get("/api/v1/submissions", params={"limit": "many"})
    assert api.status_code in (401, 422) and api.headers["content-type"].startswith("application/json")


def _agencies(portal: Portal, n: int) -> None:
    rows = [orgs.OrgRow(f"C{i:09d}", f"測試縣第{i}稽徵所", "agency", "tax") for i in range(n)]
    with portal.platform.db.transaction() as s:
        orgs.upsert(s, rows, "test")


def test_the_directory_lists_searches_and_pages(portal: Portal) -> None:
    _agencies(portal, 30)
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    first = browser.get("/portal/contacts")
    assert first.status_code == 200
    assert "共 46 個機關" in first.text  # HQ, 13 branches, 32 agencies
    order = re.findall(r'href="/portal/contacts/([^"?]+)"', first.text)
    assert order[:3] == ["aea", "tpy", "sly"] and len(set(order)) == 25  # HQ, then the branches
    assert "第 1 頁，共 2 頁" in first.text and 'rel="next"' in first.text
    second = browser.get("/portal/contacts?page=2")
    assert len(set(re.findall(r'href="/portal/contacts/([^"?]+)"', second.text))) == 21
    found = browser.get("/portal/contacts", params={"q": "士林"})
    assert "共 1 個機關" in found.text and "士林分署" in found.text
    branches = browser.get("/portal/contacts", params={"role": "branch"})
    assert "共 13 個機關" in branches.text
    odd = browser.get("/portal/contacts", params={"q": "100%_", "page": "x"})
    assert odd.status_code == 200 and "共 0 個機關" in odd.text
    assert (
        browser.get("/portal/contacts", params={"q": "x" * 51}).status_code == 400
    )  # too long: the error page


def test_an_agency_administrator_keeps_their_own_entry_only(portal: Portal) -> None:
    admin = signed_in(portal, AGENCY, "lin.admin", "agency_admin")
    page = admin.get(f"/portal/contacts/{AGENCY}")
    assert page.status_code == 200 and "新增聯繫窗口" in page.text
    token = csrf_of(page)
    added = admin.post(
        f"/portal/contacts/{AGENCY}/people",
        data={"name": "林志明", "title": "科長", "phone": "(02)2311-3711#1234",
              "email": "Lin@ntbt.gov.tw", "csrf_token": token},
    )  # fmt: skip
    assert added.status_code == 303
    shown = admin.get(f"/portal/contacts/{AGENCY}")
    assert "林志明" in shown.text and "lin@ntbt.gov.tw" in shown.text and "(02)2311-3711#1234" in shown.text
    bad = admin.post(
        f"/portal/contacts/{AGENCY}/people",
        data={"name": "王大同", "phone": "call me", "email": "", "csrf_token": token},
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "電話" in bad.text
    assert 'aria-invalid="true"' in bad.text and 'value="call me"' in bad.text
    nothing = admin.post(f"/portal/contacts/{AGENCY}/people", data={"name": "王大同", "csrf_token": token})
    assert nothing.status_code == 400 and "至少填寫一項" in nothing.text
    office = admin.post(
        f"/portal/contacts/{AGENCY}/office",
        data={"phone": "(02)2311-3711", "address": "臺北市中正區中華路一段2號", "csrf_token": token},
    )
    assert office.status_code == 303
    assert "臺北市中正區中華路一段2號" in admin.get("/portal/contacts", params={"q": AGENCY}).text
    person_id = re.search(rf"/portal/contacts/{AGENCY}/people/(\d+)/remove", shown.text)
    assert person_id is not None
    changed = admin.post(
        f"/portal/contacts/{AGENCY}/people/{person_id[1]}",
        data={"name": "林志明", "title": "股長", "phone": "0912-345-678", "csrf_token": token},
    )
    assert changed.status_code == 303 and "股長" in admin.get(f"/portal/contacts/{AGENCY}").text
    # another organisation's entry: no forms, and a forged request is refused and audited
    other = admin.get("/portal/contacts/A397000000")
    assert other.status_code == 200 and "新增聯繫窗口" not in other.text
    forged = admin.post(
        "/portal/contacts/A397000000/people",
        data={"name": "王大同", "phone": "02-2345-6789", "csrf_token": token},
    )
    assert forged.status_code == 403
    assert ("denied", {"reason": "permission"}) in _events(portal, "contacts.person_add")
    # without the token, nothing happens
    assert admin.post(f"/portal/contacts/{AGENCY}/office", data={"phone": "02-1234-5678"}).status_code == 403
    removed = admin.post(
        f"/portal/contacts/{AGENCY}/people/{person_id[1]}/remove", data={"csrf_token": token}
    )
    assert removed.status_code == 303 and "林志明" not in admin.get(f"/portal/contacts/{AGENCY}").text
    assert (
        admin.post(f"/portal/contacts/{AGENCY}/people/x/remove", data={"csrf_token": token}).status_code
        == 404
    )
    outcomes = {
        a: _events(portal, a) for a in ("contacts.office", "contacts.person_change", "contacts.person_remove")
    }
    assert all(events and events[0][0] == "ok" for events in outcomes.values()), outcomes


def test_officers_read_and_hq_keeps_every_entry(portal: Portal) -> None:
    officer = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    page = officer.get(f"/portal/contacts/{AGENCY}")
    assert page.status_code == 200 and "新增聯繫窗口" not in page.text
    refused = officer.post(
        f"/portal/contacts/{AGENCY}/office", data={"phone": "02-1234-5678", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 403
    hq = signed_in(portal, "aea", "hq.admin.wang", "hq_admin")
    branch = hq.get("/portal/contacts/sly")
    assert "新增聯繫窗口" in branch.text
    added = hq.post(
        "/portal/contacts/sly/people",
        data={
            "name": "張淑芬",
            "title": "書記官",
            "email": "chang@mail.moj.gov.tw",
            "csrf_token": csrf_of(branch),
        },
    )
    assert added.status_code == 303
    assert "張淑芬" in officer.get("/portal/contacts", params={"q": "書記官"}).text


def test_the_demonstration_gives_each_organisation_contact_people_once(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        operator = orgs.operator(s, "test")
        assert demo_contacts.seed(s, operator) == 2 * 13 + 2  # two per branch, one per agency
        assert demo_contacts.seed(s, operator) == 0
    browser = signed_in(portal, AGENCY, "chen.mei", "agency_officer")
    listed = browser.get("/portal/contacts", params={"role": "branch"})
    assert listed.text.count("書記官") == 13 and "example.gov.tw" in listed.text


@pytest.mark.parametrize(
    ("raw", "kept"),
    [("(02)2311-3711#1234", "(02)2311-3711#1234"), ("0912-345-678", "0912-345-678"),
     (" +886 2  2311 3711 ", "+886 2 2311 3711"), ("", "")],
)  # fmt: skip
def test_phone_numbers_as_written_in_taiwan_are_kept(raw: str, kept: str) -> None:
    assert contacts.phone(raw) == kept


@pytest.mark.parametrize("raw", ["123-45", "call me", "02-2311-3711 ext. 5", "(02)2311-3711#", "1" * 30])
def test_other_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(Invalid):
        contacts.phone(raw)


def test_e_mail_addresses_are_checked_and_lower_cased() -> None:
    assert contacts.email(" Chen@Mail.MOJ.gov.tw ") == "chen@mail.moj.gov.tw"
    for raw in ("chen@", "chen mail@moj.gov.tw", "a@b", "x" * 200 + "@moj.gov.tw"):
        with pytest.raises(Invalid):
            contacts.email(raw)

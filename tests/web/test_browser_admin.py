"""The management portal in Debian's Chromium, driven by Playwright against a real server: an HQ
administrator adds an agency, a person in it (reading the initial password shown once) and the
grant to send case referrals; that person then signs in, replaces the password, takes the sample
file from the spec page and uploads it. With ``AEDX_SCREENSHOTS=docs/screenshots`` the management pages' pictures are refreshed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from aedx.accounts import grants
from aedx.accounts import organisations as orgs
from aedx.exchange.platform import Platform
from aedx.exchange.worker import Worker
from aedx.kinds import get_kind
from aedx.storage.tables import Organisation, Submission
from aedx.trust.caller import Direction
from aedx.web.i18n import translations
from tests.exchange.hub import _authority_template
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph
from tests.web.conftest import Portal, ready

zh = translations("zh_TW").gettext
AGENCY, AGENCY_NAME = "A376000000", "臺北市稅捐稽徵處"


def upload_a_first_file(page: Page, url: str, platform: Platform) -> None:
    """The new agency's first upload: the CSV sample of case referrals from the kind's spec page,
    sent through the upload page and validated by the worker."""
    page.goto(f"{url}/portal/kinds/case_referral")
    with page.expect_download() as sample:
        page.locator('a[href$="format=csv&encoding=utf-8"]').first.click()
    body = Path(sample.value.path()).read_bytes()
    assert AGENCY.encode() in body  # the sample is sent as the reader's own organisation
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("Upload")).click()
    page.get_by_label(zh("Kind of file")).select_option("case_referral")
    page.get_by_label(zh("File"), exact=True).set_input_files(
        files=[{"name": sample.value.suggested_filename, "mimeType": "text/csv", "buffer": body}]
    )
    page.get_by_role("button", name=zh("Upload"), exact=True).click()
    page.wait_for_url("**/portal/submissions/*")
    assert Worker(platform, "worker:test").drain() == 1
    page.reload()
    page.get_by_role("heading", name=zh("Validation report")).wait_for()
    with platform.db.transaction() as s:
        sent = s.scalars(select(Submission).join(Organisation, Organisation.id == Submission.sender_id)
                         .where(Organisation.code == AGENCY)).one()  # fmt: skip
    assert sent.records == 20 and sent.state in {"delivered", "accepted", "routed"}, sent.state


def test_hq_adds_an_agency_a_person_and_a_grant_and_the_person_uploads(
    portal: Portal, chromium: Browser, tmp_path: Path
) -> None:
    if not portal.platform.settings.embedded:  # the platform's CA, as `aedx pki init` makes it
        shutil.copytree(_authority_template(), portal.platform.settings.data_dir / "pki")
    initial = portal.person("aea", "lin.meihua", "hq_admin")
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        first_sign_in(page, url, "lin.meihua", initial)
        page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("Management")).click()
        page.get_by_role("heading", name=zh("Management")).wait_for()

        # the agency
        page.get_by_role("link", name=zh("Organisations")).first.click()
        form = page.locator('form[aria-labelledby="new-organisation"]')
        form.get_by_label(zh("Code"), exact=True).fill(AGENCY)
        form.get_by_label(zh("Name"), exact=True).fill(AGENCY_NAME)
        form.get_by_label(zh("Organisation kind")).select_option("agency")
        form.get_by_label(zh("Preferred encoding")).select_option("cp950")
        form.get_by_role("button", name=zh("Add organisation")).click()
        page.get_by_role("heading", name=f"{AGENCY_NAME}（{AGENCY}）").wait_for()
        assert f"{get_kind('case_referral').label_zh} · {zh('Send')}" in page.content()  # its kind's grants
        page.goto(f"{url}/portal/admin/organisations?kind=agency")
        assert AGENCY in page.content()
        photograph(page, "admin-organisations", tmp_path)

        # a person in it: the initial password is shown once
        page.get_by_role("link", name=zh("People")).first.click()
        form = page.locator('form[aria-labelledby="new-person"]')
        form.get_by_label(zh("Organisation")).select_option(AGENCY)
        form.get_by_label(zh("Username"), exact=True).fill("chang.yating")
        form.get_by_label(zh("Full name")).fill("張雅婷")
        form.get_by_label(zh("E-mail")).fill("chang.yating@example.gov.tw")
        form.get_by_label(zh("Role")).select_option("agency_admin")
        form.get_by_role("button", name=zh("Add person")).click()
        password = page.locator("code.initial-password").inner_text()
        assert len(password) >= 12
        page.goto(f"{url}/portal/admin/users?organisation={AGENCY}")
        assert "chang.yating" in page.content()
        photograph(page, "admin-users", tmp_path)

        # the grant to send case referrals
        page.goto(f"{url}/portal/admin/grants")
        page.get_by_label(zh("Organisation"), exact=True).select_option(AGENCY)
        page.get_by_role("button", name=zh("Show")).click()
        label = get_kind("case_referral").label_zh
        page.get_by_label(f"{label} · {zh('Send')}").check()
        page.get_by_role("button", name=zh("Save grants")).click()
        page.get_by_text(zh("The change was saved.")).wait_for()
        assert page.get_by_label(f"{label} · {zh('Send')}").is_checked()
        photograph(page, "admin-grants", tmp_path)

        page.goto(f"{url}/portal/admin/audit")
        assert page.locator("time[title]").count() >= 3  # ROC dates, AD on hover
        assert "organisation.create" in page.content() and "grant.add" in page.content()
        photograph(page, "admin-audit", tmp_path)
        context.close()

        with portal.platform.db.transaction() as s:
            assert ("case_referral", Direction.SEND) in grants.of(s, orgs.get(s, AGENCY).id)

        # the new person signs in, replaces the password and reaches the dashboard
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        first_sign_in(page, url, "chang.yating", password)
        page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
        assert page.url == f"{url}/portal/"
        upload_a_first_file(page, url, portal.platform)
        context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_roles_offered_for_a_new_person_follow_the_organisation_chosen(
    portal: Portal, chromium: Browser, width: int
) -> None:
    with serving(portal.platform) as url:
        browser = portal.browser(url)
        ready(portal, browser, "aea", "lin.meihua", "hq_admin")
        context = chromium.new_context(locale="zh-TW", viewport={"width": width, "height": 900})
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": url} for c in browser.cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{url}/portal/admin/users")
        form = page.locator('form[aria-labelledby="new-person"]')
        role = form.get_by_label(zh("Role"))

        def offered() -> set[str]:
            return set(role.locator("option:not([disabled])").evaluate_all("os => os.map(o => o.value)"))

        for code, roles in (
            ("A383000000", {"agency_admin", "agency_officer"}),
            ("tpy", {"branch_supervisor", "branch_officer"}),
            ("aea", {"hq_admin", "hq_auditor", "statistician"}),
        ):
            form.get_by_label(zh("Organisation")).select_option(code)
            assert offered() == roles, code
            assert role.input_value() in roles  # a role that fits is chosen
        context.close()

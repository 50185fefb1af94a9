"""The exchange pages in Debian's Chromium against a real server on loopback, in Traditional
Chinese: an agency officer checks a file (dry-run), uploads it and watches the progress bar, reads
the rejected file's report and downloads it as XLSX and ODS, then uploads a valid referral; a
branch officer finds the case and uploads status feedback on it; the agency officer finds the
feedback package in the inbox and downloads it. The worker runs in the test between steps. With
``AEDX_SCREENSHOTS=docs/screenshots`` the pictures the README shows are refreshed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from odf.opendocument import load as load_ods
from odf.table import Table
from playwright.sync_api import Browser, BrowserContext, Page

from aedx.kinds import get_kind
from aedx.web.i18n import translations
from tests.builders import VALID
from tests.served import serving
from tests.web.browser_support import photograph
from tests.web.conftest import NEW_PASSWORD
from tests.web.exchange_support import AGENCY, BRANCH, World, file_of, make_world

zh = translations("zh_TW").gettext
CASE_NO = str(VALID["case_referral"]["agency_case_no"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "data")
    yield made
    made.platform.close()


def signed_in(
    chromium: Browser, url: str, world: World, org: str, username: str, role: str
) -> BrowserContext:
    world.person(org, username, role)  # the account, its own password chosen
    context = chromium.new_context(
        locale="zh-TW", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.goto(f"{url}/portal/sign-in")
    page.get_by_label(zh("Username")).fill(username)
    page.get_by_label(zh("Password"), exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name=zh("Sign in")).click()
    page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
    page.close()
    return context


def choose(page: Page, kind: str, name: str, body: bytes) -> None:
    page.get_by_label(zh("Kind of file")).select_option(kind)
    page.get_by_label(zh("File"), exact=True).set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": body}]
    )


def uploaded(page: Page) -> str:
    """Upload the chosen file; returns the submission page's address."""
    page.get_by_role("button", name=zh("Upload"), exact=True).click()
    page.wait_for_url("**/portal/submissions/*")
    return page.url


def test_agency_and_branch_exchange_files_through_the_portal(
    world: World, chromium: Browser, tmp_path: Path
) -> None:
    with serving(world.platform) as url:
        agency = signed_in(chromium, url, world, AGENCY, "chen.yating", "agency_officer")
        page = agency.new_page()
        page.goto(f"{url}/portal/")
        page.get_by_role("link", name=zh("Upload")).click()
        page.get_by_role("heading", name=zh("Upload a file")).wait_for()

        # a dry-run shows what is wrong and keeps nothing
        bad = file_of("case_referral", {}, {"obligor_id": "A12345678X"}, {"amount_due": "12,000"})
        choose(page, "case_referral", "113-11-referrals.csv", bad)
        page.get_by_role("button", name=zh("Check only (dry-run)")).click()
        page.get_by_role("heading", name=zh("Dry-run result")).wait_for()
        assert page.locator("#progress").get_attribute("value") == "100"
        assert page.get_by_text(zh("The file would be rejected; nothing was kept.")).is_visible()
        photograph(page, "upload", tmp_path)

        # uploaded anyway, it is rejected with its report
        report_url = uploaded(page)
        assert page.get_by_text(zh("The file is being validated. Reload this page in a moment.")).is_visible()
        world.run()
        page.reload()
        page.get_by_role("heading", name=zh("Validation report")).wait_for()
        assert page.locator(".state-rejected").count() == 1
        assert "A12345678X" not in page.content()  # masked
        page.get_by_label(zh("Severity")).select_option("error")
        page.get_by_role("button", name=zh("Filter")).click()
        page.wait_for_url("**severity=error**")
        assert page.locator("table.findings tbody tr").count() >= 2
        photograph(page, "report", tmp_path)
        with page.expect_download() as xlsx:
            page.get_by_role("link", name="XLSX").click()
        assert xlsx.value.suggested_filename.endswith(".xlsx")
        book = openpyxl.load_workbook(io.BytesIO(Path(xlsx.value.path()).read_bytes()), read_only=True)
        assert book.sheetnames[0] == "摘要" and book.worksheets[-1].max_row >= 3
        with page.expect_download() as ods:
            page.get_by_role("link", name="ODS").click()
        assert ods.value.suggested_filename.endswith(".ods")
        spreadsheet = load_ods(io.BytesIO(Path(ods.value.path()).read_bytes()))
        assert len(spreadsheet.getElementsByType(Table)) >= 2
        assert report_url.startswith(f"{url}/portal/submissions/")

        # a valid referral goes through to its branch
        page.goto(f"{url}/portal/upload")
        choose(page, "case_referral", "113-11-referrals-2.csv", file_of("case_referral"))
        uploaded(page)
        world.run()
        page.reload()
        assert page.locator(".state-delivered").count() == 1

        # the branch looks the case up and sends status feedback on it
        branch = signed_in(chromium, url, world, BRANCH, "lin.zhiming", "branch_officer")
        desk = branch.new_page()
        desk.goto(f"{url}/portal/cases")
        desk.get_by_label(zh("Case number (or a part)")).fill(CASE_NO)
        desk.get_by_role("button", name=zh("Look up")).click()
        desk.get_by_role("cell", name=CASE_NO).wait_for()
        assert "A12****789" in desk.content() and "A123456789" not in desk.content()
        photograph(desk, "cases", tmp_path)
        desk.goto(f"{url}/portal/upload")
        choose(desk, "status_feedback", "113-11-feedback.csv", file_of("status_feedback"))
        uploaded(desk)
        world.run()
        desk.reload()
        assert desk.locator(".state-delivered").count() == 1

        # the agency finds the feedback in its inbox and downloads it in the clear
        page.get_by_role("link", name=zh("Inbox")).click()
        row = page.get_by_role("row").filter(has_text=get_kind("status_feedback").label_zh)
        row.wait_for()
        assert row.count() == 1
        photograph(page, "inbox", tmp_path)
        with page.expect_download() as package:
            row.get_by_role("link", name=zh("Download")).click()
        assert b"ASSIGNED" in Path(package.value.path()).read_bytes()
        row.get_by_role("link", name=zh("Acknowledge")).click()
        page.get_by_role("heading", name=zh("Acknowledge this package?")).wait_for()
        page.get_by_role("button", name=zh("Yes, acknowledge %(kind)s from %(sender)s")[:4]).click()
        page.get_by_text(zh("The package is acknowledged.")).wait_for()
        page.get_by_role("link", name=zh("Inbox"), exact=True).first.click()
        page.get_by_text(zh("Nothing waits for your organisation.")).wait_for()
        agency.close()
        branch.close()

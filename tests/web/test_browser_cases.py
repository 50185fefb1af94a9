"""The everyday pages in Debian's Chromium, at a desktop's 1366 px and a phone's 390 px, in
Traditional Chinese: an agency officer searches the upload list by ROC dates and kind (the search
kept on the next page), looks up the case it referred by a part of its number and reads its
timeline (the branch's case number and officer), then takes a feedback package from the inbox as
XLSX and acknowledges it after a confirmation that names it. With ``AEDX_SCREENSHOTS`` the desktop
pictures of the upload list and the case page are refreshed."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from aedx.storage.tables import Organisation, Submission
from aedx.web.i18n import translations
from tests.builders import VALID
from tests.served import serving
from tests.web.browser_support import photograph
from tests.web.conftest import NEW_PASSWORD
from tests.web.exchange_support import AGENCY, BRANCH, World, file_of, make_world, token_of, upload
from tests.web.test_accessibility import check

zh = translations("zh_TW").gettext
CASE_NO = str(VALID["case_referral"]["agency_case_no"])
FEEDBACK = VALID["status_feedback"]
WIDTHS = {"desktop": 1366, "phone": 390}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "data")
    yield made
    made.platform.close()


def _exchanged(world: World) -> None:
    """A referral taken by its branch, assigned, and a collection reported; a week of earlier files."""
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    assert (
        upload(
            officer, "case_referral", file_of("case_referral"), filename="115-12-referrals.csv"
        ).status_code
        == 201
    )
    world.run()
    branch = world.person(BRANCH, "lin.zhiming", "branch_officer")
    inbox = branch.get("/portal/inbox")
    referral = inbox.text.split('href="/portal/inbox/')[1].split('"')[0].split("/")[0]
    assert branch.get(f"/portal/inbox/{referral}/download").status_code == 200
    assert (
        branch.post(
            f"/portal/inbox/{referral}/acknowledge", data={"csrf_token": token_of(inbox), "confirm": "yes"}
        ).status_code
        == 303
    )
    collected = {"event": "COLLECTED", "event_date": "1131120", "amount": "12000", "agency_case_no": CASE_NO,
                 "branch_case_no": FEEDBACK["branch_case_no"]}  # fmt: skip
    assert upload(branch, "status_feedback", file_of("status_feedback", {}, collected)).status_code == 201
    world.run()
    now = dt.datetime.now(dt.UTC)
    with world.platform.db.transaction() as s:
        sender = s.scalars(select(Organisation).where(Organisation.code == AGENCY)).one()
        for n in range(1, 8):
            at = now - dt.timedelta(days=n)
            sid = f"{int(at.timestamp() * 1000):012x}{n:020x}"  # as ids are made: by time
            s.add(Submission(
                id=sid, sender_id=sender.id, kind="case_referral", format="csv", encoding="utf-8",
                filename=f"115-12-{20 - n:02d}-referrals.csv", sha256=f"{n:064d}", size=100, blob_key=f"x/{sid}",
                state="rejected" if n % 3 == 0 else "acknowledged", records=120 + n, error_rows=3 if n % 3 == 0 else 0,
                warning_rows=0, received_at=at, updated_at=at,
            ))  # fmt: skip


def _signed_in(chromium: Browser, url: str, width: int) -> BrowserContext:
    context = chromium.new_context(
        locale="zh-TW", viewport={"width": width, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.goto(f"{url}/portal/sign-in")
    page.get_by_label(zh("Username")).fill("chen.yating")
    page.get_by_label(zh("Password"), exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name=zh("Sign in")).click()
    page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
    page.close()
    return context


def _fits(page: Page) -> None:
    """The page's own content stays within the screen (wide tables scroll in their box)."""
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('main form, main table, main dl, main ol')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll'))"
        ".map(e => e.tagName)"
    )
    assert overflow == []
    assert check(page.content()) == []


@pytest.mark.parametrize("screen", WIDTHS)
def test_an_agency_searches_its_files_follows_its_case_and_takes_a_package(
    world: World, chromium: Browser, tmp_path: Path, screen: str
) -> None:
    _exchanged(world)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    week_ago = today - dt.timedelta(days=6)
    with serving(world.platform) as url:
        context = _signed_in(chromium, url, WIDTHS[screen])
        page = context.new_page()

        # the upload list, searched by ROC dates and kind
        page.goto(f"{url}/portal/")
        page.get_by_label(zh("Received from")).fill(
            f"{week_ago.year - 1911}/{week_ago.month:02d}/{week_ago.day:02d}"
        )
        page.get_by_label(zh("Received until")).fill(today.isoformat())
        page.get_by_label(zh("Kind"), exact=True).select_option("case_referral")
        page.get_by_role("button", name=zh("Search"), exact=True).click()
        page.wait_for_url("**since=**")
        files = page.locator("a.filename")
        assert files.count() == 7  # the one of 7 days ago is outside the dates
        assert page.get_by_role("link", name="115-12-referrals.csv").is_visible()
        page.get_by_label(zh("State")).select_option("rejected")
        page.get_by_role("button", name=zh("Search"), exact=True).click()
        page.wait_for_url("**state=rejected**")
        assert (
            files.count() == 2 and page.get_by_label(zh("Received until")).input_value() == today.isoformat()
        )
        _fits(page)
        if screen == "desktop":
            page.get_by_label(zh("State")).select_option("")
            page.get_by_role("button", name=zh("Search"), exact=True).click()
            page.wait_for_url("**state=&**")
            photograph(page, "upload-list", tmp_path)

        # the case it referred, found by a part of its number, with its timeline
        page.goto(f"{url}/portal/cases")
        page.get_by_label(zh("Case number (or a part)")).fill(CASE_NO[3:9])
        page.get_by_role("button", name=zh("Look up")).click()
        page.get_by_role("link", name=CASE_NO).click()
        page.get_by_role("heading", name=zh("What happened to the case")).wait_for()
        assert page.locator(".timeline .done").count() == 4  # referred, received, assigned, collected
        assert page.locator(".step-closed.waiting").is_visible()
        assert page.get_by_text(str(FEEDBACK["branch_case_no"])).first.is_visible()
        assert page.get_by_text("林○○").first.is_visible() and "A12****789" in page.content()
        assert page.locator("abbr[title='sly']").first.inner_text() == "士林分署"
        _fits(page)
        if screen == "desktop":
            photograph(page, "case-page", tmp_path)

        # the feedback package as XLSX for people, then acknowledged after a confirmation
        page.goto(f"{url}/portal/inbox")
        page.get_by_label(zh("Sending organisation")).fill("士林")
        page.get_by_role("button", name=zh("Search"), exact=True).click()
        row = page.get_by_role("row").filter(has_text="案件狀態回饋")
        with page.expect_download() as sheet:
            row.get_by_role("link", name="XLSX").click()
        book = openpyxl.load_workbook(io.BytesIO(Path(sheet.value.path()).read_bytes()))
        assert next(book.active.iter_rows(values_only=True))[0] == "分署代號"
        _fits(page)
        row.get_by_role("link", name=zh("Acknowledge")).click()
        page.get_by_role("heading", name=zh("Acknowledge this package?")).wait_for()
        assert "士林分署" in page.locator("dl.facts").inner_text()
        assert check(page.content()) == []
        page.get_by_role("button", name="確認收訖 士林分署 之案件狀態回饋").click()
        page.get_by_role("status").filter(has_text=zh("The package is acknowledged.")).wait_for()
        assert "/portal/inbox/" in page.url and "done=true" in page.url
        assert zh("Acknowledged") in page.locator("dl.facts").inner_text()
        _fits(page)
        context.close()

"""The upload page's checks in Debian's Chromium, at a desktop's and a phone's width: a dry run
finds what the real upload would be refused for, the case index included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from aedx.exchange.codes import ALREADY_OPEN
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.web.i18n import translations
from tests.builders import VALID, records
from tests.served import serving
from tests.web.exchange_support import AGENCY, World, file_of, make_world
from tests.web.test_browser_exchange import choose, signed_in, uploaded

zh = translations("zh_TW").gettext
WIDTHS = [1366, 390]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = make_world(f"sqlite:///{tmp_path / 'aedx.db'}", tmp_path / "data")
    yield made
    made.platform.close()


def checked(page: Page) -> None:
    """Run the dry run of the chosen file and wait for its result."""
    page.get_by_role("button", name=zh("Check only (dry-run)")).click()
    page.get_by_role("heading", name=zh("Dry-run result")).wait_for()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_dry_run_refuses_a_case_already_referred(world: World, chromium: Browser, width: int) -> None:
    with serving(world.platform) as url:
        context = signed_in(chromium, url, world, AGENCY, "chen.yating", "agency_officer")
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        referral = file_of("case_referral")
        page.goto(f"{url}/portal/upload")
        choose(page, "case_referral", "referrals.csv", referral)
        checked(page)
        assert page.get_by_text(zh("The file passes the checks; nothing was kept.")).is_visible()
        uploaded(page)
        world.run()

        page.goto(f"{url}/portal/upload")
        choose(page, "case_referral", "referrals-again.csv", referral)
        checked(page)
        assert page.get_by_text(zh("The file would be rejected; nothing was kept.")).is_visible()
        assert page.get_by_role("cell", name=ALREADY_OPEN.message_zh).is_visible()
        finding = page.locator("table.findings tbody tr").first
        assert page.get_by_role("columnheader", name=zh("Line in file")).count() == 1
        assert finding.locator("td.line").inner_text() == "2"  # record 1, under the header line
        assert finding.locator("td.case-no").inner_text() == VALID["case_referral"]["agency_case_no"]
        table = page.locator("table.findings").bounding_box()
        assert table is not None and table["x"] + table["width"] <= width + 1  # scrolls in its box
        with page.expect_download() as fetched:
            page.get_by_role(
                "button", name=zh("Download the whole report (%(format)s)") % {"format": "CSV"}
            ).click()
        assert fetched.value.suggested_filename == "referrals-again_檢核報告.csv"
        text = Path(fetched.value.path()).read_text(encoding="utf-8-sig")
        assert ALREADY_OPEN.code in text and "檔案行號 Line in file" in text
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_anyone_reads_a_spec_and_takes_its_sample_without_signing_in(
    world: World, chromium: Browser, width: int
) -> None:
    with serving(world.platform) as url:
        context = chromium.new_context(
            locale="zh-TW", viewport={"width": width, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(f"{url}/portal/kinds")
        page.get_by_role("link", name=get_kind("payment").label_zh).click()
        page.get_by_text(zh("Spec version")).wait_for()
        assert (
            page.get_by_role("link", name="JSON", exact=True).get_attribute("href") == "/api/v1/kinds/payment"
        )
        with page.expect_download() as sample:
            page.get_by_role("link", name="payment-sample-utf-8.csv", exact=True).click()
        assert Path(sample.value.path()).read_bytes().startswith(b"agency_code")
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_form_proposes_what_it_detects_in_the_chosen_file(
    world: World, chromium: Browser, width: int
) -> None:
    referrals = encode_records(records("case_referral", {}, {}), get_kind("case_referral"), "fixed", "cp950")
    with serving(world.platform) as url:
        context = signed_in(chromium, url, world, AGENCY, "chen.yating", "agency_officer")
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{url}/portal/upload")
        choose(page, "payment", "referrals.txt", referrals)  # the wrong kind, format and encoding chosen
        detected = page.get_by_role("status").filter(has_text="偵測為")
        detected.wait_for()
        assert detected.inner_text() == "偵測為 固定長度、Big5 (CP950) 編碼、〈移送案件〉，已代為選取。"
        assert page.get_by_label(zh("Kind of file")).input_value() == "case_referral"
        assert page.get_by_label(zh("Format")).input_value() == "fixed"
        assert page.get_by_label(zh("Encoding")).input_value() == "cp950"
        checked(page)
        assert page.get_by_text(zh("The file passes the checks; nothing was kept.")).is_visible()
        context.close()

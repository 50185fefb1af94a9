"""The spec pages and the contact directory in Debian's Chromium: an agency's administrator reads
the spec of a kind and adds a contact person with the keyboard; kinds.png and contacts.png are
photographed."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from aedx.accounts import organisations as orgs
from aedx.kinds import get_kind
from aedx.sim import contacts as demo_contacts
from aedx.web.i18n import translations
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph
from tests.web.conftest import Portal

zh = translations("zh_TW").gettext
AGENCY = "A383000000"


def test_an_agency_administrator_reads_a_spec_and_keeps_the_contacts(
    portal: Portal, chromium: Browser, tmp_path: Path
) -> None:
    with portal.platform.db.transaction() as s:
        demo_contacts.seed(s, orgs.operator(s, "test"))
    initial = portal.person(AGENCY, "lin.yating", "agency_admin")
    kind = get_kind("payment")
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        first_sign_in(page, url, "lin.yating", initial)
        page.get_by_role("heading", name=zh("Recent submissions")).wait_for()

        page.get_by_role("link", name=zh("Exchange kinds")).click()
        page.get_by_role("link", name=kind.label_zh).click()
        page.get_by_role("heading", level=1).wait_for()
        assert kind.label_zh in page.locator("h1").inner_text()
        fields = page.get_by_role(
            "table", name=zh("Fields of %(kind)s, in file order") % {"kind": kind.label_zh}
        )
        assert fields.locator("tbody tr").count() == len(kind.fields)
        photograph(page, "kinds", tmp_path)
        with page.expect_download() as download:
            page.get_by_role("link", name=f"{kind.name}-sample-utf-8.csv").click()
        assert download.value.suggested_filename == f"{kind.name}-sample-utf-8.csv"

        page.get_by_role("link", name=zh("Contacts"), exact=True).click()
        page.get_by_label(zh("Search")).fill("分署")
        page.keyboard.press("Enter")
        page.get_by_text("共 13 個機關").wait_for()
        assert page.get_by_role("link", name="士林分署").count() == 1
        assert page.get_by_text("書記官").count() == 13  # each branch's contact people
        photograph(page, "contacts", tmp_path)

        page.goto(f"{url}/portal/contacts/{AGENCY}")
        page.get_by_label(zh("Full name")).last.fill("陳美玲")
        page.get_by_label(zh("Title")).last.fill("科員")
        page.get_by_label(zh("Phone")).last.fill("(02)2311-3711#5678")
        page.get_by_label(zh("E-mail")).last.focus()
        page.keyboard.type("chen.meiling@example.gov.tw")
        page.keyboard.press("Enter")  # the form is sent from the keyboard
        page.get_by_role("cell", name="(02)2311-3711#5678").wait_for()
        assert page.get_by_role("row", name="陳美玲").count() == 1
        context.close()

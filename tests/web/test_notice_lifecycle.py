"""The notification centre after the facts moved on, on both databases: a package downloaded in the
portal is shown as taken, when and how, and no longer counted as unread; then as acknowledged. The
preference page offers e-mail each time or in the daily digest, and fits a phone's screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from aedx.notify import events
from aedx.notify.events import Channel, Event
from aedx.storage.tables import Delivery
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph, zh
from tests.web.conftest import Portal
from tests.web.exchange_support import AGENCY, BRANCH, World, file_of, make_world, token_of, upload
from tests.web.notify_support import user_id

TAKEN = re.compile(
    r'<span class="settled-state">(已下載|已確認收受)（\d{3}/\d\d/\d\d \d\d:\d\d，由入口網站）</span>'
)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    made = make_world(database_url, tmp_path / "data")
    yield made
    made.platform.close()


def test_a_package_downloaded_in_the_portal_is_shown_as_taken(world: World) -> None:
    branch = world.person(BRANCH, "lin.zhiming", "branch_officer")  # hears of the package
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    assert upload(officer, "case_referral", file_of("case_referral")).status_code == 201
    world.run()
    with world.platform.db.transaction() as s:
        package = s.scalars(select(Delivery)).one()

    waiting = branch.get("/portal/notifications")
    assert (
        "未讀通知：1" in waiting.text
        and "待下載" in waiting.text
        and 'class="settled-state"' not in waiting.text
    )
    assert branch.get(f"/portal/inbox/{package.id}/download").status_code == 200

    taken = branch.get("/portal/notifications")
    assert "未讀通知：0" in taken.text and "待下載" not in taken.text
    assert "已送達貴機關收件匣" in taken.text and 'class="notice-item settled"' in taken.text
    found = TAKEN.search(taken.text)
    assert found is not None and found.group(1) == "已下載"
    done = branch.post(
        f"/portal/inbox/{package.id}/acknowledge", data={"csrf_token": token_of(taken), "confirm": "yes"}
    )
    assert done.status_code == 303
    found = TAKEN.search(branch.get("/portal/notifications").text)
    assert found is not None and found.group(1) == "已確認收受"
    english = branch.get("/portal/notifications", headers={"accept-language": "en"})
    assert "Acknowledged (" in english.text and "in the portal)" in english.text


def test_the_daily_digest_is_chosen_on_the_preference_page_at_a_phones_width(
    portal: Portal, chromium: Browser, tmp_path: Path
) -> None:
    initial = portal.person("A383000000", "chen.mei", "agency_officer")
    with serving(portal.platform) as url:
        context = chromium.new_context(locale="zh-TW", viewport={"width": 390, "height": 844})
        page = context.new_page()
        first_sign_in(page, url, "chen.mei", initial)
        page.get_by_role("heading", name=zh("Recent submissions")).wait_for()
        page.goto(f"{url}/portal/notifications/preferences")
        rejected = page.get_by_label(f"{zh('Submission rejected')}：{zh('By e-mail')}")
        assert rejected.input_value() == "each"  # the default
        rejected.select_option(label=zh("In the daily digest"))
        page.get_by_label(f"{zh('Package ready in the inbox')}：{zh('By e-mail')}").select_option("each")
        assert "17:00" in page.locator("#digest-hint").inner_text()
        sizes = page.evaluate(
            """() => ({width: document.documentElement.clientWidth,
                       document: document.documentElement.scrollWidth,
                       table: document.querySelector("table.preferences").getBoundingClientRect().right,
                       select: document.querySelector("#email-rejected").getBoundingClientRect().right})"""
        )
        assert sizes["document"] <= sizes["width"] and sizes["table"] <= sizes["width"] + 1, sizes
        assert sizes["select"] <= sizes["width"], sizes
        photograph(page, "notification-preferences-phone", tmp_path)
        page.get_by_role("button", name=zh("Save preferences")).click()
        page.get_by_role("status").wait_for()
        assert page.get_by_label(f"{zh('Submission rejected')}：{zh('By e-mail')}").input_value() == "digest"
        context.close()
    me = user_id(portal, "chen.mei")
    with portal.platform.db.transaction() as s:
        chosen = events.preferences(s, me)
    assert chosen[Event.REJECTED, Channel.DIGEST] and not chosen[Event.REJECTED, Channel.EMAIL]
    assert chosen[Event.PACKAGE_READY, Channel.EMAIL] and not chosen[Event.PACKAGE_READY, Channel.DIGEST]
    assert chosen[Event.FILE_MISSING, Channel.EMAIL]  # untouched: as it was

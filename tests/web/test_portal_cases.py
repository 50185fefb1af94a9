"""The everyday pages over HTTP, on SQLite and PostgreSQL: the upload list searched by dates (ROC
and ISO), sender, kind, state and file name, its pages keeping the search; organisations shown by
name; an agency's case lookup and case page with the branch's feedback; the inbox newest first,
searched, its packages as tables for people and a day's packages in one zip; acknowledging after
a confirmation that names the package."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aedx.accounts import organisations as orgs
from aedx.storage.tables import AuditEvent, CaseEvent, Delivery
from aedx.web.i18n import translations
from tests.builders import VALID
from tests.web.conftest import Portal, signed_in
from tests.web.exchange_support import (
    AGENCY,
    BRANCH,
    OTHER_BRANCH,
    PORTAL_AGENCY,
    World,
    file_of,
    make_world,
    token_of,
    upload,
)

zh = translations("zh_TW").gettext


def matching(n: int) -> str:
    said = translations("zh_TW").ngettext(
        "%(n)d matching case, newest first", "%(n)d matching cases, newest first", n
    )
    return said % {"n": n}


CASE_NO = str(VALID["case_referral"]["agency_case_no"])
FEEDBACK = VALID["status_feedback"]


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    made = make_world(database_url, tmp_path / "data")
    yield made
    made.platform.close()


def _shown(page: str) -> list[str]:
    """The file names the upload list shows, in order."""
    return [part.split("</a>")[0].split(">")[-1] for part in page.split('class="filename"')[1:]]


def _audits(world: World, action: str, outcome: str = "ok") -> int:
    with world.platform.db.transaction() as s:
        stmt = select(func.count()).select_from(AuditEvent)
        return int(s.scalar(stmt.where(AuditEvent.action == action, AuditEvent.outcome == outcome)) or 0)


# --- the upload list


def test_the_upload_list_is_searched_by_dates_kind_state_and_file_name(portal: Portal) -> None:
    day = dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)  # 115/12/05 in Taipei
    for n, days_before in enumerate((0, 1, 2, 10)):
        portal.submission("A383000000", n, at=day - dt.timedelta(days=days_before))
    portal.submission("A383000000", 9, state="rejected", at=day)
    portal.submission("A397000000", 5, at=day)  # another agency's
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")

    everything = officer.get("/portal/")
    assert _shown(everything.text) == [f"A383000000-{n}.csv" for n in (9, 3, 2, 1, 0)]  # by id, newest first
    assert zh("Files your organisation sent, newest first") in everything.text
    roc = officer.get("/portal/", params={"since": "115/12/04", "until": "115/12/05"})
    assert _shown(roc.text) == [f"A383000000-{n}.csv" for n in (9, 1, 0)]
    iso = officer.get("/portal/", params={"since": "2026-12-04", "until": "2026-12-05"})
    assert _shown(iso.text) == _shown(roc.text)
    assert 'value="115/12/04"' in roc.text  # the search is shown back as typed
    rejected = officer.get("/portal/", params={"state": "rejected"})
    assert _shown(rejected.text) == ["A383000000-9.csv"]
    named = officer.get("/portal/", params={"filename": "-2.c"})
    assert _shown(named.text) == ["A383000000-2.csv"]
    assert _shown(officer.get("/portal/", params={"kind": "payment"}).text) == []
    wrong = officer.get("/portal/", params={"since": "12/05"})
    assert 'role="alert"' in wrong.text and 'aria-invalid="true"' in wrong.text
    assert officer.get("/portal/", params={"filename": "%"}).text.count('class="filename"') == 0  # literal


def test_the_upload_list_pages_keep_the_search(portal: Portal) -> None:
    for n in range(60):
        portal.submission("A383000000", n, state="rejected" if n % 2 else "accepted")
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")
    page1 = officer.get("/portal/", params={"state": "accepted", "filename": "A383"})
    assert len(_shown(page1.text)) == 25
    older = page1.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "state=accepted" in older and "filename=A383" in older and "before=" in older
    page2 = officer.get(older)
    assert [int(name[11:-4]) for name in _shown(page2.text)] == [8, 6, 4, 2, 0]
    assert 'rel="next"' not in page2.text and 'href="/portal/?state=accepted&amp;filename=A383"' in page2.text


def test_hq_searches_every_sender_by_name_or_code_and_sees_names(portal: Portal) -> None:
    portal.submission("A383000000", 1)
    portal.submission("A397000000", 2)
    auditor = signed_in(portal, orgs.HQ_CODE, "li.shenji", "hq_auditor")
    every = auditor.get("/portal/")
    assert zh("Files every organisation sent, newest first") in every.text
    assert '<abbr title="A383000000">財政部臺北國稅局</abbr>' in every.text
    by_name = auditor.get("/portal/", params={"sender": "健康保險"})
    assert _shown(by_name.text) == ["A397000000-2.csv"]
    by_code = auditor.get("/portal/", params={"sender": "a383000000"})
    assert _shown(by_code.text) == ["A383000000-1.csv"]
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")
    assert _shown(officer.get("/portal/", params={"sender": "A397000000"}).text) == ["A383000000-1.csv"]


# --- cases


def _referred_and_assigned(world: World) -> tuple[TestClient, TestClient]:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    company = {"obligor_type": "C", "obligor_id": "12345675", "obligor_name": "好公司", "obligor_birth_date": None,
               "representative_name": "陳大同", "representative_id": "B123456780"}  # fmt: skip
    assert upload(officer, "case_referral", file_of("case_referral", {}, company)).status_code == 201
    world.run()
    branch = world.person(BRANCH, "lin.zhiming", "branch_supervisor")
    inbox = branch.get("/portal/inbox")
    with world.platform.db.transaction() as s:
        referral = s.scalars(select(Delivery.id).where(Delivery.kind == "case_referral")).one()
    assert branch.get(f"/portal/inbox/{referral}/download").status_code == 200  # taken, then acknowledged
    done = branch.post(
        f"/portal/inbox/{referral}/acknowledge", data={"csrf_token": token_of(inbox), "confirm": "yes"}
    )
    assert done.status_code == 303
    feedback = file_of("status_feedback", {},
                       {"agency_case_no": CASE_NO, "event": "COLLECTED", "event_date": "1131110", "amount": "12000",
                        "branch_case_no": FEEDBACK["branch_case_no"]})  # fmt: skip
    assert upload(branch, "status_feedback", feedback).status_code == 201
    world.run()
    return officer, branch


def test_an_agency_finds_its_referral_by_part_of_its_number_or_by_name_and_birth_date(world: World) -> None:
    officer, _ = _referred_and_assigned(world)
    part = officer.get("/portal/cases", params={"number": "TAX0001"})
    assert part.status_code == 200 and matching(2) in part.text
    assert "A12****789" in part.text and "A123456789" not in part.text
    by_branch_no = officer.get("/portal/cases", params={"number": "營所稅執特專字第0002735"})
    assert CASE_NO in by_branch_no.text
    person = officer.get("/portal/cases", params={"name": "王 小明", "birth_date": "70/01/01"})
    assert matching(1) in person.text
    iso = officer.get("/portal/cases", params={"name": "王小明", "birth_date": "1981-01-01"})
    assert matching(1) in iso.text
    assert zh("No case matches.") in officer.get(
        "/portal/cases", params={"name": "王小明", "birth_date": "70/01/02"}).text  # fmt: skip
    alone = officer.get("/portal/cases", params={"name": "王小明"})
    assert 'role="alert"' in alone.text and "出生日期" in alone.text
    wrong = officer.get("/portal/cases", params={"name": "王小明", "birth_date": "soon"})
    assert 'aria-invalid="true"' in wrong.text
    assert '<abbr title="sly">' in part.text  # the branch by name
    stranger = world.person(PORTAL_AGENCY, "wu.meiling", "agency_officer")
    assert zh("No case matches.") in stranger.get("/portal/cases", params={"number": "TAX"}).text
    assert world.person(OTHER_BRANCH, "huang.zhiwei", "branch_officer").get(
        "/portal/cases", params={"number": "TAX"}).text.count("/portal/cases/") == 0  # fmt: skip


def test_the_case_page_shows_the_timeline_with_the_branch_number_and_officer(world: World) -> None:
    officer, branch = _referred_and_assigned(world)
    listing = officer.get("/portal/cases", params={"number": CASE_NO})
    link = next(
        p.split('"')[0] for p in listing.text.split('href="/portal/cases/')[1:] if f">{CASE_NO}</a>" in p[:40]
    )
    page = officer.get(f"/portal/cases/{link}")
    assert page.status_code == 200
    for step in ("step-referred done", "step-received done", "step-assigned done", "step-collected done",
                 "step-closed waiting"):  # fmt: skip
        assert step in page.text, step
    assert str(FEEDBACK["branch_case_no"]) in page.text and "林○○" in page.text
    assert "12,000" in page.text and "A12****789" in page.text
    with world.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == 2
    assert officer.get(f"/portal/cases/{link}", params={"unmask": "true"}).status_code == 403
    unmasked = branch.get(f"/portal/cases/{link}", params={"unmask": "true"})
    assert "A123456789" in unmasked.text and _audits(world, "personal_data.unmask") == 1
    stranger = world.person(PORTAL_AGENCY, "wu.meiling", "agency_officer")
    assert stranger.get(f"/portal/cases/{link}").status_code == 404
    assert _audits(world, "case.read", "denied") == 1


def test_matching_cases_are_exported_masked_as_xlsx_and_csv(world: World) -> None:
    officer, _ = _referred_and_assigned(world)
    sheet = officer.get("/portal/cases/export.xlsx", params={"number": "TAX"})
    assert sheet.status_code == 200 and sheet.headers["content-disposition"].startswith("attachment")
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0][:2] == (zh("Agency"), zh("Agency case number")) and len(rows) == 3
    assert "A12****789" in {r[4] for r in rows[1:]} and "A123456789" not in str(rows)
    text = officer.get("/portal/cases/export.csv", params={"number": "TAX"}).content
    assert text.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert table[0][1] == zh("Agency case number") and len(table) == 3
    assert "A123456789" not in text.decode()
    assert officer.get("/portal/cases/export.pdf", params={"number": "TAX"}).status_code == 404


# --- the inbox


def _two_feedback_packages(world: World) -> tuple[TestClient, list[str]]:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    assert upload(officer, "case_referral", file_of("case_referral", {}, {})).status_code == 201
    world.run()
    branch = world.person(BRANCH, "lin.zhiming", "branch_officer")
    assert upload(branch, "status_feedback", file_of("status_feedback")).status_code == 201
    world.run()
    assert upload(branch, "status_feedback", file_of("status_feedback", {"agency_case_no": f"{CASE_NO}-1",
                  "branch_case_no": "士執午113年營所稅執特專字第00027351號"})).status_code == 201  # fmt: skip
    world.run()
    with world.platform.db.transaction() as s:
        ids = list(
            s.scalars(select(Delivery.id).where(Delivery.kind == "status_feedback").order_by(Delivery.id))
        )
    return officer, ids


def test_the_inbox_is_newest_first_and_searched_by_sender_and_day(world: World) -> None:
    officer, (older, newer) = _two_feedback_packages(world)
    page = officer.get("/portal/inbox")
    assert page.text.index(newer) < page.text.index(older)
    assert '<abbr title="sly">' in page.text
    assert older in officer.get("/portal/inbox", params={"sender": "士林"}).text
    assert zh("No package matches the search.") in officer.get("/portal/inbox", params={"sender": "tpy"}).text
    with world.platform.db.transaction() as s:
        ready = s.scalars(select(Delivery.ready_at).where(Delivery.id == older)).one()
    day = ready.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    roc = f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"
    assert newer in officer.get("/portal/inbox", params={"since": roc, "until": roc}).text
    before = day - dt.timedelta(days=1)
    assert zh("No package matches the search.") in officer.get(
        "/portal/inbox", params={"until": before.isoformat()}).text  # fmt: skip

    # a day's packages in one zip, each a download
    archive = officer.get("/portal/inbox/day.zip", params={"day": day.isoformat()})
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(names) == sorted(f"sly-status_feedback-{i}.csv" for i in (older, newer))
    assert _audits(world, "delivery.download") == 2
    empty = officer.get("/portal/inbox/day.zip", params={"day": before.isoformat()})
    assert zipfile.ZipFile(io.BytesIO(empty.content)).namelist() == []


def test_a_package_downloads_as_a_table_for_people_with_the_kind_labels(world: World) -> None:
    officer, (first, _) = _two_feedback_packages(world)
    text = officer.get(f"/portal/inbox/{first}/table.csv")
    assert text.status_code == 200 and text.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["分署代號", "分署案號", "移送機關代號"] and table[1][4] == "ASSIGNED"
    book = openpyxl.load_workbook(io.BytesIO(officer.get(f"/portal/inbox/{first}/table.xlsx").content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "分署代號" and rows[1][1] == FEEDBACK["branch_case_no"] and len(rows) == 2
    machine = officer.get(f"/portal/inbox/{first}/download")
    assert machine.content.startswith(b"branch_code,")  # clients' format unchanged


def test_acknowledging_asks_naming_the_package_then_shows_it(world: World) -> None:
    officer, (first, second) = _two_feedback_packages(world)
    inbox = officer.get("/portal/inbox")
    assert f'action="/portal/inbox/{first}/acknowledge"' not in inbox.text  # no one-click form
    assert officer.get(f"/portal/inbox/{first}/download").status_code == 200
    asked = officer.get(f"/portal/inbox/{first}/acknowledge")
    assert zh("Acknowledge this package?") in asked.text and first in asked.text
    assert "士林分署" in asked.text and "案件狀態回饋" in asked.text
    assert f'action="/portal/inbox/{first}/acknowledge"' in asked.text
    done = officer.post(
        f"/portal/inbox/{first}/acknowledge", data={"csrf_token": token_of(asked), "confirm": "yes"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/portal/inbox/{first}?done=true"
    shown = officer.get(done.headers["location"])
    assert zh("The package is acknowledged.") in shown.text and first in shown.text
    with world.platform.db.transaction() as s:
        states = dict(
            s.execute(select(Delivery.id, Delivery.state).where(Delivery.id.in_([first, second]))).all()
        )
    assert states == {first: "acknowledged", second: "ready"}
    assert (
        officer.post(
            f"/portal/inbox/{second}/acknowledge", data={"csrf_token": "x", "confirm": "yes"}
        ).status_code
        == 403
    )


def test_acknowledging_needs_the_download_first_and_the_confirmation(world: World) -> None:
    officer, (first, _) = _two_feedback_packages(world)
    early = zh("Download it completely first; then it can be acknowledged.")
    assert zh("Not downloaded yet") in officer.get("/portal/inbox").text
    assert early in officer.get(f"/portal/inbox/{first}").text
    asked = officer.get(f"/portal/inbox/{first}/acknowledge")
    told = zh("The package has not been downloaded completely yet: download it first, then acknowledge it.")
    assert told in asked.text and 'name="confirm"' not in asked.text  # no button that would fail
    assert officer.get(f"/portal/inbox/{first}/download").status_code == 200
    asked = officer.get(f"/portal/inbox/{first}/acknowledge")
    assert told not in asked.text and '<input type="hidden" name="confirm" value="yes">' in asked.text
    bare = officer.post(f"/portal/inbox/{first}/acknowledge", data={"csrf_token": token_of(asked)})
    assert bare.status_code == 303 and bare.headers["location"] == f"/portal/inbox/{first}/acknowledge"
    with world.platform.db.transaction() as s:
        assert s.scalars(select(Delivery.state).where(Delivery.id == first)).one() == "ready"  # nothing done
    done = officer.post(
        f"/portal/inbox/{first}/acknowledge", data={"csrf_token": token_of(asked), "confirm": "yes"}
    )
    assert done.headers["location"] == f"/portal/inbox/{first}?done=true"
    with world.platform.db.transaction() as s:
        assert s.scalars(select(Delivery.state).where(Delivery.id == first)).one() == "acknowledged"

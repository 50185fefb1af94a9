"""The exchange pages over HTTP, on SQLite and PostgreSQL: uploads by people (sealed at rest, the
grants checked, idempotent), the dry-run that keeps nothing, the submission page with its report
filtered and exported, the inbox (clear download, acknowledgement), the case lookup; deny by
default, other organisations' objects not found, CSRF refused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import openpyxl
import pytest
from odf.opendocument import load as load_ods
from odf.table import TableRow
from sqlalchemy import func, select

from aedx.exchange import submissions
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import AuditEvent, Delivery, Submission
from aedx.trust import cms
from aedx.web.i18n import translations
from tests.builders import VALID, records
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
BAD_ID = {"obligor_id": "A12345678X"}  # fails the ID check


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    made = make_world(database_url, tmp_path / "data")
    yield made
    made.platform.close()


def _submitted(world: World, browser: object, kind: str, body: bytes) -> str:
    answer = upload(browser, kind, body)  # type: ignore[arg-type]
    assert answer.status_code == 201, answer.text
    return str(answer.json()["location"]).rsplit("/", 1)[1]


def _audits(world: World, action: str, outcome: str | None = None) -> int:
    with world.platform.db.transaction() as s:
        stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        if outcome:
            stmt = stmt.where(AuditEvent.outcome == outcome)
        return int(s.scalar(stmt) or 0)


def _files(folder: Path) -> Iterator[bytes]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


def test_an_upload_is_sealed_at_rest_validated_and_idempotent(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    form = officer.get("/portal/upload")
    assert form.status_code == 200 and 'id="progress"' in form.text
    assert "case_referral" in form.text and "status_feedback" not in form.text  # only what it may send
    body = file_of("case_referral", {}, {}, {"agency_case_no": "113TAX-UNIQUE-MARK"})
    sid = _submitted(world, officer, "case_referral", body)

    # no clear copy anywhere in the data folder: the stored file is CMS the platform opens
    marker = b"113TAX-UNIQUE-MARK"
    assert not any(marker in data for data in _files(world.platform.settings.data_dir))
    with world.platform.db.transaction() as s:
        sub = s.get_one(Submission, sid)
        stored = world.platform.blobs.path(sub.blob_key).read_bytes()
        assert sub.envelope_sha256 is not None and sub.size == len(stored) > len(body)  # the envelope's
        actor = s.scalar(select(AuditEvent.actor).where(AuditEvent.action == "submission.received"))
    opened = cms.unwrap(stored, world.platform.decrypter)
    assert bytes(opened.content) == body and opened.signer == world.platform.signer.certificate
    assert actor is not None and actor.startswith("user:")

    page = officer.get(f"/portal/submissions/{sid}")
    assert (
        page.status_code == 200
        and zh("The file is being validated. Reload this page in a moment.") in page.text
    )
    assert world.run() == 1
    page = officer.get(f"/portal/submissions/{sid}")
    assert zh("Validation report") in page.text and "<time" in page.text
    assert 'class="state state-delivered"' in page.text  # routed to the branch and delivered

    again = upload(officer, "case_referral", body)
    assert again.status_code == 201 and again.json() == {
        "location": f"/portal/submissions/{sid}",
        "duplicate": True,
    }
    with world.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 1


def test_grants_limits_and_formats_are_refused_with_clear_messages(world: World, tmp_path: Path) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    refused = upload(officer, "status_feedback", file_of("status_feedback"))
    assert refused.status_code == 403 and "未獲授權傳送" in refused.json()["error"]
    wrong = upload(officer, "case_referral", file_of("case_referral"), format="xml")
    assert wrong.status_code == 400 and "xml" in wrong.json()["error"]
    assert _audits(world, "submission.create", "denied") == 1

    small = make_world(world.platform.settings.database_url, tmp_path / "small", max_upload_bytes=100)
    try:
        browser = small.person(AGENCY, "lee.mei", "agency_officer")
        big = upload(browser, "case_referral", file_of("case_referral"))
        assert big.status_code == 413 and "MB" in big.json()["error"]
        assert not list((small.platform.settings.data_dir / "blobs").rglob("*.scratch"))
    finally:
        small.platform.close()


def test_a_dry_run_reports_and_keeps_nothing(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    before = sorted(p.name for p in world.platform.settings.data_dir.rglob("*"))
    answer = upload(officer, "case_referral", file_of("case_referral", {}, BAD_ID), check=True)
    assert answer.status_code == 200, answer.text
    assert zh("The file would be rejected; nothing was kept.") in answer.text
    assert "A12345678X" not in answer.text  # personal values masked
    cells = answer.text.split("<tbody>")[1].split("</tr>")[0]
    assert f'<th scope="col" class="number">{zh("Line in file")}</th>' in answer.text
    assert '<td class="number">2</td>' in cells and '<td class="number line">3</td>' in cells  # header
    assert f'<td class="case-no">{VALID["case_referral"]["agency_case_no"]}-1</td>' in cells
    assert sorted(p.name for p in world.platform.settings.data_dir.rglob("*")) == before
    with world.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
    ok = upload(officer, "case_referral", file_of("case_referral"), check=True)
    assert zh("The file passes the checks; nothing was kept.") in ok.text
    assert _audits(world, "submission.check") == 2


def test_a_dry_run_report_downloads_without_the_file_being_kept(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    before = sorted(p.name for p in world.platform.settings.data_dir.rglob("*"))
    body = file_of("case_referral", {}, BAD_ID | {"postcode": "=1+1"})
    shown = upload(officer, "case_referral", body, check=True, filename="移送0105.csv")
    assert zh("Download the whole report (%(format)s)") % {"format": "XLSX"} in shown.text
    sheet = upload(officer, "case_referral", body, check=True, filename="移送0105.csv", report="csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"] == (
        "attachment; filename=\"0105_report.csv\"; filename*=UTF-8''"
        + quote("移送0105_檢核報告.csv", safe="")
    )
    text = sheet.content.decode("utf-8-sig")
    assert "檔案行號 Line in file" in text and "id.format" in text and "A12345678X" not in text
    assert ",'=1+1\n" in text  # no live formula
    book = upload(officer, "case_referral", body, check=True, filename="x.csv", report="xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(book.content)).worksheets[-1].iter_rows(values_only=True))
    assert rows[0][1] == "檔案行號 Line in file" and {r[1] for r in rows[1:]} == {3}
    assert upload(officer, "case_referral", body, check=True, report="exe").status_code == 400
    assert sorted(p.name for p in world.platform.settings.data_dir.rglob("*")) == before
    with world.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_long_dry_run_points_to_the_whole_report_download(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    shown = upload(
        officer, "case_referral", file_of("case_referral", *(BAD_ID for _ in range(210))), check=True
    )
    assert "僅顯示 210 筆中之前 200 筆" in shown.text and "下載完整報告" in shown.text
    assert "正式上傳後" not in shown.text  # the upload is not needed for the whole report


def test_a_big5_file_sent_as_utf8_gets_one_sentence(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    body = file_of("case_referral", *({} for _ in range(40))).decode().encode("cp950")
    answer = upload(officer, "case_referral", body, check=True)
    assert "此檔案似為 Big5 編碼，請改選 Big5 後重新上傳" in answer.text
    assert "encoding.undecodable" not in answer.text and answer.text.count("<tr>") == 2


def test_a_file_of_another_kind_gets_one_sentence_in_the_dry_run_and_the_report(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    payments = file_of("payment", *({} for _ in range(60)))
    checked = upload(officer, "case_referral", payments, check=True)
    assert "此檔案之欄位似為〈繳款資料〉，而非所選之〈移送案件〉" in checked.text
    assert "file.other_kind" in checked.text and checked.text.count("<tr>") == 2
    sid = _submitted(world, officer, "case_referral", payments)
    world.run()
    shown = officer.get(f"/portal/submissions/{sid}")
    assert "此檔案之欄位似為〈繳款資料〉" in shown.text and "header.unknown" not in shown.text


def _detect(browser: object, body: bytes, token: str | None = None) -> httpx.Response:
    token = token or token_of(browser.get("/portal/upload"))  # type: ignore[attr-defined]
    return browser.post(  # type: ignore[attr-defined,no-any-return]
        "/portal/upload/detect", content=body[:65536],
        headers={"X-CSRF-Token": token, "Content-Type": "application/octet-stream"},
    )  # fmt: skip


def test_the_form_proposes_the_format_encoding_and_kind_it_detects(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    form = officer.get("/portal/upload")
    assert 'data-detect="/portal/upload/detect"' in form.text and 'id="detected"' in form.text
    big5 = file_of("case_referral", *({} for _ in range(500))).decode().encode("cp950")
    found = _detect(officer, big5).json()
    assert (found["format"], found["encoding"], found["kind"]) == ("csv", "cp950", "case_referral")
    assert found["message"] == "偵測為 CSV（逗號分隔）、Big5 (CP950) 編碼、〈移送案件〉，已代為選取。"
    fixed = encode_records(records("payment", {}, {}), get_kind("payment"), "fixed", "utf-8")
    found = _detect(officer, fixed).json()
    assert (found["format"], found["encoding"], found["kind"]) == ("fixed", None, "payment")
    jsonl = encode_records(records("payment"), get_kind("payment"), "jsonl", "utf-8")
    assert _detect(officer, jsonl).json()["format"] == "jsonl"
    assert _detect(officer, b"hello\n").json() == {
        "format": None,
        "encoding": None,
        "kind": None,
        "message": None,
    }
    assert _detect(officer, big5, token="x" * 43).status_code == 403
    hq = world.hq_person("lin.meihua")  # sends nothing
    assert _detect(hq, big5, token=token_of(hq.get("/portal/"))).status_code == 403


def test_the_upload_needs_the_csrf_token_and_the_permission(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    forged = upload(officer, "case_referral", file_of("case_referral"), token="x" * 43)
    assert forged.status_code == 403
    assert _audits(world, "portal.csrf", "denied") == 1
    hq = world.hq_person("lin.meihua")  # reads submissions, sends nothing
    assert hq.get("/portal/upload").status_code == 403
    assert hq.get("/portal/inbox").status_code == 403
    assert world.portal.browser().get("/portal/upload").status_code == 303  # signed out: to sign-in
    with world.platform.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0


def test_the_report_filters_pages_and_exports(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    bad = [BAD_ID | {"amount_due": "x"} for _ in range(30)]
    answer = upload(officer, "case_referral", file_of("case_referral", *bad), filename="移送 0105.csv")
    sid = str(answer.json()["location"]).rsplit("/", 1)[1]
    world.run()
    page = officer.get(f"/portal/submissions/{sid}")
    assert 'class="state state-rejected"' in page.text and "<caption>" in page.text
    assert "A12345678X" not in page.text
    assert zh("Page %(page)d of %(pages)d") % {"page": 1, "pages": 3} in page.text
    codes = officer.get(f"/portal/submissions/{sid}", params={"field": "obligor_id", "severity": "error"})
    rows = codes.text.count("<tr>") - 1
    assert 0 < rows <= 25 and "amount_due" not in codes.text.split("<tbody>")[1]
    nothing = officer.get(f"/portal/submissions/{sid}", params={"code": "no.such.code"})
    assert zh("No findings match.") in nothing.text
    last = officer.get(f"/portal/submissions/{sid}", params={"page": 3})
    assert last.text.count("<tr>") - 1 == 60 - 2 * 25  # two findings on each of 30 records
    assert zh("Show personal data unmasked") not in page.text  # an agency officer may not unmask
    assert officer.get(f"/portal/submissions/{sid}", params={"unmask": "true"}).status_code == 403
    assert _audits(world, "personal_data.unmask", "denied") == 1

    xlsx = officer.get(f"/portal/submissions/{sid}/report.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    sheet = list(book.worksheets[-1].iter_rows(values_only=True))
    with world.platform.db.transaction() as s:
        report = submissions.report(world.platform, s.get_one(Submission, sid))
    assert len(sheet) == report.findings.height + 1  # every finding, under a heading
    assert {row[4] for row in sheet[1:]} == set(report.findings["code"].to_list())
    assert "A12345678X" not in [str(c) for row in sheet for c in row]
    ods = officer.get(f"/portal/submissions/{sid}/report.ods")
    assert ods.status_code == 200 and ods.content[:2] == b"PK"
    document = load_ods(io.BytesIO(ods.content))
    assert len(document.getElementsByType(TableRow)) > 30
    csv = officer.get(f"/portal/submissions/{sid}/report.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    named = quote(f"移送 0105_檢核報告_{sid}.csv", safe="")
    assert csv.headers["content-disposition"] == (
        f"attachment; filename=\"0105_report_{sid}.csv\"; filename*=UTF-8''{named}"
    )
    assert officer.get(f"/portal/submissions/{sid}/report.exe").status_code == 404


def test_other_organisations_submissions_and_deliveries_are_not_found(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    sid = _submitted(world, officer, "case_referral", file_of("case_referral"))
    world.run()
    other = world.person(PORTAL_AGENCY, "wu.jianhong", "agency_officer")
    assert other.get(f"/portal/submissions/{sid}").status_code == 404
    assert other.get(f"/portal/submissions/{sid}/report.xlsx").status_code == 404
    with world.platform.db.transaction() as s:
        delivery_id = s.scalars(select(Delivery.id)).one()
    stranger = world.person(OTHER_BRANCH, "huang.zhiwei", "branch_officer")
    assert stranger.get(f"/portal/inbox/{delivery_id}/download").status_code == 404
    token = token_of(stranger.get("/portal/inbox"))
    assert (
        stranger.post(
            f"/portal/inbox/{delivery_id}/acknowledge", data={"csrf_token": token, "confirm": "yes"}
        ).status_code
        == 404
    )
    assert _audits(world, "delivery.read", "denied") == 2
    assert _audits(world, "submission.read", "denied") == 2


def test_feedback_reaches_the_agency_inbox_and_packages_open_with_either_key(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    _submitted(world, officer, "case_referral", file_of("case_referral"))
    world.run()

    # the branch has no certificate: its package is for the platform alone, downloaded in the clear
    branch = world.person(BRANCH, "lin.zhiming", "branch_officer")
    inbox = branch.get("/portal/inbox")
    assert inbox.status_code == 200 and AGENCY in inbox.text
    with world.platform.db.transaction() as s:
        referral = s.scalars(select(Delivery)).one()
    package = world.platform.blobs.path(referral.blob_key).read_bytes()
    ours = world.platform.decrypter.certificate
    assert cms.recipients(package) == [(ours.issuer.public_bytes(), ours.serial_number)]
    download = branch.get(f"/portal/inbox/{referral.id}/download")
    assert (
        download.status_code == 200 and VALID["case_referral"]["agency_case_no"].encode() in download.content
    )

    # the branch sends status feedback on the case; the agency gets a package for it and for us
    feedback = upload(branch, "status_feedback", file_of("status_feedback"))
    assert feedback.status_code == 201, feedback.text
    world.run()
    page = officer.get("/portal/inbox")
    assert zh("Acknowledge") in page.text
    with world.platform.db.transaction() as s:
        sent = s.scalars(select(Delivery).where(Delivery.kind == "status_feedback")).one()
    sealed = world.platform.blobs.path(sent.blob_key).read_bytes()
    assert len(cms.recipients(sealed)) == 2
    for key in (world.identities[AGENCY], world.platform.decrypter):  # either key opens it
        assert b"ASSIGNED" in bytes(cms.unwrap(sealed, key).content)
    early = officer.post(
        f"/portal/inbox/{sent.id}/acknowledge", data={"csrf_token": token_of(page), "confirm": "yes"}
    )
    assert early.status_code == 409 and "尚未完整下載" in early.text  # not before one download
    assert f'href="/portal/inbox/{sent.id}"' in early.text  # back to the package, to download it
    clear = officer.get(f"/portal/inbox/{sent.id}/download")
    assert clear.status_code == 200 and b"ASSIGNED" in clear.content
    assert clear.headers["content-disposition"].startswith("attachment")
    assert _audits(world, "delivery.download") == 2

    token = token_of(page)
    refused = officer.post(
        f"/portal/inbox/{sent.id}/acknowledge", data={"csrf_token": "wrong", "confirm": "yes"}
    )
    assert refused.status_code == 403
    done = officer.post(f"/portal/inbox/{sent.id}/acknowledge", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303
    assert zh("Nothing waits for your organisation.") in officer.get("/portal/inbox").text
    shown = officer.get("/portal/inbox", params={"acknowledged": "true"})
    assert zh("Acknowledged") in shown.text


def test_cases_are_looked_up_masked_unless_unmasked_and_audited(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    _submitted(world, officer, "case_referral", file_of("case_referral"))
    world.run()
    case_no = str(VALID["case_referral"]["agency_case_no"])
    own = officer.get("/portal/cases", params={"number": case_no})  # agencies see what they referred
    assert own.status_code == 200 and case_no in own.text and "A12****789" in own.text
    assert officer.get("/portal/cases", params={"number": case_no, "unmask": "true"}).status_code == 403
    branch = world.person(BRANCH, "lin.zhiming", "branch_officer")
    found = branch.get("/portal/cases", params={"number": case_no})
    assert found.status_code == 200 and case_no in found.text
    assert "A123456789" not in found.text and "A12****789" in found.text
    by_id = branch.get("/portal/cases", params={"obligor_id": "A123456789", "unmask": "true"})
    assert "A123456789" in by_id.text and "王小明" in by_id.text
    assert _audits(world, "personal_data.unmask", "ok") == 1
    bad = branch.get("/portal/cases", params={"obligor_id": "12"})
    assert 'role="alert"' in bad.text
    other = world.person(OTHER_BRANCH, "huang.zhiwei", "branch_officer")
    assert zh("No case matches.") in other.get("/portal/cases", params={"number": case_no}).text
    stranger = world.person(PORTAL_AGENCY, "wu.meiling", "agency_officer")
    assert zh("No case matches.") in stranger.get("/portal/cases", params={"number": case_no}).text


def test_the_pages_switch_to_english_and_the_dashboard_links_each_submission(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    sid = _submitted(world, officer, "case_referral", file_of("case_referral"))
    dashboard = officer.get("/portal/")
    assert f'href="/portal/submissions/{sid}"' in dashboard.text
    switched = officer.get("/portal/language/en", params={"next": "/portal/upload"})
    assert switched.status_code == 303 and switched.headers["location"] == "/portal/upload"
    page = officer.get("/portal/upload")
    assert '<html lang="en">' in page.text and "Upload a file" in page.text and "Case referral" in page.text
    refused = upload(officer, "status_feedback", file_of("status_feedback"))
    assert "is not granted to send" in refused.json()["error"]


def test_a_large_upload_streams_in_chunks_into_its_sealed_copy(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    line = "A383000000,113TAX000123,大型檔案測試\n".encode()
    chunk = line * (1 << 15)  # about 1.5 MB
    token = token_of(officer.get("/portal/upload"))
    answer = officer.post(
        "/portal/upload",
        params={"kind": "case_referral", "format": "csv", "encoding": "utf-8"},
        content=iter([chunk] * 16),  # sent chunked, without a length
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 201, answer.text
    with world.platform.db.transaction() as s:
        sub = s.scalars(select(Submission)).one()
    stored = world.platform.blobs.path(sub.blob_key)
    assert sub.size == stored.stat().st_size > len(chunk) * 16  # the envelope's size
    assert bytes(cms.unwrap(stored.read_bytes(), world.platform.decrypter).content) == chunk * 16
    blobs = world.platform.settings.data_dir / "blobs"
    assert [p.name for p in (blobs / "incoming").iterdir()] == []  # nothing left behind
    assert not any(line * 4 in data for data in _files(world.platform.settings.data_dir))


def test_the_report_names_its_finding_codes_in_words(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    answer = upload(officer, "case_referral", file_of("case_referral", BAD_ID | {"amount_due": "x"}))
    sid = str(answer.json()["location"]).rsplit("/", 1)[1]
    world.run()
    page = officer.get(f"/portal/submissions/{sid}").text
    code_filter = page.split('<select id="code"')[1].split("</select>")[0]
    assert ">欄位應為不含小數點、負號及千分位之整數，最多 … 位（amount.format）</option>" in code_filter
    assert "<small><code>amount.format</code></small>" in page  # the code stays, small, beside the message


def test_an_english_report_counts_one_finding_and_two_findings(world: World) -> None:
    officer = world.person(AGENCY, "chen.yating", "agency_officer")
    one = upload(officer, "case_referral", file_of("case_referral", BAD_ID))
    two = upload(officer, "case_referral", file_of("case_referral", BAD_ID | {"amount_due": "x"}))
    world.run()
    officer.cookies.set("lang", "en")
    for answer, said in ((one, "1 of 1 finding<"), (two, "2 of 2 findings<")):
        sid = str(answer.json()["location"]).rsplit("/", 1)[1]
        assert said in officer.get(f"/portal/submissions/{sid}").text

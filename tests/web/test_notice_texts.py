"""What a notification says: the file by the name its sender gave it and its kind in words; a file
without records, or refused for what no row shows, said so rather than "0 errors"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from aedx.notify import events, mail
from aedx.storage.tables import Notification
from aedx.web.notices import describe
from tests.web.conftest import Portal


def _notice(event: str, **params: Any) -> Notification:
    return Notification(
        event=event, params=json.dumps({"submission_id": "s1", "kind": "case_referral", **params})
    )


def test_a_notification_names_the_file_and_its_kind() -> None:
    shown = describe(_notice("report_ready", filename="北區-1125.csv", records=3, warning_rows=1), "zh_TW")
    assert shown == "檔案「北區-1125.csv」：貴機關上傳之移送案件檔案已檢核完成：共 3 筆，警告 1 筆。"
    english = describe(_notice("rejected", filename="a.csv", records=3, error_rows=2), "en")
    assert english.startswith("File “a.csv”: ") and "2 rows with errors" in english
    zh, en = mail._lines("rejected", {"submission_id": "s1", "kind": "case_referral", "filename": "a.csv",
                                      "records": 3, "error_rows": 2})  # fmt: skip
    assert zh.startswith("檔案「a.csv」：") and "移送案件" in zh and en.startswith("File “a.csv”: ")


@pytest.mark.parametrize("event", ["report_ready", "rejected"])
def test_an_empty_file_is_said_to_hold_no_records(event: str) -> None:
    shown = describe(_notice(event, filename="a.csv", records=0, error_rows=0, warning_rows=0), "zh_TW")
    assert "沒有任何資料" in shown and "0 筆" not in shown
    zh, en = mail._lines(event, {"kind": "case_referral", "records": 0, "error_rows": 0})
    assert "沒有任何資料" in zh and "0 筆" not in zh and "no records" in en


def test_a_file_refused_as_a_whole_points_to_its_report() -> None:
    shown = describe(_notice("rejected", records=5, error_rows=0), "zh_TW")
    assert "原因請見檢核報告" in shown and "錯誤 0 筆" not in shown
    zh, _ = mail._lines("rejected", {"kind": "case_referral", "records": 5, "error_rows": 0})
    assert "原因請見檢核報告" in zh and "錯誤 0 筆" not in zh


def test_a_decision_carries_the_file_name(portal: Portal) -> None:
    portal.person("A383000000", "chen.officer", "agency_officer")
    sid = portal.submission("A383000000", 1, state="rejected")
    with portal.platform.db.transaction() as s:
        events.decided(s, sid)
    with portal.platform.db.transaction() as s:
        (notice,) = s.scalars(select(Notification)).all()
        assert json.loads(notice.params)["filename"] == "A383000000-1.csv"
        assert describe(notice, "zh_TW").startswith("檔案「A383000000-1.csv」：")

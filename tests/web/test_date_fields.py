"""Date fields take the ROC calendar (115/12/05, 1151205, ISO) and show it back; the audit log shows
seconds; the audit exports say the zone of their times."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

from aedx.accounts import organisations as orgs
from aedx.settings import TAIPEI
from aedx.trust import audit
from tests.web.conftest import Portal, signed_in


def _roc(day: dt.date) -> str:
    return f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"


def test_the_audit_search_reads_roc_days_and_shows_seconds(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    with portal.platform.db.transaction() as s:
        audit.record(s, actor="user:9", action="x.dated", object_id="o1", outcome="ok")
    today = dt.datetime.now(TAIPEI).date()
    tomorrow = today + dt.timedelta(days=1)
    for typed in (_roc(today), f"{today.year - 1911}{today.month:02d}{today.day:02d}", today.isoformat()):
        found = hq.get("/portal/admin/audit", params={"since": typed, "until": typed, "action": "x.dated"})
        assert found.status_code == 200 and "o1" in found.text, typed
        assert f'value="{_roc(today)}"' in found.text  # the field shows the day back in the ROC calendar
        assert re.search(r">\d{2,3}/\d\d/\d\d \d\d:\d\d:\d\d</time>", found.text)  # with seconds
        assert 'class="roc-date"' in found.text and 'type="date"' not in found.text
    later = hq.get("/portal/admin/audit", params={"since": _roc(tomorrow), "action": "x.dated"})
    assert later.status_code == 200 and "o1" not in later.text
    wrong = hq.get("/portal/admin/audit", params={"since": "115/02/30"})
    assert wrong.status_code == 400 and "日期請寫成民國年/月/日" in wrong.text


def test_the_audit_exports_say_their_times_are_utc(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    with portal.platform.db.transaction() as s:
        audit.record(s, actor="user:9", action="x.zoned", object_id="o1", outcome="ok")
        operator = orgs.operator(s, "cli:test")
        assert all(e["at"].endswith("+00:00") for e in audit.export(s, operator, audit.Filter()))
    as_csv = hq.get("/portal/admin/audit/export", params={"format": "csv", "action": "x.zoned"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 1 and rows[0]["at (UTC)"].endswith("+00:00")
    as_jsonl = hq.get("/portal/admin/audit/export", params={"format": "jsonl", "action": "x.zoned"})
    (line,) = as_jsonl.text.splitlines()
    moment = dt.datetime.fromisoformat(json.loads(line)["at"])
    assert moment.utcoffset() == dt.timedelta(0)

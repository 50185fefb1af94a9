"""E-mail of notifications, through an SMTP server (the standard library's ``smtplib``).

``AEDX_SMTP_HOST``      the server; when unset, e-mails are not sent and are recorded as skipped
``AEDX_SMTP_PORT``      its port (default 25; 587 with STARTTLS)
``AEDX_SMTP_FROM``      the sender address (default ``aedx@localhost``)
``AEDX_SMTP_STARTTLS``  ``1`` upgrades the connection with STARTTLS before anything is sent
``AEDX_SMTP_USER`` / ``AEDX_SMTP_PASSWORD``  sign in to the server after STARTTLS, when set

The text is Traditional Chinese with English below; it names the kind, the identifiers and the
counts, never a person or their data, and links to the portal page where the rest is shown to
whoever may see it. The daily digest (``compose_digest``) counts the day's notices per event,
then lists each with its link; a package taken since is listed as taken.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aedx.kinds import KINDS
from aedx.settings import TAIPEI

TIMEOUT = 15.0
SUBJECTS = {
    "report_ready": ("檢核報告已完成", "Validation report ready"),
    "rejected": ("上傳檔案已退件", "Submission rejected"),
    "package_ready": ("回饋檔已可下載", "Package ready to download"),
    "file_missing": ("應送檔案未送達", "Expected file missing"),
    "failed": ("上傳檔案處理失敗", "Submission processing failed"),
}
DIGEST = ("每日通知彙整", "Daily digest of notifications")
TAKEN = {"downloaded": ("已下載", "downloaded"), "acknowledged": ("已確認收受", "acknowledged")}
TAKEN_BY = {
    "api": ("由 API 用戶端", "by the API client"),
    "portal": ("由入口網站", "in the portal"),
    "operator": ("由平台管理者", "by the operator"),
}


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    sender: str = "aedx@localhost"
    starttls: bool = False
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls) -> Smtp | None:
        host = os.environ.get("AEDX_SMTP_HOST")
        if not host:
            return None
        starttls = os.environ.get("AEDX_SMTP_STARTTLS") == "1"
        return cls(
            host=host,
            port=int(os.environ.get("AEDX_SMTP_PORT") or (587 if starttls else 25)),
            sender=os.environ.get("AEDX_SMTP_FROM") or "aedx@localhost",
            starttls=starttls,
            user=os.environ.get("AEDX_SMTP_USER") or None,
            password=os.environ.get("AEDX_SMTP_PASSWORD") or None,
        )

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as server:
            if self.starttls:
                server.starttls()
            if self.user and self.password:
                server.login(self.user, self.password)
            server.send_message(message)


def _kind(name: str) -> tuple[str, str]:
    kind = KINDS.get(name)
    return (kind.label_zh, kind.label_en) if kind else (name, name)


def _count(n: object, thing: str) -> str:
    """An English count: ``1 record``, ``2 records``."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _lines(event: str, p: dict[str, Any]) -> tuple[str, str]:
    zh, en = _outcome(event, p)
    if p.get("filename"):
        return f"檔案「{p['filename']}」：{zh}", f"File “{p['filename']}”: {en}"
    return zh, en


def _outcome(event: str, p: dict[str, Any]) -> tuple[str, str]:
    zh_kind, en_kind = _kind(str(p.get("kind", "")))
    if event in ("report_ready", "rejected") and "records" in p and not p["records"]:
        return (
            f"貴機關上傳之{zh_kind}檔案（編號 {p.get('submission_id')}）沒有任何資料"
            + ("，已退件。" if event == "rejected" else "，未交付任何資料。"),
            f"The {en_kind} file your organisation sent (submission {p.get('submission_id')}) holds "
            + (
                "no records and was rejected."
                if event == "rejected"
                else "no records: nothing was delivered."
            ),
        )
    if event == "rejected" and not p.get("error_rows"):
        return (
            f"貴機關上傳之{zh_kind}檔案（編號 {p.get('submission_id')}）未通過檢核，已退件，"
            "原因請見檢核報告。",
            f"The {en_kind} file your organisation sent (submission {p.get('submission_id')}) was "
            "rejected; its report says why.",
        )
    if event == "report_ready":
        return (
            f"貴機關上傳之{zh_kind}檔案（編號 {p.get('submission_id')}）已檢核完成："
            f"共 {p.get('records')} 筆，警告 {p.get('warning_rows') or 0} 筆。",
            f"The {en_kind} file your organisation sent (submission {p.get('submission_id')}) was "
            f"validated: {_count(p.get('records'), 'record')}, {p.get('warning_rows') or 0} with warnings.",
        )
    if event == "rejected":
        return (
            f"貴機關上傳之{zh_kind}檔案（編號 {p.get('submission_id')}）未通過檢核，已退件："
            f"錯誤 {p.get('error_rows') or 0} 筆。請至平台查看檢核報告並更正後重新上傳。",
            f"The {en_kind} file your organisation sent (submission {p.get('submission_id')}) was "
            f"rejected: {_count(p.get('error_rows') or 0, 'row')} with errors. See the report, correct "
            "the file and send it again.",
        )
    if event == "package_ready":
        return (
            f"有一份{zh_kind}檔案（{p.get('records')} 筆）已送達貴機關收件匣，請下載並確認收受。",
            f"A {en_kind} package ({_count(p.get('records'), 'record')}) waits in your organisation's inbox; "
            "please download and acknowledge it.",
        )
    if event == "failed":
        return (
            f"{p.get('sender')} 上傳之{zh_kind}檔案（編號 {p.get('submission_id')}）經多次嘗試仍處理失敗，"
            "平台已停止處理。請總署查明原因並與該機關聯繫。",
            f"Processing the {en_kind} file sent by {p.get('sender')} (submission "
            f"{p.get('submission_id')}) failed repeatedly; the platform has stopped. HQ looks into the "
            "cause and contacts the organisation.",
        )
    return (
        f"貴機關應於 {p.get('day')} {p.get('due')} 前上傳之{zh_kind}檔案尚未送達。",
        f"The {en_kind} file your organisation should have sent by {p.get('due')} on {p.get('day')} "
        "has not arrived.",
    )


def compose(
    sender: str, to: str, event: str, link: str, params: dict[str, Any], base_url: str
) -> EmailMessage:
    if event == "digest":
        return compose_digest(sender, to, link, params, base_url)
    zh_subject, en_subject = SUBJECTS.get(event, ("平台通知", "Notification"))
    zh, en = _lines(event, params)
    url = base_url.rstrip("/") + link
    return _message(
        sender,
        to,
        f"{zh_subject} / {en_subject}",
        f"{zh}\n\n詳情請登入平台查看：{url}",
        f"{en}\n\nSign in to see the details: {url}",
    )


def _message(sender: str, to: str, subject: str, zh: str, en: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[行政執行資料交換平台] {subject}"
    message["From"] = sender
    message["To"] = to
    message.set_content(
        f"您好：\n\n{zh}\n\n此為系統自動發送之通知，請勿直接回覆。\n"
        f"\n----\n\n{en}\n\nThis notice was sent automatically; please do not reply.\n"
    )
    return message


def _roc(day: dt.date) -> str:
    return f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"


def taken(settled: dict[str, Any]) -> tuple[str, str]:
    """``已下載（115/12/05 10:32，由 API 用戶端）`` and its English."""
    at = dt.datetime.fromisoformat(str(settled.get("at"))).astimezone(TAIPEI)
    zh_how, en_how = TAKEN.get(str(settled.get("as")), TAKEN["downloaded"])
    zh_by, en_by = TAKEN_BY.get(str(settled.get("by")), TAKEN_BY["operator"])
    return (
        f"{zh_how}（{_roc(at.date())} {at:%H:%M}，{zh_by}）",
        f"{en_how.capitalize()} ({at:%Y-%m-%d %H:%M}, {en_by})",
    )


def compose_digest(sender: str, to: str, link: str, params: dict[str, Any], base_url: str) -> EmailMessage:
    """The day's notices in one e-mail: how many of each event, then each with its link."""
    items: list[dict[str, Any]] = list(params.get("items") or [])
    day = dt.date.fromisoformat(str(params["day"]))
    until = str(params.get("until", ""))
    base = base_url.rstrip("/")
    counts = Counter(str(i.get("event")) for i in items)
    events = [e for e in SUBJECTS if e in counts] + sorted(set(counts) - set(SUBJECTS))
    zh = [f"以下為截至 {_roc(day)} {until} 之通知彙整，共 {len(items)} 則：", ""]
    en = [f"Your notifications up to {until} on {day.isoformat()}, {len(items)} in all:", ""]
    for e in events:
        zh_title, en_title = SUBJECTS.get(e, ("平台通知", "Notification"))
        zh.append(f"・{zh_title}：{counts[e]} 則")
        en.append(f"- {en_title}: {counts[e]}")
    for e in events:
        zh_title, en_title = SUBJECTS.get(e, ("平台通知", "Notification"))
        zh += ["", f"【{zh_title}】"]
        en += ["", f"[{en_title}]"]
        for n, item in enumerate((i for i in items if i.get("event") == e), start=1):
            zh_line, en_line = _lines(e, dict(item.get("params") or {}))
            if item.get("settled"):
                zh_taken, en_taken = taken(item["settled"])
                zh_line, en_line = f"{zh_line}（目前狀態：{zh_taken}）", f"{en_line} (Now: {en_taken}.)"
            url = base + str(item.get("link", ""))
            zh += [f"{n}. {zh_line}", f"   {url}"]
            en += [f"{n}. {en_line}", f"   {url}"]
    url = base + link
    zh += ["", f"全部通知請登入平台查看：{url}"]
    en += ["", f"Sign in to see every notification: {url}"]
    return _message(sender, to, f"{DIGEST[0]} {_roc(day)} / {DIGEST[1]}", "\n".join(zh), "\n".join(en))

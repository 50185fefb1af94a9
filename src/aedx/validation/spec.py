"""The spec page of an exchange kind, in Markdown, derived from its declaration and its rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aedx.schema import FieldType, Kind
from aedx.validation.rules import Context, tests_for

TYPE_NAMES = {
    FieldType.TEXT: "文字 text",
    FieldType.CODE: "代碼 code",
    FieldType.ENUM: "代碼表 enum",
    FieldType.ROC_DATE: "民國日期 YYYMMDD",
    FieldType.AMOUNT: "金額 amount (NT$)",
    FieldType.FLAG: "Y/N",
    FieldType.POSTCODE: "郵遞區號 postcode",
    FieldType.PARTY_ID: "身分證／統一編號 ID or UBN",
    FieldType.PERSON_ID: "身分證 ID",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def spec_page(kind: Kind, sample_csv: str = "") -> str:
    lines = [
        f"# {kind.label_zh} `{kind.name}` — {kind.label_en}",
        "",
        kind.summary_zh,
        "",
        kind.summary_en,
        "",
        f"- 傳送方 Sender: `{kind.sender_role}` → 接收方 Recipient: `{kind.recipient_role}`",
        "- 格式 Formats: CSV（首列為欄位名稱 header row）、固定長度 fixed-width"
        f"（每列 {kind.record_width} 位元組 bytes）、JSON Lines",
        "- 編碼 Encodings: UTF-8（可含 BOM）、CP950 / Big5；換行 CRLF 或 LF",
        "- 日期為 7 碼民國年月日；金額為新臺幣整數元，固定長度檔靠右補零",
        "  Dates are 7-digit ROC dates; amounts are whole NT$, zero-padded on the left in fixed-width",
    ]
    if kind.control_amount:
        lines += [
            "- 控制紀錄 Control record (optional, last line): "
            f"`#CONTROL,<筆數 records>,<{kind.control_amount} 合計 total>`;"
            ' in JSON Lines `{"#control": {"records": N, "amount_total": M}}`',
        ]
    if kind.unique_key:
        lines.append(f"- 同一檔案內不得重複 Unique within a file: {', '.join(kind.unique_key)}")
    lines += [
        "",
        "## 欄位 Fields",
        "",
        "| # | 欄位 field | 中文名稱 | English | 型態 type | 位元組 bytes | 必填 required "
        "| 允許值 values | 說明 notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, f in enumerate(kind.fields, start=1):
        values = ", ".join(f"{c.value} {c.label_zh}" for c in f.choices) or (
            f"{f.pattern_zh} / {f.pattern_en} `{f.pattern}`" if f.pattern else ""
        )
        note = " / ".join(n for n in (f.note_zh, f.note_en) if n)
        lines.append(
            f"| {number} | `{f.name}` | {f.label_zh} | {f.label_en} | {TYPE_NAMES[f.type]} | {f.width} "
            f"| {'是 yes' if f.required else '否 no'} | {_cell(values)} | {_cell(note)} |"
        )
    lines += [
        "",
        "## 檢核規則 Rules",
        "",
        "| 代碼 code | 欄位 field | 嚴重度 severity | 說明 | message |",
        "|---|---|---|---|---|",
    ]
    seen = set()
    for test in tests_for(Context(kind=kind, today=dt.date.today(), lossy=True, sender="SENDER")):
        key = (test.code.code, test.field)
        if key in seen:
            continue
        seen.add(key)
        zh, en = test.messages()
        severity = kind.severity.get(test.code.code, test.code.severity).value
        lines.append(f"| `{test.code.code}` | `{test.field}` | {severity} | {_cell(zh)} | {_cell(en)} |")
    if kind.unique_key:
        lines.append(
            f"| `record.duplicate` | `{kind.unique_key[0]}` | error "
            "| 與本檔先前之列重複 | repeats an earlier record of the file |"
        )
    if sample_csv:
        lines += ["", "## 範例 Sample (CSV, UTF-8)", "", "```csv", sample_csv.strip(), "```"]
    return "\n".join(lines) + "\n"


def rules_of(kind: Kind) -> list[dict[str, Any]]:
    """Every finding code a record of the kind can raise, once per field, with its messages."""
    found: list[dict[str, Any]] = []
    seen = set()
    for test in tests_for(Context(kind=kind, today=dt.date.today(), lossy=True, sender="SENDER")):
        if (test.code.code, test.field) in seen:
            continue
        seen.add((test.code.code, test.field))
        zh, en = test.messages()
        severity = kind.severity.get(test.code.code, test.code.severity).value
        found.append({"code": test.code.code, "field": test.field, "severity": severity,
                      "message_zh": zh, "message_en": en})  # fmt: skip
    if kind.unique_key:
        found.append({"code": "record.duplicate", "field": kind.unique_key[0], "severity": "error",
                      "message_zh": "與本檔先前之列重複",
                      "message_en": "repeats an earlier record of the file"})  # fmt: skip
    return found


def spec_document(kind: Kind) -> dict[str, Any]:
    """The kind's spec as data (what ``GET /api/v1/kinds/{kind}`` answers): enough for an agency
    to build its export without signing in."""
    start, fields = 1, []
    for number, f in enumerate(kind.fields, start=1):
        fields.append(
            {"number": number, "name": f.name, "label_zh": f.label_zh, "label_en": f.label_en,
             "type": f.type.value, "width": f.width, "start": start, "end": start + f.width - 1,
             "required": f.required, "pattern": f.pattern, "personal": f.personal, "example": f.example,
             "codes": [{"value": c.value, "label_zh": c.label_zh, "label_en": c.label_en} for c in f.choices],
             "note_zh": f.note_zh, "note_en": f.note_en}
        )  # fmt: skip
        start += f.width
    return summary_of(kind) | {
        "summary_zh": kind.summary_zh,
        "summary_en": kind.summary_en,
        "formats": ["csv", "fixed", "jsonl"],
        "encodings": ["utf-8", "cp950"],
        "record_width": kind.record_width,
        "unique_key": list(kind.unique_key),
        "control_amount": kind.control_amount,
        "fields": fields,
        "rules": rules_of(kind),
    }


def summary_of(kind: Kind) -> dict[str, Any]:
    return {"name": kind.name, "label_zh": kind.label_zh, "label_en": kind.label_en,
            "sender_role": kind.sender_role, "recipient_role": kind.recipient_role,
            "version": kind.spec_version, "revised": kind.spec_revised}  # fmt: skip

"""案件狀態回饋 status_feedback: a branch tells the referring agency what became of its case."""

from __future__ import annotations

from aedx import refdata
from aedx.kinds.fields import agency_case_no, agency_code, amount, roc_date
from aedx.schema import Choice, Field, FieldType, Kind, Routing, check

EVENTS = (
    Choice("ASSIGNED", "分案", "assigned"),
    Choice("COLLECTED", "徵起", "collected"),
    Choice("PENDING", "未結", "pending"),
    Choice("CLOSED", "終結", "closed"),
)

CLOSE_REASONS = (
    Choice("PAID_IN_FULL", "全數徵起", "paid in full"),
    Choice("CERTIFICATE", "核發執行憑證", "execution certificate issued"),
    Choice("WITHDRAWN", "撤回", "withdrawn by the agency"),
    Choice("RETURNED", "退案", "returned as an invalid referral"),
    Choice("TRANSFERRED", "移轉管轄", "moved to another branch"),
    Choice("EXPIRED", "執行期間屆滿", "enforcement period expired"),
    Choice("REVOKED", "原處分撤銷", "underlying decision revoked"),
)

STATUS_FEEDBACK = Kind(
    name="status_feedback",
    label_zh="案件狀態回饋",
    label_en="Status feedback",
    summary_zh="分署將案件之分案、徵起、未結、終結情形回饋移送機關。",
    summary_en="A branch reports assignment, collection, pending and closure to the agency.",
    sender_role="branch",
    recipient_role="agency",
    fields=(
        Field(
            "branch_code",
            "分署代號",
            "Branch code",
            FieldType.ENUM,
            3,
            choices=tuple(Choice(b.code, b.name, b.code) for b in refdata.branches()),
            example="sly",
        ),
        Field(
            "branch_case_no",
            "分署案號",
            "Branch case number",
            FieldType.TEXT,
            60,
            example="士執午113年營所稅執特專字第00027350號",
        ),
        agency_code(),
        agency_case_no(),
        Field("event", "案件狀態", "Event", FieldType.ENUM, 10, choices=EVENTS, example="ASSIGNED"),
        roc_date("event_date", "狀態日期", "Event date", example="1131106"),
        amount("amount", "金額", "Amount", required=False, example="12000"),
        Field(
            "close_reason",
            "終結原因",
            "Close reason",
            FieldType.ENUM,
            12,
            required=False,
            choices=CLOSE_REASONS,
        ),
        Field("officer", "承辦執行人員", "Enforcement officer", FieldType.TEXT, 20, required=False),
    ),
    checks=(
        check("not_in_future", "event_date"),
        check("required_when", "close_reason", "event", value="CLOSED"),
        check("only_when", "close_reason", "event", value="CLOSED"),
        check("required_when", "amount", "event", value="COLLECTED"),
        check("positive", "amount"),
        check("branch_case_no_form", "branch_case_no"),
    ),
    unique_key=("branch_case_no", "event", "event_date", "amount"),
    sender_field="branch_code",
    control_amount="amount",
    routing=Routing.CASE,
)

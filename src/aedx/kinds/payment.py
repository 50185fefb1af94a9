"""繳款資料 payment: payments an agency received, so the branch can reduce or close the case."""

from __future__ import annotations

from aedx.kinds.fields import agency_case_no, agency_code, amount, case_number_words, flag, party_id, roc_date
from aedx.schema import Choice, Field, FieldType, Kind, Routing, check

CHANNELS = (
    Choice("AGENCY_COUNTER", "移送機關臨櫃", "agency counter"),
    Choice("BANK", "銀行匯款", "bank transfer"),
    Choice("POST", "郵局劃撥", "postal giro"),
    Choice("CVS", "超商代收", "convenience store"),
    Choice("CARD", "信用卡", "credit card"),
    Choice("EPAY", "電子支付", "e-payment"),
)

PAYMENT = Kind(
    name="payment",
    label_zh="繳款資料",
    label_en="Payment",
    summary_zh="義務人向移送機關繳納之款項，送分署據以減縮或終結案件。",
    summary_en="Payments an agency received, sent so the branch can reduce or close the case.",
    sender_role="agency",
    recipient_role="branch",
    fields=(
        agency_code(),
        agency_case_no(),
        party_id("obligor_id", "義務人身分證統一編號", "Obligor ID"),
        Field(
            "receipt_no",
            "收據號碼",
            "Receipt number",
            FieldType.CODE,
            20,
            pattern=r"[0-9A-Za-z\-]{1,20}",
            pattern_zh=case_number_words(20)[0],
            pattern_en=case_number_words(20)[1],
            example="R1131105000123",
        ),
        roc_date("paid_date", "繳款日期", "Payment date", example="1131104"),
        amount("paid_amount", "繳款金額", "Amount paid", example="12000"),
        Field("channel", "繳款管道", "Channel", FieldType.ENUM, 14, choices=CHANNELS, example="BANK"),
        flag("full_payment", "是否全數繳清", "Paid in full"),
        amount("remaining_amount", "尚欠金額", "Amount remaining", example="42910"),
    ),
    checks=(
        check("not_in_future", "paid_date"),
        check("positive", "paid_amount"),
        check("full_payment_consistent", "full_payment", "remaining_amount"),
        check("channel_limit", "paid_amount", "channel", value="CVS", limit=20000),
    ),
    unique_key=("agency_case_no", "receipt_no"),
    sender_field="agency_code",
    control_amount="paid_amount",
    routing=Routing.CASE,
)

"""移送案件 case_referral: an agency refers overdue public debts to the branch with jurisdiction."""

from __future__ import annotations

from aedx.kinds.fields import agency_case_no, agency_code, amount, flag, party_id, roc_date
from aedx.schema import Choice, Field, FieldType, Kind, check

DEBT_CATEGORIES = (
    Choice("TAX", "財稅", "tax"),
    Choice("NHI", "健保、勞保", "health or labour insurance"),
    Choice("FINE", "罰鍰", "fine"),
    Choice("FEE", "費用", "fee"),
)

CASE_REFERRAL = Kind(
    name="case_referral",
    label_zh="移送案件",
    label_en="Case referral",
    summary_zh="移送機關將逾期未繳之公法上金錢給付義務案件移送有管轄權之分署。",
    summary_en="An agency refers overdue public debts to the branch with jurisdiction.",
    sender_role="agency",
    recipient_role="branch",
    fields=(
        agency_code(),
        agency_case_no(),
        roc_date("referral_date", "移送日期", "Referral date", example="1131105"),
        Field(
            "obligor_type",
            "義務人類別",
            "Obligor type",
            FieldType.ENUM,
            1,
            choices=(Choice("P", "自然人", "person"), Choice("C", "法人", "company")),
            example="P",
        ),
        party_id("obligor_id", "義務人身分證統一編號", "Obligor ID"),
        Field(
            "obligor_name",
            "義務人姓名或名稱",
            "Obligor name",
            FieldType.TEXT,
            60,
            personal=True,
            example="王小明",
        ),
        roc_date(
            "obligor_birth_date", "義務人出生日期", "Obligor birth date", required=False, example="0700101"
        ),
        Field(
            "representative_name",
            "法定代理人姓名",
            "Legal representative",
            FieldType.TEXT,
            60,
            required=False,
            personal=True,
            note_zh="義務人為法人時必填",
            note_en="required when the obligor is a company",
        ),
        Field(
            "representative_id",
            "法定代理人身分證統一編號",
            "Representative ID",
            FieldType.PERSON_ID,
            10,
            required=False,
            personal=True,
        ),
        Field("postcode", "郵遞區號", "Postcode", FieldType.POSTCODE, 6, example="11101"),
        Field(
            "address",
            "義務人地址",
            "Obligor address",
            FieldType.TEXT,
            120,
            personal=True,
            example="臺北市士林區中正路100號",
            note_zh="須載明縣市；臺北市、新北市須載明區，以決定管轄分署",
            note_en="must name the county or city, and the district in Taipei and New Taipei,"
            " so the case can be routed",
        ),
        Field(
            "debt_category",
            "案件類別",
            "Debt category",
            FieldType.ENUM,
            4,
            choices=DEBT_CATEGORIES,
            example="TAX",
        ),
        Field("debt_type", "稅費種類", "Debt type", FieldType.TEXT, 40, example="綜合所得稅"),
        Field(
            "decision_ref",
            "處分書文號",
            "Decision reference",
            FieldType.TEXT,
            60,
            example="財北國稅字第1130012345號",
        ),
        roc_date("decision_final_date", "處分確定日期", "Decision final date", required=False),
        roc_date("due_date", "繳納期間屆滿日", "Payment deadline", example="1130531"),
        roc_date(
            "enforcement_deadline", "執行期間屆滿日", "Enforcement period end", example="1180531"
        ),
        amount("principal", "本稅（費）", "Principal", example="52000"),
        amount("interest", "利息", "Interest", example="310"),
        amount("late_fee", "滯納金", "Late fee", example="2600"),
        amount("amount_due", "應納金額", "Amount due", example="54910"),
        flag("re_referral", "執行憑證再移送", "Re-referral with execution certificate"),
        Field("remarks", "備註", "Remarks", FieldType.TEXT, 200, required=False),
    ),
    checks=(
        check("party_id_matches_type", "obligor_id", "obligor_type"),
        check("required_when", "representative_name", "obligor_type", value="C"),
        check("only_when", "obligor_birth_date", "obligor_type", value="P"),
        check("not_in_future", "obligor_birth_date"),
        check("not_in_future", "referral_date"),
        check("amount_total", "amount_due", "principal", "interest", "late_fee"),
        check("positive", "amount_due"),
        check("overdue", "due_date", "referral_date"),
        check("not_expired", "enforcement_deadline", "referral_date"),
        check("within_years", "enforcement_deadline", "due_date", years=10),
        check("near_expiry", "enforcement_deadline", "referral_date", days=90),
        check("routable_address", "address"),
        check("postcode_matches_address", "postcode", "address"),
    ),
    unique_key=("agency_case_no",),
    sender_field="agency_code",
    control_amount="amount_due",
)

"""Fields that several kinds share, declared once."""

from __future__ import annotations

from aedx.schema import Choice, Field, FieldType

AGENCY_CODE_PATTERN = r"[A-Z0-9]{2,10}"
AGENCY_CODE_WORDS = ("2 至 10 位大寫英文字母或數字", "2 to 10 capital letters or digits")


def case_number_words(width: int) -> tuple[str, str]:
    """How people read the pattern of a case or receipt number of ``width`` characters at most."""
    return f"1 至 {width} 位英文字母、數字或連字號（-）", f"1 to {width} letters, digits or hyphens (-)"


def agency_code() -> Field:
    return Field(
        "agency_code", "移送機關代號", "Transferring agency code", FieldType.CODE, 10,
        pattern=AGENCY_CODE_PATTERN, pattern_zh=AGENCY_CODE_WORDS[0], pattern_en=AGENCY_CODE_WORDS[1],
        example="A383000000",
        note_zh="由行政執行署核發之機關代號", note_en="the code the AEA assigned to the agency",
    )  # fmt: skip


def agency_case_no() -> Field:
    return Field(
        "agency_case_no", "移送機關案號", "Agency case number", FieldType.CODE, 30,
        pattern=r"[0-9A-Za-z\-]{1,30}", pattern_zh=case_number_words(30)[0],
        pattern_en=case_number_words(30)[1], example="113TAX000123",
        note_zh="移送機關內部之案件編號，同一機關內唯一",
        note_en="the agency's own case number, unique within the agency",
    )  # fmt: skip


def roc_date(name: str, zh: str, en: str, *, required: bool = True, example: str = "") -> Field:
    return Field(name, zh, en, FieldType.ROC_DATE, 7, required=required, example=example)


def amount(name: str, zh: str, en: str, *, required: bool = True, example: str = "") -> Field:
    return Field(name, zh, en, FieldType.AMOUNT, 12, required=required, example=example)


def flag(name: str, zh: str, en: str) -> Field:
    return Field(
        name, zh, en, FieldType.FLAG, 1,
        choices=(Choice("Y", "是", "yes"), Choice("N", "否", "no")), example="N",
    )  # fmt: skip


def party_id(name: str, zh: str, en: str) -> Field:
    return Field(
        name, zh, en, FieldType.PARTY_ID, 10, personal=True, example="A123456789",
        note_zh="個人為身分證或居留證統一證號，法人為統一編號",
        note_en="national or resident ID for a person, business ID (UBN) for a company",
    )  # fmt: skip

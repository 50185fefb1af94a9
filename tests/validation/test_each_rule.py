"""One tiny file per finding code: a valid record changed just enough to break one rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.builders import SENDERS, VALID, check, flat, records, write

from aedx.findings import Code
from aedx.kinds import get_kind
from aedx.schema import Severity
from aedx.validation import codes

C, P, S = "case_referral", "payment", "status_feedback"
TEN_DAYS_AHEAD = "1131205"  # TODAY is 2024-11-25

CASES: list[tuple[str, str, dict[str, str | None], list[tuple[str, str]]]] = [
    ("required", C, {"obligor_name": None}, [("obligor_name", "required")]),
    ("text.too_long", C, {"debt_type": "綜合所得稅" * 3}, [("debt_type", "text.too_long")]),  # 45 bytes > 40
    ("text.control_char", C, {"obligor_name": "王\t小明"}, [("obligor_name", "text.control_char")]),
    ("code.format", C, {"agency_case_no": "113/TAX"}, [("agency_case_no", "code.format")]),
    ("enum.invalid", C, {"debt_category": "TAXES"}, [("debt_category", "enum.invalid")]),
    ("enum.invalid flag", C, {"re_referral": "1"}, [("re_referral", "enum.invalid")]),
    ("date.format", C, {"referral_date": "2024-11-05"}, [("referral_date", "date.format")]),
    ("date.format six digits", C, {"obligor_birth_date": "700101"}, [("obligor_birth_date", "date.format")]),
    ("date.invalid", C, {"due_date": "1120229"}, [("due_date", "date.invalid")]),
    ("amount.format negative", C, {"interest": "-310", "amount_due": "54290"}, [("interest", "amount.format")]),
    ("amount.format decimal", P, {"paid_amount": "12000.5"}, [("paid_amount", "amount.format")]),
    ("amount.format separator", P, {"remaining_amount": "42,910"}, [("remaining_amount", "amount.format")]),
    ("postcode.format", C, {"postcode": "1110"}, [("postcode", "postcode.format")]),
    ("id.format", C, {"obligor_id": "A12345678"}, [("obligor_id", "id.format")]),
    ("id.checksum", C, {"obligor_id": "A123456788"}, [("obligor_id", "id.checksum")]),
    ("id.checksum representative", C, {"obligor_type": "C", "obligor_id": "22099131", "obligor_birth_date": None,
                                       "representative_name": "王大明", "representative_id": "F131104094"},
     [("representative_id", "id.checksum")]),
    ("ubn.checksum", C, {"obligor_type": "C", "obligor_id": "12345678", "obligor_birth_date": None,
                         "representative_name": "王大明"}, [("obligor_id", "ubn.checksum")]),
    ("party.type_mismatch", C, {"obligor_id": "22099131"}, [("obligor_id", "party.type_mismatch")]),
    ("required.conditional", C, {"obligor_type": "C", "obligor_id": "22099131", "obligor_birth_date": None},
     [("representative_name", "required.conditional")]),
    ("field.not_applicable", S, {"close_reason": "PAID_IN_FULL"}, [("close_reason", "field.not_applicable")]),
    ("date.future", P, {"paid_date": TEN_DAYS_AHEAD}, [("paid_date", "date.future")]),
    ("amount.sum_mismatch", C, {"amount_due": "54911"}, [("amount_due", "amount.sum_mismatch")]),
    ("amount.not_positive", C, {"principal": "0", "interest": "0", "late_fee": "0", "amount_due": "0"},
     [("amount_due", "amount.not_positive")]),
    ("due_date.not_overdue", C, {"due_date": "1131105"}, [("due_date", "due_date.not_overdue")]),
    ("deadline.expired", C, {"enforcement_deadline": "1131104"}, [("enforcement_deadline", "deadline.expired")]),
    ("deadline.too_far", C, {"enforcement_deadline": "1230601"}, [("enforcement_deadline", "deadline.too_far")]),
    ("deadline.near_expiry", C, {"enforcement_deadline": "1140101"},
     [("enforcement_deadline", "deadline.near_expiry")]),
    ("address.no_county", C, {"address": "士林區中正路100號"}, [("address", "address.no_county")]),
    ("address.no_district", C, {"address": "臺北市中正路100號", "postcode": "100"},
     [("address", "address.no_district")]),
    ("postcode.mismatch", C, {"postcode": "880"}, [("postcode", "postcode.mismatch")]),
    ("payment.full_mismatch", P, {"full_payment": "Y"}, [("full_payment", "payment.full_mismatch")]),
    ("payment.channel_limit", P, {"channel": "CVS", "paid_amount": "25000"},
     [("paid_amount", "payment.channel_limit")]),
    ("branch_case_no.form", S, {"branch_case_no": "113-27350"}, [("branch_case_no", "branch_case_no.form")]),
    ("required.conditional close", S, {"event": "CLOSED"}, [("close_reason", "required.conditional")]),
    ("required.conditional amount", S, {"event": "COLLECTED"}, [("amount", "required.conditional")]),
    ("sender.mismatch", P, {"agency_code": "A999000000"}, [("agency_code", "sender.mismatch")]),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_rule(
    tmp_path: Path, kind: str, change: dict[str, str | None], expected: list[tuple[str, str]]
) -> None:
    path = write(tmp_path / "f.csv", kind, records(kind, {}, change))
    report = check(path, kind, sender=SENDERS[kind])
    assert flat(report) == [(2, field, code) for field, code in expected]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_record_has_no_finding(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / "f.csv", kind, records(kind))
    assert flat(check(path, kind, sender=SENDERS[kind])) == []


def test_every_catalogued_code_has_a_case() -> None:
    tested = {code for case in CASES for _, code in case[3]}
    # tested in test_catalogue's neighbours: encoding, duplicates, control totals, and an empty file
    # (tests/exchange/test_failures.py)
    elsewhere = {"encoding.undecodable", "file.wrong_encoding", "file.other_kind", "record.duplicate", "control.records_mismatch",
                 "control.amount_mismatch", "file.no_records"}  # fmt: skip
    catalogue = {c.code for c in vars(codes).values() if isinstance(c, Code)}
    assert catalogue - tested - elsewhere == set()


def test_taiwan_spelt_with_tai_still_routes(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", C, records(C, {"address": "台北市士林區中正路100號"}))
    assert flat(check(path, C)) == []


def test_byte_width_counts_bytes_of_the_file_encoding(tmp_path: Path) -> None:
    twenty = "王" * 20  # 60 bytes in UTF-8, 40 in CP950; the width is 60
    twenty_one = "王" * 21
    rows = records(C, {"obligor_name": twenty}, {"obligor_name": twenty_one})
    utf8 = check(write(tmp_path / "u.csv", C, rows), C)
    assert flat(utf8) == [(2, "obligor_name", "text.too_long")]
    cp950 = check(write(tmp_path / "b.csv", C, rows, encoding="cp950"), C, encoding="cp950")
    assert flat(cp950) == []
    thirty_one = records(C, {"obligor_name": "王" * 31})
    assert flat(check(write(tmp_path / "b2.csv", C, thirty_one, encoding="cp950"), C, encoding="cp950")) == [
        (1, "obligor_name", "text.too_long")
    ]


def test_undecodable_bytes_are_findings_with_row_and_field(tmp_path: Path) -> None:
    good = write(
        tmp_path / "g.csv", C, records(C, {}, {"agency_case_no": "X2"}), encoding="cp950"
    ).read_bytes()
    name = "王小明".encode("cp950")
    damaged = good.replace(name, b"\xfa\x40" + name[2:], 2).replace(b"\xfa\x40" + name[2:], name, 1)
    path = tmp_path / "d.csv"
    path.write_bytes(damaged)
    report = check(path, C, encoding="cp950")
    assert flat(report) == [(2, "obligor_name", "encoding.undecodable")]
    assert "UTF-8" in report.findings["message_zh"][0]
    utf8 = tmp_path / "u.csv"
    utf8.write_bytes(
        write(tmp_path / "x.csv", C, records(C)).read_bytes().replace("小".encode(), b"\xff\xfe\xfd")
    )
    assert flat(check(utf8, C)) == [(1, "obligor_name", "encoding.undecodable")]


@pytest.mark.parametrize(
    ("sent", "declared", "named"), [("cp950", "utf-8", "Big5"), ("utf-8", "cp950", "UTF-8")]
)
def test_a_file_in_the_other_encoding_gets_one_sentence(
    tmp_path: Path, sent: str, declared: str, named: str
) -> None:
    rows = records(C, *({"obligor_name": "王小明"} for _ in range(50)))
    report = check(write(tmp_path / "f.csv", C, rows, encoding=sent), C, encoding=declared)
    assert flat(report) == [(None, None, "file.wrong_encoding")]
    message = report.findings["message_zh"][0]
    assert (
        message.startswith(f"此檔案似為 {named} 編碼，請改選 {named} 後重新上傳")
        and "50 筆因此無法解碼" in message
    )


def test_a_damaged_value_is_not_taken_for_the_other_encoding(tmp_path: Path) -> None:
    body = write(tmp_path / "x.csv", C, records(C)).read_bytes().replace("小".encode(), b"\xff")
    (tmp_path / "u.csv").write_bytes(body)
    assert flat(check(tmp_path / "u.csv", C, encoding="cp950"))[0][2] == "encoding.undecodable"


def test_duplicates_name_the_first_record(tmp_path: Path) -> None:
    same = {"agency_case_no": VALID[C]["agency_case_no"]}
    path = write(tmp_path / "f.csv", C, records(C, {}, {}, same))
    report = check(path, C)
    assert flat(report) == [(3, "agency_case_no", "record.duplicate")]
    assert "第 1 列" in report.findings["message_zh"][0]


def test_control_record(tmp_path: Path) -> None:
    rows = records(P, {}, {"paid_amount": "500"})
    assert flat(check(write(tmp_path / "ok.csv", P, rows, trailer=b"#CONTROL,2,12500\r\n"), P)) == []
    wrong = check(write(tmp_path / "bad.csv", P, rows, trailer=b"#CONTROL,3,12000\r\n"), P)
    assert flat(wrong) == [(None, None, "control.amount_mismatch"), (None, None, "control.records_mismatch")]


def test_severity_can_be_raised(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", C, records(C, {"postcode": "880"}))
    assert not check(path, C).has_errors
    raised = check(path, C, severity={"postcode.mismatch": Severity.ERROR})
    assert raised.has_errors and raised.findings["severity"].to_list() == ["error"]


def test_messages_are_bilingual_and_values_masked(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", C, records(C, {"obligor_id": "A123456788"}))
    finding = check(path, C).findings.to_dicts()[0]
    assert finding["message_zh"] == "「義務人身分證統一編號」身分證或居留證統一證號檢查碼錯誤"
    assert finding["message_en"] == "Obligor ID: the national or resident ID check digit is wrong"
    assert finding["value"] == "A12****788"


@pytest.mark.parametrize("fmt", ["csv", "fixed", "jsonl"])
def test_a_file_of_another_kind_gets_one_sentence(tmp_path: Path, fmt: str) -> None:
    payments = records(P, *({} for _ in range(300)))
    report = check(write(tmp_path / "f.txt", P, payments, fmt=fmt), C, fmt)
    assert flat(report) == [(None, None, "file.other_kind")]
    assert report.findings["message_zh"][0].startswith("此檔案之欄位似為〈繳款資料〉，而非所選之〈移送案件〉")
    assert "look like Payment, not the chosen Case referral" in report.findings["message_en"][0]


def test_a_file_that_fits_no_kind_keeps_its_own_findings(tmp_path: Path) -> None:
    from aedx.findings import UnusableInput

    typo = tmp_path / "f.csv"
    typo.write_text(",".join(VALID[P]).replace("receipt_no", "reciept_no") + "\n", encoding="utf-8")
    with pytest.raises(UnusableInput, match="reciept_no"):
        check(typo, C)
    referrals = write(tmp_path / "r.txt", C, records(C, {}, {}), fmt="fixed")
    short = tmp_path / "s.txt"
    short.write_bytes(b"\n".join(line[:-5] for line in referrals.read_bytes().splitlines()) + b"\n")
    assert {code for _, _, code in flat(check(short, C, "fixed"))} == {"record.length"}


def test_a_code_in_the_wrong_form_is_explained_in_words_not_as_a_pattern(tmp_path: Path) -> None:
    report = check(write(tmp_path / "f.csv", C, records(C, {"agency_case_no": "113/TAX"})), C)
    zh, en = report.findings["message_zh"][0], report.findings["message_en"][0]
    assert zh == "「移送機關案號」格式錯誤，應為 1 至 30 位英文字母、數字或連字號（-）"
    assert en == "Agency case number must have 1 to 30 letters, digits or hyphens (-)"
    assert "[" not in zh + en and "{" not in zh + en
    fields = [f for kind in ("case_referral", "payment", "status_feedback") for f in get_kind(kind).fields]
    assert all(f.pattern_zh and f.pattern_en for f in fields if f.pattern)  # every pattern has its words

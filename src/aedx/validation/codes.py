"""The stable finding codes of the rule library, with their default severity and messages.

Agencies' systems and officers rely on these codes: a code, once published, keeps its meaning.
Severities can be overridden per kind (``Kind.severity``) or per run.
"""

from __future__ import annotations

from aedx.findings import define
from aedx.schema import Severity

E, W = Severity.ERROR, Severity.WARNING

REQUIRED = define("required", E, "「{label_zh}」為必填欄位", "{label_en} is required")
TOO_LONG = define(
    "text.too_long",
    E,
    "「{label_zh}」超過 {width} 位元組（{encoding}）",
    "{label_en} is longer than {width} bytes in {encoding}",
)
CONTROL_CHAR = define(
    "text.control_char",
    E,
    "「{label_zh}」含有控制字元（換行、定位字元等）",
    "{label_en} contains control characters (line breaks, tabs, ...)",
)
UNDECODABLE = define(
    "encoding.undecodable",
    E,
    "「{label_zh}」有無法以 {encoding} 解碼之位元組（可能為造字或全字庫字），{advice_zh}",
    "{label_en} has bytes that are not valid {encoding} (a user-defined or CNS 11643 "
    "character?); {advice_en}",
)
WRONG_ENCODING = define(
    "file.wrong_encoding",
    E,
    "此檔案似為 {guess_zh} 編碼，請改選 {guess_zh} 後重新上傳"
    "（{records} 筆因此無法解碼，其檢核結果 {count} 項不逐一列出）",
    "this file looks like {guess_en}; choose {guess_en} and upload it again ({records} records cannot "
    "be decoded because of it; their {count} findings are not listed one by one)",
)
OTHER_KIND = define(
    "file.other_kind",
    E,
    "此檔案之欄位似為〈{other_zh}〉，而非所選之〈{chosen_zh}〉，請改選〈{other_zh}〉後重新上傳",
    "this file's fields look like {other_en}, not the chosen {chosen_en}; "
    "choose {other_en} and upload it again",
)
CODE_FORMAT = define(
    "code.format", E, "「{label_zh}」格式錯誤，應為 {pattern_zh}", "{label_en} must have {pattern_en}"
)
ENUM = define(
    "enum.invalid", E, "「{label_zh}」應為下列之一：{values}", "{label_en} must be one of: {values}"
)
DATE_FORMAT = define(
    "date.format",
    E,
    "「{label_zh}」應為 7 碼民國年月日 YYYMMDD（如 1130229）",
    "{label_en} must be a 7-digit ROC date YYYMMDD (e.g. 1130229)",
)
DATE_INVALID = define(
    "date.invalid", E, "「{label_zh}」不是存在的日期", "{label_en} is not a real calendar day"
)
AMOUNT_FORMAT = define(
    "amount.format",
    E,
    "「{label_zh}」應為不含小數點、負號及千分位之整數，最多 {width} 位",
    "{label_en} must be a whole non-negative number of at most {width} digits, no separators",
)
POSTCODE_FORMAT = define(
    "postcode.format",
    E,
    "「{label_zh}」應為 3、5 或 6 碼數字",
    "{label_en} must have 3, 5 or 6 digits",
)
ID_FORMAT = define(
    "id.format",
    E,
    "「{label_zh}」格式錯誤：應為{forms_zh}",
    "{label_en} is malformed: expected {forms_en}",
)
ID_CHECKSUM = define(
    "id.checksum",
    E,
    "「{label_zh}」身分證或居留證統一證號檢查碼錯誤",
    "{label_en}: the national or resident ID check digit is wrong",
)
UBN_CHECKSUM = define(
    "ubn.checksum",
    E,
    "「{label_zh}」營利事業統一編號檢查碼錯誤",
    "{label_en}: the business ID (UBN) check digit is wrong",
)
TYPE_MISMATCH = define(
    "party.type_mismatch",
    E,
    "「{label_zh}」與「{other_zh}」不符：自然人應填身分證或居留證號，法人應填統一編號",
    "{label_en} does not fit {other_en}: a person has a national or resident ID, a company a business ID",
)
REQUIRED_WHEN = define(
    "required.conditional",
    E,
    "「{other_zh}」為 {value} 時，「{label_zh}」為必填",
    "{label_en} is required when {other_en} is {value}",
)
NOT_APPLICABLE = define(
    "field.not_applicable",
    E,
    "「{label_zh}」僅於「{other_zh}」為 {value} 時填寫",
    "{label_en} is given only when {other_en} is {value}",
)
FUTURE = define("date.future", E, "「{label_zh}」不可晚於今日", "{label_en} cannot be later than today")
SUM_MISMATCH = define(
    "amount.sum_mismatch",
    E,
    "「{label_zh}」應等於{parts_zh}之和",
    "{label_en} must equal the sum of {parts_en}",
)
NOT_POSITIVE = define("amount.not_positive", E, "「{label_zh}」應大於 0", "{label_en} must be greater than 0")
NOT_OVERDUE = define(
    "due_date.not_overdue",
    E,
    "「{label_zh}」應早於「{other_zh}」：案件須已逾繳納期間始得移送",
    "{label_en} must be before {other_en}: only overdue debts can be referred",
)
EXPIRED = define(
    "deadline.expired",
    E,
    "「{label_zh}」應晚於「{other_zh}」：執行期間已屆滿者不得移送",
    "{label_en} must be after {other_en}: the enforcement period has ended",
)
TOO_FAR = define(
    "deadline.too_far",
    E,
    "「{label_zh}」不得晚於「{other_zh}」後 {years} 年（行政執行法第 7 條）",
    "{label_en} cannot be more than {years} years after {other_en} (Administrative Enforcement Act art. 7)",
)
NEAR_EXPIRY = define(
    "deadline.near_expiry",
    W,
    "距「{label_zh}」不足 {days} 日，請優先執行",
    "fewer than {days} days are left until {label_en}: enforce first",
)
NO_COUNTY = define(
    "address.no_county",
    E,
    "「{label_zh}」未以縣市開頭，無法決定管轄分署",
    "{label_en} does not start with a county or city, so the case cannot be routed",
)
NO_DISTRICT = define(
    "address.no_district",
    E,
    "「{label_zh}」位於{split_zh}者須載明行政區，以決定管轄分署",
    "{label_en} in {split_en} must name the district so the case can be routed",
)
POSTCODE_MISMATCH = define(
    "postcode.mismatch",
    W,
    "「{label_zh}」與地址之縣市、行政區不符",
    "{label_en} does not match the county and district of the address",
)
FULL_PAYMENT = define(
    "payment.full_mismatch",
    E,
    "「{label_zh}」為 Y 時「{other_zh}」應為 0，為 N 時應大於 0",
    "when {label_en} is Y, {other_en} must be 0; when N, above 0",
)
CHANNEL_LIMIT = define(
    "payment.channel_limit",
    W,
    "{value}單筆繳款上限為 {limit} 元，請確認「{label_zh}」",
    "{value} payments are limited to NT${limit}; check {label_en}",
)
BRANCH_CASE_NO = define(
    "branch_case_no.form",
    W,
    "「{label_zh}」不符分署案號格式（如 士執午113年營所稅執特專字第00027350號）",
    "{label_en} does not look like a branch case number (士執午113年營所稅執特專字第00027350號)",
)
SENDER = define(
    "sender.mismatch",
    E,
    "「{label_zh}」與傳送機關 {sender} 不符",
    "{label_en} differs from the sender {sender}",
)
DUPLICATE = define(
    "record.duplicate",
    E,
    "{key_zh}與本檔第 {first} 列重複",
    "{key_en} repeats record {first} of this file",
)
CONTROL_COUNT = define(
    "control.records_mismatch",
    E,
    "控制紀錄所載筆數 {declared} 與實際筆數 {actual} 不符",
    "the control record declares {declared} records; the file has {actual}",
)
CONTROL_AMOUNT = define(
    "control.amount_mismatch",
    E,
    "控制紀錄所載金額合計 {declared} 與實際合計 {actual} 不符",
    "the control record declares an amount total of {declared}; the records add up to {actual}",
)
NO_RECORDS = define(
    "file.no_records",
    E,
    "檔案沒有任何資料紀錄（僅有標題列或控制紀錄），請確認匯出內容後重新上傳",
    "the file holds no records (only a header or a control record); check the export and send it again",
)

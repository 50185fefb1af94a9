"""Branch case numbers in the real form: 士執午104年營所稅執特專字第00027350號 — the branch's
abbreviation, 執, the officer's section (股), the ROC year, the case type, 字第, the serial, 號."""

from __future__ import annotations

import datetime as dt

from aedx.validation.dates import ROC_OFFSET

SECTIONS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
TAX_TYPES = {
    "綜合所得稅": "綜所稅執",
    "營利事業所得稅": "營所稅執",
    "營業稅": "營稅執",
    "地價稅": "地價稅執",
    "房屋稅": "房屋稅執",
    "使用牌照稅": "牌照稅執",
    "遺產稅": "遺產稅執",
    "貨物稅": "貨物稅執",
}
CATEGORY_TYPES = {"TAX": "稅執", "NHI": "健保執", "FINE": "罰執", "FEE": "費執"}
SPECIAL = 10_000_000  # 特專: cases of ten million or more
LARGE = 1_000_000  # 專: a million or more


def case_type(category: str, debt_type: str, amount_due: int) -> str:
    """The case type word: the tax or debt, then 特專 / 專 by size."""
    if debt_type in TAX_TYPES:
        word = TAX_TYPES[debt_type]
    elif debt_type.startswith("勞工") or debt_type.startswith("就業"):
        word = "勞保執"
    elif debt_type.startswith("交通"):
        word = "交罰執"
    else:
        word = CATEGORY_TYPES.get(category, "執")
    if amount_due >= SPECIAL:
        return word + "特專"
    if amount_due >= LARGE:
        return word + "專"
    return word


def branch_case_no(abbreviation: str, section: str, day: dt.date, kind: str, serial: int) -> str:
    return f"{abbreviation}執{section}{day.year - ROC_OFFSET}年{kind}字第{serial:08d}號"

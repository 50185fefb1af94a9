"""Plausible obligors: names, companies, addresses on real roads, dates and amounts.

Everything is drawn with a seeded numpy generator, a column at a time.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np

from aedx import refdata
from aedx.validation.dates import ROC_OFFSET

# The most common surnames, roughly by frequency (陳 about 11%, 林 8%, ...).
SURNAMES = list(
    "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴"
)
_SURNAME_WEIGHTS = np.array(
    [11.1, 8.3, 6.0, 5.3, 5.1, 4.1, 4.0, 3.2, 2.9, 2.6] + [1.0] * (len(SURNAMES) - 10)
)
GIVEN = list("家豪志明俊傑建宏淑芬美玲雅婷怡君佳穎冠宇承恩宗翰柏翰彥廷欣怡詩涵宜蓁子晴品妤思妤宥辰睿哲")
# Name characters Big5 lacks; they occur in real names and only UTF-8 files can carry them.
OUTSIDE_BIG5 = list("堃煊伃喆峯犇鍹")
COMPANY_WORDS = list("宏達聯華興業永豐大同新光國泰中華台灣東元長榮遠東統一台塑正隆信義")
COMPANY_TRADES = ["實業", "建設", "科技", "貿易", "企業", "工程", "國際", "食品", "開發", "營造"]
COMPANY_FORMS = ["股份有限公司", "有限公司"]
# Share of population by county, used to place obligors (2023, rounded percentages).
COUNTY_WEIGHTS = {
    "新北市": 17.2, "臺中市": 12.1, "高雄市": 11.8, "臺北市": 10.7, "桃園市": 9.7,
    "臺南市": 7.9, "彰化縣": 5.4, "屏東縣": 3.4, "雲林縣": 2.9, "新竹縣": 2.5,
    "苗栗縣": 2.3, "嘉義縣": 2.1, "新竹市": 1.9, "南投縣": 2.0, "宜蘭縣": 1.9,
    "基隆市": 1.5, "花蓮縣": 1.4, "嘉義市": 1.1, "臺東縣": 0.9, "金門縣": 0.6,
    "澎湖縣": 0.5, "連江縣": 0.1,
}  # fmt: skip


def choose(rng: np.random.Generator, items: list[str], n: int, p: np.ndarray | None = None) -> np.ndarray:
    probs = None if p is None else p / p.sum()
    return np.asarray(items, dtype=object)[rng.choice(len(items), n, p=probs)]


def maybe(mask: np.ndarray, values: np.ndarray | str) -> np.ndarray:
    """``values`` where ``mask`` holds, missing elsewhere."""
    return np.where(mask, values, np.array(None, dtype=object))


def join(*parts: np.ndarray) -> np.ndarray:
    out = parts[0].astype(object)
    for part in parts[1:]:
        out = out + part.astype(object)
    return out


def person_names(rng: np.random.Generator, n: int, *, big5_only: bool) -> np.ndarray:
    surname = choose(rng, SURNAMES, n, _SURNAME_WEIGHTS)
    given = list(GIVEN) if big5_only else GIVEN + OUTSIDE_BIG5 * 2
    first = choose(rng, given, n)
    second = np.where(rng.random(n) < 0.85, choose(rng, given, n), "")
    return join(surname, first, second)


def company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    return join(
        choose(rng, COMPANY_WORDS, n),
        choose(rng, COMPANY_WORDS, n),
        choose(rng, COMPANY_TRADES, n),
        choose(rng, COMPANY_FORMS, n),
    )


@cache
def _streets() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = [s for s in refdata.streets() if s.county in COUNTY_WEIGHTS]
    county = np.array([s.county for s in rows], dtype=object)
    district = np.array([s.district for s in rows], dtype=object)
    road = np.array([s.road for s in rows], dtype=object)
    zip6 = np.array([s.zip6 for s in rows], dtype=object)
    return county, district, road, zip6


def addresses(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Addresses on real roads, weighted by county population, and their postcodes."""
    county, district, road, zip6 = _streets()
    counts = {c: int((county == c).sum()) for c in COUNTY_WEIGHTS}
    weight = np.array([COUNTY_WEIGHTS[c] / counts[c] for c in county])
    pick = rng.choice(len(county), n, p=weight / weight.sum())
    number = rng.integers(1, 400, n).astype(str).astype(object)
    lane = np.where(rng.random(n) < 0.3, rng.integers(1, 200, n).astype(str).astype(object) + "巷", "")
    floor = np.where(rng.random(n) < 0.5, rng.integers(2, 20, n).astype(str).astype(object) + "樓", "")
    text = join(county[pick], district[pick], road[pick], lane, number, np.full(n, "號", object), floor)
    code = zip6[pick]
    form = rng.random(n)
    postcode = np.where(form < 0.5, code, np.where(form < 0.8, [c[:3] for c in code], [c[:5] for c in code]))
    return text, postcode.astype(object)


def roc(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 to 7-digit ROC date strings."""
    dates = np.asarray(days, dtype="datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    number = (years - ROC_OFFSET) * 10000 + months * 100 + day
    return np.char.zfill(number.astype(str), 7).astype(object)


def epoch_days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def lognormal_amounts(rng: np.random.Generator, median: np.ndarray, n: int, low: int = 100) -> np.ndarray:
    return np.maximum(low, np.round(median * rng.lognormal(0.0, 0.9, n))).astype(np.int64)

"""The enforcement lifecycle, one simulated day at a time.

A case is assigned (分案), gets a payment notice (傳繳通知), may have deposits or wages seized (扣押)
and, for large arrears, an exit ban (限制出境), and is paid through a channel, in part or in full,
by the obligor or out of what was seized. It
closes paid in full, with an execution certificate when nothing more can be found, withdrawn,
returned, revoked or at the end of the enforcement period. Each case sees at most one step a day,
so a day's status events never repeat (the kind's unique key); a collection that pays the case off
is followed by its closing on the same day. Actions stay in the branch's own records; the agency
hears of them through the kind's events: notices, seizures and exit bans as PENDING (未結).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3

OBLIGOR_CHANNELS = (("CVS", 0.35), ("BANK", 0.25), ("POST", 0.15), ("BRANCH_COUNTER", 0.15), ("CARD", 0.05),
                    ("EPAY", 0.05))  # fmt: skip
CVS_LIMIT = 20_000
CERTIFICATE_AFTER = 20  # days without payment before nothing-found ends in a certificate
SEIZE_AFTER = 5  # days after the notice
EXIT_BAN_FROM = 100_000  # arrears an exit ban needs (Administrative Enforcement Act art. 17)


def record(
    conn: sqlite3.Connection,
    case_id: int,
    event: str,
    day: dt.date,
    *,
    amount: int | None = None,
    reason: str | None = None,
) -> None:
    """A status event for the agency, and the case's own status moved with it."""
    conn.execute(
        "INSERT INTO events (case_id, event, event_date, amount, close_reason) VALUES (?, ?, ?, ?, ?)",
        (case_id, event, day.isoformat(), amount, reason),
    )
    if event == "CLOSED":
        conn.execute(
            "UPDATE cases SET status = 'CLOSED', close_reason = ?, closed_on = ?, is_open = NULL,"
            " stage = 'closed', stage_day = ? WHERE id = ?",
            (reason, day.isoformat(), day.isoformat(), case_id),
        )
    else:
        conn.execute("UPDATE cases SET status = ? WHERE id = ?", (event, case_id))


def act(conn: sqlite3.Connection, case_id: int | None, day: dt.date, action: str, **detail: object) -> None:
    conn.execute(
        "INSERT INTO actions (case_id, day, action, channel, amount, reference) VALUES (?, ?, ?, ?, ?, ?)",
        (
            case_id,
            day.isoformat(),
            action,
            detail.get("channel"),
            detail.get("amount"),
            detail.get("reference"),
        ),
    )


def collect(conn: sqlite3.Connection, case: sqlite3.Row, day: dt.date, amount: int, channel: str) -> None:
    """徵起: money the branch collected; the case closes when nothing is left."""
    conn.execute("UPDATE cases SET collected = collected + ? WHERE id = ?", (amount, case["id"]))
    act(conn, case["id"], day, "collection", channel=channel, amount=amount)
    record(conn, case["id"], "COLLECTED", day, amount=amount)
    if balance(case) - amount == 0:
        record(conn, case["id"], "CLOSED", day, reason="PAID_IN_FULL")


def balance(case: sqlite3.Row) -> int:
    return int(case["amount_due"]) - int(case["collected"]) - int(case["paid_to_agency"])


def agency_payment(conn: sqlite3.Connection, r: dict[str, str | None], day: dt.date, source: str) -> None:
    """A payment the agency received reduces the case; when it clears it, the case closes. A
    payment for a case closed here (or unknown) is kept on record only."""
    case = conn.execute(
        "SELECT * FROM cases WHERE agency_code = ? AND agency_case_no = ? ORDER BY is_open IS NULL, id DESC",
        (r["agency_code"], r["agency_case_no"]),
    ).fetchone()
    paid = int(r["paid_amount"] or 0)
    reference = f"{source}:{r['receipt_no']}"
    if case is None or case["is_open"] is None:
        act(conn, None if case is None else case["id"], day, "agency_payment_unapplied", amount=paid,
            channel=r["channel"], reference=reference)  # fmt: skip
        return
    applied = min(paid, balance(case))
    conn.execute("UPDATE cases SET paid_to_agency = paid_to_agency + ? WHERE id = ?", (applied, case["id"]))
    act(conn, case["id"], day, "agency_payment", channel=r["channel"], amount=applied, reference=reference)
    conn.execute("INSERT INTO stepped (case_id) VALUES (?) ON CONFLICT DO NOTHING", (case["id"],))
    if balance(case) - applied == 0:
        record(conn, case["id"], "CLOSED", day, reason="PAID_IN_FULL")


def play_day(conn: sqlite3.Connection, day: dt.date, rng: random.Random) -> int:
    """One day of enforcement on every open case received before the day."""
    before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    stepped = {row[0] for row in conn.execute("SELECT case_id FROM stepped")}
    cases = conn.execute(
        "SELECT * FROM cases WHERE is_open = 1 AND received < ? ORDER BY id", (day.isoformat(),)
    ).fetchall()
    for case in cases:
        roll = rng.random()  # drawn for every case, so one case's fate does not shift another's
        if case["id"] in stepped:
            continue
        _step(conn, case, day, roll, rng)
    conn.execute("DELETE FROM stepped")
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] - before)


def _step(conn: sqlite3.Connection, case: sqlite3.Row, day: dt.date, roll: float, rng: random.Random) -> None:
    age = (day - dt.date.fromisoformat(case["received"])).days
    since = (day - dt.date.fromisoformat(case["stage_day"])).days
    if dt.date.fromisoformat(case["enforcement_deadline"]) < day:
        record(conn, case["id"], "CLOSED", day, reason="EXPIRED")
    elif case["stage"] == "assigned":
        if age <= 3 and roll < 0.01:
            record(conn, case["id"], "CLOSED", day, reason="RETURNED")
        elif roll < 0.6:
            _move(conn, case, day, "notified", "notice")
    elif case["stage"] == "notified":
        if roll < 0.10:
            _obligor_pays(conn, case, day, rng)
        elif roll < 0.16:
            if since >= SEIZE_AFTER:
                _move(conn, case, day, "seized", "seizure")
        elif roll < 0.163:
            record(conn, case["id"], "CLOSED", day, reason="WITHDRAWN")
        elif roll < 0.18 and age >= CERTIFICATE_AFTER:
            _certificate(conn, case, day)
    elif case["stage"] == "seized":
        if roll < 0.25:
            share = rng.uniform(0.3, 1.0)
            amount = balance(case) if share > 0.8 else max(1, int(balance(case) * share))
            collect(conn, case, day, amount, "SEIZURE")
        elif roll < 0.28:
            _obligor_pays(conn, case, day, rng)
        elif roll < 0.31:
            if age >= CERTIFICATE_AFTER:
                _certificate(conn, case, day)
        elif roll < 0.312:
            record(conn, case["id"], "CLOSED", day, reason="REVOKED")
        elif roll < 0.33 and balance(case) >= EXIT_BAN_FROM and not _banned(conn, case):
            act(conn, case["id"], day, "exit_ban")  # 限制出境
            record(conn, case["id"], "PENDING", day)


def _move(conn: sqlite3.Connection, case: sqlite3.Row, day: dt.date, stage: str, action: str) -> None:
    conn.execute(
        "UPDATE cases SET stage = ?, stage_day = ? WHERE id = ?", (stage, day.isoformat(), case["id"])
    )
    act(conn, case["id"], day, action)
    record(conn, case["id"], "PENDING", day)


def _obligor_pays(conn: sqlite3.Connection, case: sqlite3.Row, day: dt.date, rng: random.Random) -> None:
    names, weights = zip(*OBLIGOR_CHANNELS, strict=True)
    channel = rng.choices(names, weights)[0]
    left = balance(case)
    amount = left if rng.random() < 0.55 else max(1, int(left * rng.uniform(0.1, 0.6)))
    if channel == "CVS":
        amount = min(amount, CVS_LIMIT)
    collect(conn, case, day, amount, channel)


def _banned(conn: sqlite3.Connection, case: sqlite3.Row) -> bool:
    found = conn.execute("SELECT 1 FROM actions WHERE case_id = ? AND action = 'exit_ban'", (case["id"],))
    return found.fetchone() is not None


def _certificate(conn: sqlite3.Connection, case: sqlite3.Row, day: dt.date) -> None:
    """核發執行憑證: nothing more to seize; the debt stays and the agency may refer it again."""
    act(conn, case["id"], day, "certificate", reference=f"{case['branch_case_no']}憑證")
    record(conn, case["id"], "CLOSED", day, reason="CERTIFICATE")

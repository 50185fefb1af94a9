"""Cross-checks against the case index, payments routed by it, and status feedback that moves
cases and comes back to the referring agency as feedback packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from aedx.accounts import grants
from aedx.accounts import organisations as orgs
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.exchange import intake
from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import Case, Delivery
from aedx.trust.caller import Caller
from tests.builders import records
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import referrals

CASE_NO = "士執午113年營所稅執特專字第{:08d}號"


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def status(*rows: dict[str, str | None]) -> pl.DataFrame:
    return records("status_feedback", *rows)


def test_an_open_case_cannot_be_referred_again_but_a_closed_one_can(hub: Hub) -> None:
    hub.send("A383000000", "case_referral", referrals("sly", "sly"))
    again = hub.send("A383000000", "case_referral", referrals("sly", "tpy", prefix="C").slice(1, 1))
    assert again["state"] == "rejected"
    assert hub.codes("A383000000", again["id"]) == ["case.already_open"]
    # Another agency's case numbers are its own.
    other = referrals("sly").with_columns(pl.lit("A397000000").alias("agency_code"))
    assert hub.send("A397000000", "case_referral", other)["state"] == "delivered"

    closed = status({"agency_case_no": "C00001", "event": "CLOSED", "close_reason": "CERTIFICATE"})
    assert hub.send("sly", "status_feedback", closed)["state"] == "delivered"
    re_referral = referrals("sly", "tpy").slice(1, 1).with_columns(pl.lit("Y").alias("re_referral"))
    again = hub.send("A383000000", "case_referral", re_referral)
    assert again["state"] == "delivered"  # referred again after the execution certificate
    index = hub.cases().filter(pl.col("agency_case_no") == "C00001")
    assert index.select("branch_code", "status", "is_open").rows() == [
        ("sly", "CLOSED", None),
        ("tpy", "REFERRED", True),
    ]


def test_payments_follow_the_case_to_its_branch(hub: Hub) -> None:
    hub.send("A383000000", "case_referral", referrals("sly", "ksy"))
    paid = records("payment", {"agency_case_no": "C00001"}, {"agency_case_no": "C00000"})
    sub = hub.send("A383000000", "payment", paid)
    assert sub["state"] == "delivered"
    payments = [d for d in hub.inbox("ksy") if d["kind"] == "payment"]
    assert [hub.download("ksy", d)["agency_case_no"].to_list() for d in payments] == [["C00001"]]
    unknown = hub.send("A383000000", "payment", records("payment", {"agency_case_no": "NOPE1"}))
    assert unknown["state"] == "rejected"
    assert hub.codes("A383000000", unknown["id"]) == ["case.unknown"]


def test_status_feedback_moves_cases_and_returns_to_the_referring_agency(hub: Hub) -> None:
    hub.send("A383000000", "case_referral", referrals("sly", "sly", "tpy"))
    nhi = referrals("sly").with_columns(
        pl.lit("A397000000").alias("agency_code"), pl.lit("N1").alias("agency_case_no")
    )
    hub.send("A397000000", "case_referral", nhi)
    feedback = status(
        {"agency_case_no": "C00000", "event": "ASSIGNED", "branch_case_no": CASE_NO.format(1)},
        {
            "agency_case_no": "C00000",
            "event": "COLLECTED",
            "amount": "1000",
            "event_date": "1131107",
            "branch_case_no": CASE_NO.format(1),
        },
        {"agency_case_no": "C00001", "event": "ASSIGNED", "branch_case_no": CASE_NO.format(2)},
        {
            "agency_case_no": "C00001",
            "event": "CLOSED",
            "close_reason": "PAID_IN_FULL",
            "event_date": "1131108",
            "branch_case_no": CASE_NO.format(2),
        },
        {
            "agency_code": "A397000000",
            "agency_case_no": "N1",
            "event": "ASSIGNED",
            "branch_case_no": CASE_NO.format(3),
        },
    )
    sub = hub.send("sly", "status_feedback", feedback)
    assert sub["state"] == "delivered"
    index = {r["agency_case_no"]: r for r in hub.cases().to_dicts()}
    assert (index["C00000"]["status"], index["C00000"]["collected"], index["C00000"]["branch_case_no"]) == (
        "COLLECTED",
        1000,
        CASE_NO.format(1),
    )
    assert (index["C00001"]["status"], index["C00001"]["close_reason"], index["C00001"]["is_open"]) == (
        "CLOSED",
        "PAID_IN_FULL",
        None,
    )
    assert index["C00002"]["status"] == "REFERRED"
    # One feedback package per referring agency, in its inbox.
    (tax,) = [d for d in hub.inbox("A383000000") if d["kind"] == "status_feedback"]
    (health,) = [d for d in hub.inbox("A397000000") if d["kind"] == "status_feedback"]
    assert (tax["records"], health["records"], tax["submission_id"]) == (4, 1, sub["id"])
    assert hub.download("A397000000", health)["agency_case_no"].to_list() == ["N1"]


def test_a_branch_reports_only_on_cases_it_holds(hub: Hub) -> None:
    hub.send("A383000000", "case_referral", referrals("tpy"))
    sub = hub.send("sly", "status_feedback", status({"agency_case_no": "C00000"}))
    assert sub["state"] == "rejected"
    assert hub.codes("sly", sub["id"]) == ["case.not_held"]
    unknown = hub.send("sly", "status_feedback", status({"agency_case_no": "NOPE"}))
    assert hub.codes("sly", unknown["id"]) == ["case.unknown"]


def test_a_recipient_no_longer_on_the_platform_is_a_finding(hub: Hub) -> None:
    with hub.platform.db.transaction() as session:
        orgs.upsert(session, [orgs.OrgRow("A100000000", "某機關", "agency", "fee")], "test")
        grants.apply_defaults(session, orgs.operator(session, "test"))
    hub.enrol("A100000000")
    sent = referrals("sly").with_columns(pl.lit("A100000000").alias("agency_code"))
    assert hub.send("A100000000", "case_referral", sent)["state"] == "delivered"
    with hub.platform.db.transaction() as session:
        orgs.get(session, "A100000000").active = False
    sub = hub.send(
        "sly", "status_feedback", status({"agency_code": "A100000000", "agency_case_no": "C00000"})
    )
    assert hub.codes("sly", sub["id"]) == ["route.no_recipient"]


def test_deliveries_come_in_the_recipients_format_and_encoding(hub: Hub) -> None:
    with hub.platform.db.transaction() as session:
        branch = orgs.get(session, "sly")
        branch.preferred_format, branch.preferred_encoding = "fixed", "cp950"
    sent = referrals("sly", "sly").with_columns(
        pl.Series("obligor_name", ["陳大文", "林堃"])  # 堃 is not in Big5
    )
    hub.send("A383000000", "case_referral", sent.slice(0, 1))
    hub.send("A383000000", "case_referral", sent.slice(1, 1))
    first, second = hub.inbox("sly")
    assert (first["format"], first["encoding"]) == ("fixed", "cp950")
    assert (second["format"], second["encoding"]) == ("fixed", "utf-8")  # nothing lost
    assert hub.download("sly", first)["obligor_name"].to_list() == ["陳大文"]
    assert hub.download("sly", second)["obligor_name"].to_list() == ["林堃"]
    content = hub.open("sly", hub.get("sly", f"/api/v1/deliveries/{first['id']}/content").content)
    assert content.decode("cp950").count("\r\n") == 2  # the record and its control trailer
    assert encode_records(sent.slice(0, 1), get_kind("case_referral"), "fixed", "cp950") in content


def test_a_payment_for_a_closed_case_is_delivered_with_a_warning(hub: Hub) -> None:
    hub.send("A383000000", "case_referral", referrals("ksy"))
    hub.send("ksy", "status_feedback", status({"agency_case_no": "C00000", "branch_code": "ksy", "event": "CLOSED",
                                               "close_reason": "PAID_IN_FULL", "branch_case_no": "雄執甲113年稅執專字第00000001號"}))  # fmt: skip
    sub = hub.send("A383000000", "payment", records("payment", {"agency_case_no": "C00000"}))
    assert (sub["state"], sub["warning_rows"]) == ("delivered", 1)
    assert hub.codes("A383000000", sub["id"]) == ["case.closed"]
    assert [d["kind"] for d in hub.inbox("ksy")] == ["case_referral", "payment"]


def _officer(hub: Hub, code: str) -> Caller:
    with hub.platform.db.transaction() as session:
        org = orgs.get(session, code)
        granted = grants.of(session, org.id)
    return Caller(org.id, org.code, org.role, "user:1", ROLE_PERMISSIONS[Role.AGENCY_OFFICER], granted)


def _dry_run(hub: Hub, caller: Caller, kind: str, frame: pl.DataFrame) -> list[str]:
    body = encode_records(frame, get_kind(kind), "csv", "utf-8")
    report = intake.dry_run(hub.platform, caller, intake.Upload(kind, "csv", "utf-8"), [body])
    return list(report.findings["code"])


def test_a_dry_run_finds_what_the_case_index_refuses_and_indexes_nothing(hub: Hub) -> None:
    officer = _officer(hub, "A383000000")
    first = referrals("sly", "tpy")
    assert _dry_run(hub, officer, "case_referral", first) == []
    assert hub.count(Case) == 0  # a dry run indexes nothing, however often it runs
    hub.send("A383000000", "case_referral", first)
    indexed = hub.cases()

    again = first.slice(1, 1)
    assert hub.send("A383000000", "case_referral", again)["state"] == "rejected"
    assert _dry_run(hub, officer, "case_referral", again) == ["case.already_open"]
    unknown = records("payment", {"agency_case_no": "C09999"})
    sent = hub.send("A383000000", "payment", unknown)
    assert sent["state"] == "rejected" and hub.codes("A383000000", sent["id"]) == ["case.unknown"]
    assert _dry_run(hub, officer, "payment", unknown) == ["case.unknown"]
    assert hub.cases().equals(indexed) and hub.count(Delivery) == 2

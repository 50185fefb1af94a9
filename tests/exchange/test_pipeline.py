"""The exchange end to end through the API, on SQLite and on PostgreSQL: routing by territory,
the case index, deliveries in each recipient's format, acknowledgement, feedback, rejection."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest
from asn1crypto import cms as asn1_cms

from aedx.formats.writers import encode_records
from aedx.kinds import get_kind
from aedx.storage.tables import Case, Delivery, Job, Submission
from tests.builders import records
from tests.exchange.hub import Hub

ADDRESSES = {  # address, postcode → the branch whose territory holds it
    "sly": ("臺北市士林區中正路100號", "11101"),
    "tpy": ("臺北市大安區復興南路一段1號", "106"),
    "ily": ("新北市瑞芳區明燈路三段1號", "224"),
    "pcy": ("新北市板橋區文化路一段1號", "220"),
    "ksy": ("高雄市苓雅區四維三路2號", "802"),
}


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def referrals(*branches: str, prefix: str = "C") -> pl.DataFrame:
    return records(
        "case_referral",
        *(
            {"agency_case_no": f"{prefix}{i:05d}", "address": ADDRESSES[b][0], "postcode": ADDRESSES[b][1]}
            for i, b in enumerate(branches)
        ),
    )


def test_a_referral_file_reaches_each_branch_with_jurisdiction(hub: Hub) -> None:
    sent = referrals("sly", "tpy", "ily", "pcy", "ksy", "sly")
    sub = hub.send("A383000000", "case_referral", sent)
    assert (sub["state"], sub["records"], sub["error_rows"]) == ("delivered", 6, 0)

    for branch, expected in {"sly": ["C00000", "C00005"], "tpy": ["C00001"], "ily": ["C00002"]}.items():
        (package,) = hub.inbox(branch)
        assert (package["submission_id"], package["sender"], package["records"]) == (
            sub["id"],
            "A383000000",
            len(expected),
        )
        got = hub.download(branch, package)
        assert got["agency_case_no"].to_list() == expected
        assert got.equals(sent.filter(pl.col("agency_case_no").is_in(expected)))  # every field as sent
    assert hub.inbox("tyy") == []
    index = hub.cases()
    assert index.height == 6
    assert dict(zip(index["agency_case_no"], index["branch_code"], strict=True))["C00004"] == "ksy"
    assert set(index["status"]) == {"REFERRED"} and index["is_open"].all()
    assert hub.count(Job) == 0


def test_the_submission_is_acknowledged_when_every_package_is(hub: Hub) -> None:
    sub = hub.send("A383000000", "case_referral", referrals("sly", "tpy"))
    (first,) = hub.inbox("sly")
    (second,) = hub.inbox("tpy")
    hub.download("sly", first)
    hub.download("sly", first)  # twice is safe
    assert hub.post("sly", f"/api/v1/deliveries/{first['id']}/ack").json()["state"] == "acknowledged"
    assert hub.post("sly", f"/api/v1/deliveries/{first['id']}/ack").status_code == 200  # and again
    assert hub.inbox("sly") == []
    assert [d["id"] for d in hub.inbox("sly", include_acknowledged=True)] == [first["id"]]
    assert hub.get("A383000000", f"/api/v1/submissions/{sub['id']}").json()["state"] == "delivered"
    assert hub.inbox("tpy") == [second]  # unacknowledged packages stay listed
    early = hub.post("tpy", f"/api/v1/deliveries/{second['id']}/ack")  # never downloaded
    assert early.status_code == 409 and early.json()["error"]["code"] == "delivery.not_downloaded"
    part = hub.client.get(  # a range of the package is not a complete download
        f"/api/v1/deliveries/{second['id']}/content", headers=hub.auth("tpy") | {"Range": "bytes=0-99"}
    )
    assert part.status_code == 206 and len(part.content) == 100
    assert hub.post("tpy", f"/api/v1/deliveries/{second['id']}/ack").status_code == 409
    assert hub.get("tpy", f"/api/v1/deliveries/{second['id']}").json()["downloaded_at"] is None
    hub.download("tpy", second)
    assert hub.post("tpy", f"/api/v1/deliveries/{second['id']}/ack").status_code == 200
    assert hub.get("A383000000", f"/api/v1/submissions/{sub['id']}").json()["state"] == "acknowledged"
    assert hub.get("sly", f"/api/v1/deliveries/{first['id']}").json()["downloads"] == 2


def test_a_file_with_any_error_is_rejected_whole_with_its_report(hub: Hub) -> None:
    bad = referrals("sly", "tpy").with_columns(
        pl.when(pl.col("agency_case_no") == "C00001")
        .then(pl.lit("A123456788"))
        .otherwise("obligor_id")
        .alias("obligor_id")
    )
    sub = hub.send("A383000000", "case_referral", bad, filename='../移送"0105.csv')
    assert (sub["state"], sub["records"], sub["error_rows"]) == ("rejected", 2, 1)
    assert hub.codes("A383000000", sub["id"]) == ["id.checksum"]
    found = hub.get("A383000000", f"/api/v1/submissions/{sub['id']}/report").json()["findings"]
    row = bad["agency_case_no"].to_list().index("C00001") + 1
    assert [(f["row"], f["line"], f["case_no"]) for f in found] == [(row, row + 1, "C00001")]
    for fmt in ("csv", "xlsx", "ods", "json"):
        response = hub.get("A383000000", f"/api/v1/submissions/{sub['id']}/report/{fmt}")
        assert response.status_code == 200 and len(response.content) > 100, fmt
        named = quote(f"移送_0105_檢核報告_{sub['id']}.{fmt}", safe="")  # named after the file sent
        assert response.headers["content-disposition"] == (
            f"attachment; filename=\"0105_report_{sub['id']}.{fmt}\"; filename*=UTF-8''{named}"
        )
    assert hub.count(Case) == 0 and hub.count(Delivery) == 0 and hub.inbox("sly") == []


def test_warnings_do_not_block(hub: Hub) -> None:
    near = referrals("sly").with_columns(
        pl.lit("1131215").alias("enforcement_deadline")
    )  # under 90 days left
    sub = hub.send("A383000000", "case_referral", near)
    assert (sub["state"], sub["warning_rows"]) == ("delivered", 1)


def test_an_unreadable_file_is_rejected_with_the_reason(hub: Hub) -> None:
    response = hub.upload("A383000000", "case_referral", b"\x00\x01binary\x00")
    hub.worker.drain()
    sub = hub.get("A383000000", f"/api/v1/submissions/{response.json()['id']}").json()
    assert sub["state"] == "rejected"
    assert hub.codes("A383000000", sub["id"]) == ["file.binary"]


def test_the_same_file_or_key_gives_the_same_submission(hub: Hub) -> None:
    body = b"".join([hub_bytes(referrals("sly"))])
    first = hub.upload("A383000000", "case_referral", body, key="day-1")
    again = hub.upload("A383000000", "case_referral", body)
    by_key = hub.upload("A383000000", "case_referral", body, key="day-1")
    assert first.status_code == again.status_code == by_key.status_code == 202
    assert first.json()["duplicate"] is False and again.json()["duplicate"] and by_key.json()["duplicate"]
    assert first.json()["id"] == again.json()["id"] == by_key.json()["id"]
    other = hub.upload("A383000000", "case_referral", hub_bytes(referrals("tpy", prefix="D")), key="day-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    assert hub.count(Submission) == 1 and hub.count(Job) == 1
    assert hub.worker.drain() == 1 and hub.worker.drain() == 0
    assert hub.count(Case) == 1


def hub_bytes(frame: pl.DataFrame) -> bytes:
    from aedx.formats.writers import encode_records
    from aedx.kinds import get_kind

    return encode_records(frame, get_kind("case_referral"), "csv", "utf-8")


def test_uploads_over_the_limit_are_refused_and_nothing_is_kept(database_url: str, tmp_path: Path) -> None:
    hub = Hub(database_url, tmp_path, max_upload_bytes=1000)
    body = hub_bytes(referrals("sly", "sly", "sly", "sly", "sly", "sly"))
    assert len(body) > 1000
    response = hub.upload("A383000000", "case_referral", body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "upload.too_large"
    assert hub.count(Submission) == 0
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    hub.close()


def test_the_sender_must_be_allowed_to_send_the_kind(hub: Hub) -> None:
    response = hub.upload("sly", "case_referral", hub_bytes(referrals("sly")))
    assert response.status_code == 403 and response.json()["error"]["code"] == "auth.denied"
    unknown = hub.upload("A383000000", "no_such_kind", b"x")
    assert unknown.status_code == 400
    events = hub.get("sly", "/api/v1/audit", params={"action": "submission.create"}).json()
    assert [e["outcome"] for e in events] == ["denied"]


def test_identical_uploads_at_the_same_moment_make_one_submission(hub: Hub) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from aedx.accounts import clients
    from aedx.exchange import intake

    body = hub.seal("A383000000", hub_bytes(referrals("sly", "tpy")))
    with hub.platform.db.transaction() as session:
        caller = clients.authenticate(session, hub.token("A383000000"))
    upload = intake.Upload("case_referral", "csv", "utf-8")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: intake.submit(hub.platform, caller, upload, [body]), range(8)))
    assert len({r.submission.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert hub.count(Submission) == 1 and hub.count(Job) == 1


def test_answers_name_the_content_digest_and_the_envelope_size(hub: Hub) -> None:
    body = encode_records(referrals("sly"), get_kind("case_referral"), "csv", "utf-8")
    sealed = hub.seal("A383000000", body)
    params = {"kind": "case_referral", "format": "csv", "encoding": "utf-8"}
    taken = hub.client.post(
        "/api/v1/submissions", params=params, headers=hub.auth("A383000000"), content=sealed
    ).json()
    assert taken["content_sha256"] == hashlib.sha256(body).hexdigest() != hashlib.sha256(sealed).hexdigest()
    assert taken["envelope_size"] == len(sealed) != len(body)
    status = hub.get("A383000000", f"/api/v1/submissions/{taken['id']}").json()
    assert (status["content_sha256"], status["envelope_size"]) == (taken["content_sha256"], len(sealed))


def test_compressed_cms_is_refused_with_that_reason(hub: Hub) -> None:
    body = encode_records(referrals("sly"), get_kind("case_referral"), "csv", "utf-8")
    compressed = asn1_cms.ContentInfo(
        {
            "content_type": "compressed_data",
            "content": asn1_cms.CompressedData(
                {
                    "version": "v0",
                    "compression_algorithm": {"algorithm": "zlib"},
                    "encap_content_info": {"content_type": "data", "content": zlib.compress(body)},
                }
            ),
        }
    ).dump()
    refused = hub.upload("A383000000", "case_referral", compressed, sealed=False)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "cms.refused"
    assert "compressed" in refused.json()["error"]["message_en"]
    assert "壓縮" in refused.json()["error"]["message_zh"]
    events = hub.get("A383000000", "/api/v1/audit", params={"action": "submission.create"}).json()
    assert [e["outcome"] for e in events] == ["denied"]
    assert events[0]["detail"]["reason"].startswith("compressed data is not accepted")

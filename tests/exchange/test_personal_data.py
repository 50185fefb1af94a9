"""Personal data at rest: obligors sealed in the case index, found through the blind index,
masked in answers and logs unless unmasked by someone who may, every unmasking audited; data
keys rotated without losing a row."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from aedx.accounts import organisations as orgs
from aedx.accounts.roles import ROLE_PERMISSIONS, Role
from aedx.errors import Denied
from aedx.exchange import cases, registry, rekeying
from aedx.trust import redaction
from aedx.trust.caller import Caller
from aedx.trust.vault import Keyring, Undecryptable
from tests.exchange.hub import Hub
from tests.exchange.test_pipeline import ADDRESSES

AGENCY, OTHER_AGENCY = "A383000000", "A397000000"
OBLIGORS = [  # (ID, name, type, branch)
    ("F131104093", "陳大文", "P", "sly"),
    ("O158238845", "王明", "P", "tpy"),
    ("22099131", "台灣積體電路股份有限公司", "C", "sly"),
]
K1, K2 = "11" * 32, "22" * 32


@pytest.fixture
def hub(database_url: str, tmp_path: Path) -> Iterator[Hub]:
    h = Hub(database_url, tmp_path)
    yield h
    h.close()


def referral_file(agency: str = AGENCY, prefix: str = "P") -> pl.DataFrame:
    from tests.builders import records

    rows = []
    for i, (obligor_id, name, kind, branch) in enumerate(OBLIGORS):
        row: dict[str, str | None] = {
            "agency_code": agency, "agency_case_no": f"{prefix}{i:05d}", "obligor_id": obligor_id,
            "obligor_name": name, "obligor_type": kind, "address": ADDRESSES[branch][0],
            "postcode": ADDRESSES[branch][1],
        }  # fmt: skip
        if kind == "C":
            row |= {"obligor_birth_date": None, "representative_name": "張忠謀"}
        rows.append(row)
    return records("case_referral", *rows)


def raw_cases(hub: Hub) -> list[tuple[object, ...]]:
    with hub.platform.db.transaction() as session:
        return [tuple(r) for r in session.execute(text("SELECT * FROM cases ORDER BY id"))]


def sealed(hub: Hub) -> pl.DataFrame:
    columns = "id, agency_code, agency_case_no, submission_id, obligor_sealed, data_key_version"
    with hub.platform.db.transaction() as session:
        rows = session.execute(text(f"SELECT {columns} FROM cases ORDER BY id")).all()  # noqa: S608
    return pl.DataFrame([dict(r._mapping) for r in rows], infer_schema_length=None)


def person(hub: Hub, code: str, role: Role) -> Caller:
    """Someone of the organisation with the role's permissions, as a signed-in person is."""
    with hub.platform.db.transaction() as session:
        org = orgs.get(session, code)
    return Caller(org.id, org.code, org.role, "user:1", frozenset(ROLE_PERMISSIONS[role]))


def look(hub: Hub, caller: Caller, **criteria: object) -> list[dict[str, object]]:
    p = hub.platform
    with p.db.transaction() as session:
        return cases.lookup(session, caller, keyring=p.keyring, index_key=p.settings.index_key, **criteria)  # type: ignore[arg-type]


def events(hub: Hub, action: str) -> list[dict[str, object]]:
    found = hub.get("aea", "/api/v1/audit", params={"action": action, "limit": 1000})
    assert found.status_code == 200, found.text
    result: list[dict[str, object]] = found.json()
    return result


def test_obligors_are_sealed_at_rest_and_open_again(hub: Hub) -> None:
    assert hub.send(AGENCY, "case_referral", referral_file())["state"] == "delivered"
    rows = raw_cases(hub)
    assert len(rows) == 3
    every_value = " ".join(str(v) for row in rows for v in row)
    for obligor_id, name, _, _ in OBLIGORS:
        assert obligor_id not in every_value and name not in every_value
    assert "王" not in every_value and "F13" not in every_value
    opened = registry.open_obligors(sealed(hub), hub.platform.keyring)
    assert opened.select("obligor_id", "obligor_name").rows() == [(i, n) for i, n, _, _ in OBLIGORS]


def test_tampered_or_moved_values_do_not_open(hub: Hub) -> None:
    hub.send(AGENCY, "case_referral", referral_file())
    keyring = hub.platform.keyring
    rows = sealed(hub)
    # A flipped bit anywhere in the ciphertext.
    raw = bytearray(pl.Series([rows["obligor_sealed"][0]]).str.decode("base64")[0])
    raw[-1] ^= 1
    tampered = rows.head(1).with_columns(
        pl.Series("obligor_sealed", [bytes(raw)], dtype=pl.Binary).bin.encode("base64")
    )
    with pytest.raises(Undecryptable):
        registry.open_obligors(tampered, keyring)
    # Another row's value copied into this row.
    moved = rows.head(1).with_columns(pl.lit(rows["obligor_sealed"][1]).alias("obligor_sealed"))
    with pytest.raises(Undecryptable):
        registry.open_obligors(moved, keyring)
    # The same value, same row, read for another purpose.
    contexts = rows.select(pl.concat_str(registry.OBLIGOR_CONTEXT, separator="\x1f")).to_series()
    with pytest.raises(Undecryptable):
        keyring.open_column(rows["obligor_sealed"], contexts, b"report.value")
    assert (
        keyring.open_column(rows["obligor_sealed"], contexts, registry.OBLIGOR)[0] == "F131104093\x1f陳大文"
    )
    # Moved in the database: the lookup refuses to show it.
    with hub.platform.db.transaction() as session:
        session.execute(
            text("UPDATE cases SET obligor_sealed = :v WHERE id = :id"),
            {"v": rows["obligor_sealed"][1], "id": int(rows["id"][0])},
        )
    with pytest.raises(Undecryptable):
        look(hub, _hq_reader(hub))


def _hq_reader(hub: Hub) -> Caller:
    with hub.platform.db.transaction() as session:
        org = orgs.get(session, "aea")
    return Caller(org.id, org.code, org.role, "client:hq", frozenset({"cases.read"}))


def test_rotation_reseals_every_row_and_old_keys_can_then_go(hub: Hub) -> None:
    p = hub.platform
    p.keyring = Keyring.parse(f"1:{K1}")
    hub.send(AGENCY, "case_referral", referral_file())
    hub.send(OTHER_AGENCY, "case_referral", referral_file(OTHER_AGENCY))
    before = sealed(hub)
    assert set(before["data_key_version"]) == {1}
    rotated = Keyring.parse(f"2:{K2},1:{K1}")
    with p.db.transaction() as session:
        assert rekeying.remaining(session, rotated) == 6
        first = rekeying.reseal_batch(session, rotated, actor="cli:test", size=4)
    assert first.rows == 4
    # Stopped here; a second run resumes with what is left.
    with p.db.transaction() as session:
        assert rekeying.versions(session) == {1: 2, 2: 4}
        rest = rekeying.reseal_batch(session, rotated, actor="cli:test", size=4)
        assert rest.rows == 2
        assert rekeying.reseal_batch(session, rotated, actor="cli:test", after_id=rest.last_id).rows == 0
        assert rekeying.remaining(session, rotated) == 0
    after = sealed(hub)
    assert set(after["data_key_version"]) == {2}
    assert not set(after["obligor_sealed"]) & set(before["obligor_sealed"])
    only_new = Keyring.parse(f"2:{K2}")
    opened = registry.open_obligors(after, only_new)
    assert opened["obligor_id"].to_list() == [o[0] for o in OBLIGORS] * 2
    with pytest.raises(Undecryptable):
        registry.open_obligors(before, only_new)
    audited = events(hub, "keys.rotate")
    assert [e["detail"]["rows"] for e in audited] == [4, 2]  # type: ignore[index]


def test_lookup_is_scoped_and_masked(hub: Hub) -> None:
    hub.send(AGENCY, "case_referral", referral_file())
    hub.send(OTHER_AGENCY, "case_referral", referral_file(OTHER_AGENCY, prefix="Q"))

    def seen(org: str, **params: str) -> list[tuple[str, str]]:
        response = hub.get(org, "/api/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return sorted((c["agency_code"], c["agency_case_no"]) for c in response.json())

    assert seen(AGENCY) == [(AGENCY, "P00000"), (AGENCY, "P00001"), (AGENCY, "P00002")]
    assert seen(OTHER_AGENCY) == [
        (OTHER_AGENCY, "Q00000"),
        (OTHER_AGENCY, "Q00001"),
        (OTHER_AGENCY, "Q00002"),
    ]
    assert seen(AGENCY, agency_code=OTHER_AGENCY) == []
    assert seen("tpy") == [(AGENCY, "P00001"), (OTHER_AGENCY, "Q00001")]
    assert seen("ksy") == []
    assert len(seen("aea")) == 6
    assert seen("sly", obligor_id="22099131") == [(AGENCY, "P00002"), (OTHER_AGENCY, "Q00002")]
    assert seen("tpy", obligor_id="f131104093") == []  # sly's case; lower case is the same ID
    assert seen("sly", obligor_id="f131104093") == [(AGENCY, "P00000"), (OTHER_AGENCY, "Q00000")]

    shown = hub.get(AGENCY, "/api/v1/cases", params={"agency_case_no": "P00000"}).json()
    assert [(c["obligor_id"], c["obligor_name"], c["masked"]) for c in shown] == [
        ("F13****093", "陳○文", True)
    ]
    names = {
        c["agency_case_no"]: (c["obligor_id"], c["obligor_name"])
        for c in hub.get(AGENCY, "/api/v1/cases").json()
    }
    assert names["P00001"] == ("O15****845", "王○")
    assert names["P00002"] == ("22****31", "台○○○○○○○○○○司")


def test_unmasking_needs_the_permission_and_is_audited(hub: Hub) -> None:
    hub.send(AGENCY, "case_referral", referral_file())
    # API clients never unmask.
    refused = hub.get("sly", "/api/v1/cases", params={"unmask": "true"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.denied"
    assert [e["outcome"] for e in events(hub, "personal_data.unmask")] == ["denied"]
    with pytest.raises(Denied):
        look(hub, person(hub, AGENCY, Role.AGENCY_OFFICER), unmask=True)  # no cases.read either

    officer = person(hub, "sly", Role.BRANCH_OFFICER)
    found = look(hub, officer, obligor_id="F131104093", unmask=True)
    assert [(c["obligor_id"], c["obligor_name"], c["masked"]) for c in found] == [
        ("F131104093", "陳大文", False)
    ]
    assert [c["obligor_id"] for c in look(hub, officer)] == ["22****31", "F13****093"]  # masked by default
    granted = [e for e in events(hub, "personal_data.unmask") if e["outcome"] == "ok"]
    assert len(granted) == 1
    assert granted[0]["detail"] == {"cases": [found[0]["id"]], "criteria": ["obligor_id"]}
    assert "F131104093" not in str(events(hub, "personal_data.unmask"))


def test_the_log_filter_masks_ids(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("aedx.test.redaction")
    caplog.handler.addFilter(redaction.PersonalDataFilter())
    with caplog.at_level(logging.INFO):
        logger.info("obligor %s of %s, business %s, row %d", "F131104093", "A383000000", "22099131", 12345678)
        try:
            raise ValueError("bad ID O158238845")
        except ValueError:
            logger.exception("failed for AB00207171")
    text_logged = caplog.text
    assert "F13****093" in text_logged and "F131104093" not in text_logged
    assert "22****31" in text_logged and "22099131" not in text_logged
    assert "O15****845" in text_logged and "O158238845" not in text_logged
    assert "AB0****171" in text_logged
    assert "A383000000" in text_logged and "12345678" in text_logged  # an agency code, a number


def test_installed_filter_reaches_the_root_handlers() -> None:
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redaction.install()
        redaction.install()
        assert sum(isinstance(f, redaction.PersonalDataFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


def test_keyring_configuration(tmp_path: Path) -> None:
    keyring = Keyring.parse(f"1:{K1}, 2:{K2}")
    assert keyring.current == 2 and set(keyring.keys) == {1, 2}
    for bad in (f"1:{K1},1:{K2}", "1:abcd", f"x:{K1}", ""):
        with pytest.raises(ValueError):
            Keyring.parse(bad)
    sealed_value = keyring.seal(b"A123456789", b"ctx")
    assert sealed_value[0] == 2 and keyring.open(sealed_value, b"ctx") == b"A123456789"
    with pytest.raises(Undecryptable):
        keyring.open(sealed_value, b"other")
    from aedx.settings import Settings

    settings = Settings(tmp_path, "sqlite://", 1, os.urandom(32))
    made = Keyring.of(settings)
    assert Keyring.of(settings) == made and (tmp_path / "data.keys").stat().st_mode & 0o777 == 0o600


def test_reports_keep_personal_values_sealed_and_show_them_masked(hub: Hub) -> None:
    bad = referral_file().with_columns(
        pl.when(pl.col("agency_case_no") == "P00000")
        .then(pl.lit("F131104094"))  # the checksum fails
        .otherwise(pl.col("obligor_id"))
        .alias("obligor_id")
    )
    sub = hub.send(AGENCY, "case_referral", bad)
    assert sub["state"] == "rejected"
    report = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/report").json()
    values = {f["field"]: f["value"] for f in report["findings"]}
    assert values["obligor_id"] == "F13****094"
    csv = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/report/csv").text
    assert "F13****094" in csv and "F131104094" not in csv
    stored = pl.read_parquet(hub.platform.blobs.path(f"reports/{sub['id']}.parquet"))
    assert "F131104094" not in str(stored.to_dicts()) and stored["#sealed"].any()

    refused = hub.get(AGENCY, f"/api/v1/submissions/{sub['id']}/report", params={"unmask": "true"})
    assert refused.status_code == 403
    assert [e["outcome"] for e in events(hub, "personal_data.unmask")] == ["denied"]

    from aedx.exchange import reports, submissions

    admin = person(hub, AGENCY, Role.AGENCY_ADMIN)
    allowed = Caller(
        admin.organisation_id, admin.code, admin.role, admin.actor, frozenset({"personal_data.unmask"})
    )
    with hub.platform.db.transaction() as session:
        row = submissions.get(session, admin, sub["id"])
        reports.allow_unmask(session, allowed, sub["id"])
    unmasked = submissions.report(hub.platform, row, masked=False).findings
    assert "F131104094" in unmasked["value"].to_list()
    assert [e["outcome"] for e in events(hub, "personal_data.unmask")] == ["denied", "ok"]


def test_keys_commands_rotate_and_count(hub: Hub, tmp_path: Path) -> None:
    import subprocess
    import sys

    hub.send(AGENCY, "case_referral", referral_file())
    first = (tmp_path / "data.keys").read_text().strip()  # made once: "1:<hex>"
    assert first.startswith("1:")

    def aedx(*args: str, keys: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "AEDX_DATABASE_URL": hub.platform.settings.database_url,
            "AEDX_DATA_DIR": str(tmp_path),
            "AEDX_DATA_KEYS": keys,
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "aedx", "keys", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    both = f"2:{K2},{first}"
    status = aedx("status", keys=both)
    assert status.returncode == 0, status.stderr
    assert _cells(status.stdout, "decrypts") == [["1", "3"]]
    done = aedx("rotate", "--batch-size", "2", keys=both)
    assert done.returncode == 0, done.stderr
    assert "resealed 3 rows under v2" in done.stderr
    assert "resealed 0 rows" in aedx("rotate", keys=both).stderr  # nothing left: a rerun is a no-op
    status = aedx("status", keys=f"2:{K2}")
    assert _cells(status.stdout, "encrypts") == [["2", "3"]]
    assert [e["detail"]["rows"] for e in events(hub, "keys.rotate")] == [2, 1]  # type: ignore[index]
    hub.platform.keyring = Keyring.parse(f"2:{K2}")
    assert [c["obligor_id"] for c in look(hub, _hq_reader(hub), agency_case_no="P00001")] == ["O15****845"]


def _cells(table: str, marker: str) -> list[list[str]]:
    """The first two cells of each row of a printed table that holds the marker."""
    return [line.replace("│", " ").split()[:2] for line in table.splitlines() if marker in line]

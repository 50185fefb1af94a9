"""The management portal over HTTP on both databases: every route refuses (and audits) people
without its permission and forms without the CSRF token; an organisation's own administrator
reaches their own people only; HQ creates organisations, people and grants, each change audited
by the core; the audit search exports what it filtered."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from aedx.accounts import clients, grants
from aedx.accounts import organisations as orgs
from aedx.storage.tables import ApiClient, AuditEvent, Certificate, Organisation, User
from aedx.trust import audit, ledger
from aedx.trust.caller import Direction
from aedx.trust.pki import Authority
from tests.web.admin_support import csrf, events, routes
from tests.web.conftest import Portal, sign_in, signed_in


def test_the_routes_are_read_from_the_router() -> None:
    found = {(r.method, r.path) for r in routes()}
    assert ("GET", "/portal/admin/organisations") in found
    assert ("POST", "/portal/admin/users/someone/role") in found
    assert ("GET", "/portal/admin/audit/export") in found
    assert len(found) >= 25


def test_every_management_route_refuses_a_person_without_its_permission(portal: Portal) -> None:
    officer = signed_in(portal, "A383000000", "chen.officer", "agency_officer")
    token = csrf(officer)
    before = denied(portal)
    for route in routes():
        assert route.call(officer, {"csrf_token": token}) == 403, route
    assert len(denied(portal)) - len(before) == len(routes())  # each refusal audited, once
    assert {action for _, action in denied(portal)[len(before) :]} >= {
        "admin.view",
        "organisation.list",
        "audit.read",
    }
    with portal.platform.db.transaction() as s:  # nothing was made
        assert s.scalar(select(Organisation).where(Organisation.code == "A383000000")) is not None
        assert s.scalars(select(User.username)).all() == ["chen.officer"]


def denied(portal: Portal) -> list[tuple[str, str]]:
    with portal.platform.db.transaction() as s:
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.outcome == "denied")
            .order_by(AuditEvent.id)
        )
        return [(actor, action) for actor, action in rows]


def test_an_agency_administrator_is_refused_hq_pages(portal: Portal) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    token = csrf(admin)
    for route in routes():
        if route.path.startswith(("/portal/admin/organisations", "/portal/admin/certificates",
                                  "/portal/admin/grants")):  # fmt: skip
            assert route.call(admin, {"csrf_token": token}) == 403, route


def test_nobody_signed_out_reaches_a_management_page(portal: Portal) -> None:
    stranger = portal.browser()
    for route in routes():
        answer = stranger.get(route.path) if route.method == "GET" else stranger.post(route.path, data={})
        assert answer.status_code in (303, 403), route
        if answer.status_code == 303:  # to sign in, and back to the page afterwards
            back = f"?next={quote(route.path, safe='')}" if route.method == "GET" else ""
            assert answer.headers["location"] == f"/portal/sign-in{back}", route


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    posts = [r for r in routes() if r.method == "POST"]
    for route in posts:
        assert route.call(hq, {"csrf_token": "forged", "code": "B1", "name": "某機關"}) == 403, route
    assert len(events(portal, "portal.csrf")) == len(posts)
    with portal.platform.db.transaction() as s:
        assert s.scalar(select(Organisation).where(Organisation.code == "B1")) is None


def test_hq_creates_an_agency_a_person_in_it_and_a_grant_each_audited(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    token = csrf(hq)
    made = hq.post(
        "/portal/admin/organisations",
        data={"csrf_token": token, "code": "A999000001", "name": "新北市政府地方稅務局", "kind": "agency",
              "category": "tax", "preferred_format": "csv", "preferred_encoding": "cp950"},
    )  # fmt: skip
    assert made.status_code == 303 and made.headers["location"].startswith(
        "/portal/admin/organisations/A999000001"
    )
    assert "新北市政府地方稅務局" in hq.get("/portal/admin/organisations?q=A999").text
    # it was given the grants an agency needs, and the page after creating it says which
    page = hq.get(made.headers["location"]).text
    assert "已依機關類型給予下列授權" in page
    for given in ("移送案件 · 傳送", "繳款資料 · 傳送", "案件狀態回饋 · 接收"):
        assert given in page

    created = hq.post(
        "/portal/admin/users",
        data={"csrf_token": token, "organisation": "A999000001", "username": "tsai.yiting",
              "full_name": "蔡宜庭", "email": "tsai.yiting@example.gov.tw", "role": "agency_admin"},
    )  # fmt: skip
    assert created.status_code == 200 and 'class="secret initial-password"' in created.text
    initial = created.text.split('class="secret initial-password">')[1].split("<")[0]
    assert len(initial) >= 12

    granted = hq.post(
        "/portal/admin/grants/A999000001", data={"csrf_token": token, "grant": "case_referral:send"}
    )
    assert granted.status_code == 303
    with portal.platform.db.transaction() as s:
        org = s.scalars(select(Organisation).where(Organisation.code == "A999000001")).one()
        assert (org.role, org.category, org.preferred_encoding) == ("agency", "tax", "cp950")
        assert grants.of(s, org.id) == {("case_referral", Direction.SEND)}
        hq_actor = f"user:{s.scalars(select(User.id).where(User.username == 'lin.hq')).one()}"
    assert [(o, a, i) for o, a, i, _ in events(portal, "organisation.create")] == [
        ("ok", hq_actor, "A999000001")
    ]
    assert [(o, a, d["username"]) for o, a, _, d in events(portal, "user.create")][-1] == (
        "ok", hq_actor, "tsai.yiting",
    )  # fmt: skip
    assert [(o, a, i) for o, a, i, _ in events(portal, "grant.add")] == [
        ("ok", hq_actor, "A999000001:case_referral:send"),
        ("ok", hq_actor, "A999000001:payment:send"),
        ("ok", hq_actor, "A999000001:status_feedback:receive"),
    ]
    # the initial password opens the account, which must change it first
    answer = sign_in(portal.browser(), "tsai.yiting", initial)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/password"

    # unticking revokes
    assert hq.post("/portal/admin/grants/A999000001", data={"csrf_token": token}).status_code == 303
    assert [i for _, _, i, _ in events(portal, "grant.revoke")] == [
        "A999000001:payment:send",
        "A999000001:status_feedback:receive",
        "A999000001:case_referral:send",
    ]


def test_a_wrong_organisation_code_is_explained_on_the_form(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    answer = hq.post(
        "/portal/admin/organisations", data={"csrf_token": csrf(hq), "code": "a-1", "name": "某機關"}
    )
    assert answer.status_code == 400 and 'role="alert"' in answer.text and "大寫英文字母或數字" in answer.text
    taken = hq.post(
        "/portal/admin/organisations", data={"csrf_token": csrf(hq), "code": "A383000000", "name": "某機關"}
    )
    assert taken.status_code == 400 and "已有機關使用" in taken.text


def test_hq_edits_and_disables_an_organisation(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    token = csrf(hq)
    edited = hq.post(
        "/portal/admin/organisations/A383000000",
        data={"csrf_token": token, "name": "財政部臺北國稅局", "kind": "partner", "preferred_format": "jsonl",
              "preferred_encoding": "utf-8"},
    )  # fmt: skip
    assert edited.status_code == 303
    assert (
        hq.post(
            "/portal/admin/organisations/A383000000/state", data={"csrf_token": token, "confirm": "yes"}
        ).status_code
        == 303
    )
    hq_kind = hq.post(
        "/portal/admin/organisations/aea",
        data={"csrf_token": token, "name": "法務部行政執行署", "kind": "agency", "preferred_format": "csv",
              "preferred_encoding": "utf-8"},
    )  # fmt: skip
    assert hq_kind.status_code == 400
    hq_state = hq.post("/portal/admin/organisations/aea/state", data={"csrf_token": token, "confirm": "yes"})
    assert hq_state.status_code == 400
    with portal.platform.db.transaction() as s:
        org = s.scalars(select(Organisation).where(Organisation.code == "A383000000")).one()
        assert (org.role, org.preferred_format, org.active) == ("partner", "jsonl", False)
    assert [i for _, _, i, _ in events(portal, "organisation.disable")] == ["A383000000"]
    listed = hq.get("/portal/admin/organisations?kind=partner")
    assert "A383000000" in listed.text and "A397000000" not in listed.text


def test_an_agency_administrator_manages_only_their_own_people(portal: Portal) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    portal.person("A383000000", "wu.officer", "agency_officer")
    portal.person("A397000000", "lee.officer", "agency_officer")
    token = csrf(admin)
    listing = admin.get("/portal/admin/users")
    assert listing.status_code == 200 and "wu.officer" in listing.text and "lee.officer" not in listing.text
    assert admin.get("/portal/admin/users?organisation=A397000000").status_code == 403
    assert admin.get("/portal/admin/users/lee.officer").status_code == 403
    for action, data in (("role", {"role": "agency_admin"}), ("state", {}), ("password", {}), ("unlock", {})):
        answer = admin.post(f"/portal/admin/users/lee.officer/{action}", data={"csrf_token": token, **data})
        assert answer.status_code == 403, action
    other = admin.post(
        "/portal/admin/users",
        data={"csrf_token": token, "organisation": "A397000000", "username": "kao.new", "full_name": "高新",
              "email": "kao.new@example.gov.tw", "role": "agency_officer"},
    )  # fmt: skip
    assert other.status_code == 403
    hq_role = admin.post(
        "/portal/admin/users",
        data={"csrf_token": token, "organisation": "A383000000", "username": "kao.new", "full_name": "高新",
              "email": "kao.new@example.gov.tw", "role": "hq_admin"},
    )  # fmt: skip
    assert hq_role.status_code == 403
    # their own people they manage
    assert admin.post("/portal/admin/users/wu.officer/state", data={"csrf_token": token}).status_code == 303
    reset = admin.post("/portal/admin/users/wu.officer/password", data={"csrf_token": token, "totp": "true"})
    assert reset.status_code == 200 and "initial-password" in reset.text
    with portal.platform.db.transaction() as s:
        assert s.scalars(select(User.active).where(User.username == "wu.officer")).one() is False
        assert s.scalars(select(User.active).where(User.username == "lee.officer")).one() is True
    denied = [d.get("reason") for o, _, _, d in events(portal, "user.role") if o == "denied"]
    assert denied == ["outside_reach"]


def test_hq_changes_a_role_and_cannot_disable_itself(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    portal.person("A383000000", "wu.officer", "agency_officer")
    token = csrf(hq)
    page = hq.get("/portal/admin/users/wu.officer")
    assert page.status_code == 200 and "wu.officer@example.gov.tw" in page.text
    assert hq.post("/portal/admin/users/wu.officer/role",
                   data={"csrf_token": token, "role": "agency_admin"}).status_code == 303  # fmt: skip
    wrong = hq.post(
        "/portal/admin/users/wu.officer/role", data={"csrf_token": token, "role": "branch_officer"}
    )
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text
    assert hq.post("/portal/admin/users/lin.hq/state", data={"csrf_token": token}).status_code == 403
    assert [(o, d.get("role")) for o, _, _, d in events(portal, "user.role") if o == "ok"] == [
        ("ok", "agency_admin")
    ]
    filtered = hq.get("/portal/admin/users?role=agency_admin&state=active")
    assert "wu.officer" in filtered.text and "lin.hq</a>" not in filtered.text


def test_the_roles_page_shows_the_permission_table(portal: Portal) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    page = admin.get("/portal/admin/roles")
    assert page.status_code == 200 and "<caption>角色與權限</caption>" in page.text
    assert page.text.count('<th scope="row">') == 7  # one row per role


def _jwk(key: ec.EllipticCurvePrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    import base64

    def part(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    return json.dumps({"kty": "EC", "crv": "P-256", "x": part(numbers.x), "y": part(numbers.y)})


def test_api_clients_are_registered_from_a_pem_or_a_jwk_and_disabled(portal: Portal) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    token = csrf(admin)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pasted = admin.post("/portal/admin/clients", data={"csrf_token": token, "organisation": "A383000000",
                                                        "label": "收件伺服器", "key": pem.decode()})  # fmt: skip
    assert pasted.status_code == 303
    other = ec.generate_private_key(ec.SECP256R1())
    uploaded = admin.post(
        "/portal/admin/clients",
        data={"csrf_token": token, "organisation": "A383000000", "label": "JWK"},
        files={"key_file": ("client.jwk", _jwk(other).encode(), "application/json")},
    )
    assert uploaded.status_code == 303
    foreign = admin.post("/portal/admin/clients", data={"csrf_token": token, "organisation": "A397000000",
                                                         "key": pem.decode()})  # fmt: skip
    assert foreign.status_code == 403
    bad = admin.post(
        "/portal/admin/clients", data={"csrf_token": token, "organisation": "A383000000", "key": "x"}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    registered = [i for o, _, i, _ in events(portal, "client.register") if o == "ok"]
    assert len(registered) == 2
    page = admin.get("/portal/admin/clients")
    assert all(i in page.text for i in registered) and "EC-P256" in page.text
    assert (
        admin.post(
            f"/portal/admin/clients/{registered[0]}/disable", data={"csrf_token": token, "confirm": "yes"}
        ).status_code
        == 303
    )
    with portal.platform.db.transaction() as s:
        assert clients.get(s, registered[0]).active is False
        assert clients.get(s, registered[1]).active is True


def _csr() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "A383000000")])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def test_hq_issues_a_certificate_from_a_csr_revokes_it_and_the_crl_lists_it(portal: Portal) -> None:
    if not (portal.platform.pki_folder / "root.pem").exists():
        Authority.create(portal.platform.pki_folder)
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    token = csrf(hq)
    issued = hq.post(
        "/portal/admin/certificates",
        data={"csrf_token": token, "organisation": "A383000000", "usage": "signing"},
        files={"csr": ("a383.csr", _csr(), "application/pkcs10")},
    )
    assert issued.status_code == 303, issued.text
    with portal.platform.db.transaction() as s:
        serial = s.scalars(select(Certificate.serial)).one()
    listed = hq.get("/portal/admin/certificates?organisation=A383000000")
    assert serial[:16] in listed.text
    pem = hq.get(f"/portal/admin/certificates/{serial}/certificate.pem")
    assert pem.status_code == 200 and x509.load_pem_x509_certificate(pem.content).serial_number == int(
        serial, 16
    )
    revoked = hq.post(f"/portal/admin/certificates/{serial}/revoke",
                      data={"csrf_token": token, "confirm": "yes", "reason": "key_compromise"})  # fmt: skip
    assert revoked.status_code == 303
    crl = x509.load_pem_x509_crl(hq.get("/portal/admin/certificates/crl.pem").content)
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    assert [(i, d["reason"]) for _, _, i, d in events(portal, "certificate.revoke")] == [
        (serial, "key_compromise")
    ]
    garbage = hq.post("/portal/admin/certificates", data={"csrf_token": token, "organisation": "A383000000",
                                                           "usage": "signing"},
                      files={"csr": ("x.csr", b"not a csr", "application/pkcs10")})  # fmt: skip
    assert garbage.status_code == 400 and 'role="alert"' in garbage.text


def test_the_grants_defaults_follow_the_kinds_declarations(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    assert hq.post("/portal/admin/grants/defaults", data={"csrf_token": csrf(hq)}).status_code == 303
    with portal.platform.db.transaction() as s:
        org = s.scalars(select(Organisation).where(Organisation.code == "A383000000")).one()
        assert grants.of(s, org.id) == grants.defaults()["agency"]
    matrix = hq.get("/portal/admin/grants?organisation=A383000000")
    assert matrix.text.count("checked") == len(grants.defaults()["agency"])
    overview = hq.get("/portal/admin/grants?kind=case_referral&direction=send")
    assert "A383000000" in overview.text and "A397000000" in overview.text


def test_the_audit_search_filters_and_exports_the_filtered_events(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    officer = signed_in(portal, "A383000000", "chen.officer", "agency_officer")
    officer.get("/portal/admin/")  # a refusal, audited
    token = csrf(hq)
    hq.post("/portal/admin/grants/A397000000", data={"csrf_token": token, "grant": "payment:send"})
    page = hq.get("/portal/admin/audit?outcome=denied")
    assert page.status_code == 200 and "admin.view" in page.text and "grant.add" not in page.text
    assert '">王小明 (chen.officer)</span>' in page.text  # people by name and username, the id on hover

    as_csv = hq.get("/portal/admin/audit/export?format=csv&action=grant.add")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["action"], r["object_id"], r["organisation"]) for r in rows] == [
        ("grant.add", "A397000000:payment:send", "A397000000")
    ]
    as_jsonl = hq.get("/portal/admin/audit/export?format=jsonl&outcome=denied")
    lines = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert lines and {e["outcome"] for e in lines} == {"denied"}
    assert [e for e in events(portal, "audit.export")]  # the export itself is audited


def test_the_audit_search_finds_a_person_by_username_name_organisation_and_a_client_by_id(
    portal: Portal,
) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")
    officer.get("/portal/admin/")  # a refusal, audited under user:<id>
    with portal.platform.db.transaction() as s:
        org = orgs.get(s, "A397000000")
        client = ApiClient(client_id="c-nhi-0001", organisation_id=org.id, label="健保署主機",
                           public_key="", key_type="EC-P256", key_fingerprint="0" * 64)  # fmt: skip
        s.add(client)
        s.flush()
        audit.record(s, actor="client:c-nhi-0001", actor_organisation_id=org.id, action="x.client",
                     outcome="denied", organisation_id=org.id)  # fmt: skip

    def found(actor: str) -> str:
        page = hq.get("/portal/admin/audit", params={"actor": actor, "outcome": "denied"})
        assert page.status_code == 200
        return page.text

    for words in ["chen.yating", "CHEN.YA", "王小明", "A383000000"]:
        page = found(words)
        assert "admin.view" in page and "王小明 (chen.yating)</span>" in page and "x.client" not in page, (
            words
        )
    for words in ["c-nhi-0001", "健保署主機"]:
        page = found(words)
        assert "健保署主機 (c-nhi-0001)</span>" in page and "admin.view" not in page, words
    assert "admin.view" not in found("nobody.at.all")


@pytest.mark.parametrize("query", ["since=2024-13-01", "until=yesterday"])
def test_a_wrong_date_in_the_audit_search_is_explained(portal: Portal, query: str) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    answer = hq.get(f"/portal/admin/audit?{query}")
    assert answer.status_code == 400 and 'role="alert"' in answer.text


def test_an_agency_reads_only_its_own_audit_events(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    hq.post("/portal/admin/grants/A397000000", data={"csrf_token": csrf(hq), "grant": "payment:send"})
    hq.post("/portal/admin/grants/A383000000", data={"csrf_token": csrf(hq), "grant": "payment:send"})
    lines = admin.get("/portal/admin/audit/export?format=jsonl&action=grant.add").text.splitlines()
    assert [json.loads(line)["organisation"] for line in lines] == ["A383000000"]
    page = admin.get("/portal/admin/audit?organisation=A397000000&action=grant.add")
    # naming another organisation is refused, not answered as if the filter applied
    assert page.status_code == 403 and "僅行政執行署可查詢其他機關之稽核紀錄" in page.text
    assert "A397000000:payment:send" not in page.text
    own = admin.get("/portal/admin/audit?action=grant.add").text
    assert "A397000000:payment:send" not in own and "A383000000:payment:send" in own


def test_hq_sees_how_far_the_audit_ledger_is_sealed(portal: Portal) -> None:
    if not (portal.platform.pki_folder / "root.pem").exists():
        Authority.create(portal.platform.pki_folder)
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    assert "尚無已封存之紀錄" in hq.get("/portal/admin/audit").text
    sealed = ledger.seal(portal.platform)
    assert sealed is not None
    page = hq.get("/portal/admin/audit").text
    status = page[page.index('id="ledger"') : page.index("</p>", page.index('id="ledger"'))]
    assert "已封存至第" in status and "待封存" not in status, status
    hq.post("/portal/admin/grants/A383000000", data={"csrf_token": csrf(hq), "grant": "payment:send"})
    assert "尚有 1 筆紀錄待封存" in hq.get("/portal/admin/audit").text
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    assert 'id="ledger"' not in admin.get("/portal/admin/audit").text  # the chain is HQ's


def test_the_management_pages_switch_to_english(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    hq.get("/portal/language/en?next=/portal/admin/")
    for path, heading in (("/portal/admin/organisations", "Organisations"), ("/portal/admin/users", "People"),
                          ("/portal/admin/grants", "Grants"), ("/portal/admin/audit", "Audit log")):  # fmt: skip
        page = hq.get(path)
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text and 'lang="en"' in page.text


def test_lists_are_filtered_and_paged(portal: Portal) -> None:
    with portal.platform.db.transaction() as s:
        orgs.upsert(s, [orgs.OrgRow(f"B{n:03d}", f"測試機關{n}", "partner") for n in range(30)], "test")
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    first = hq.get("/portal/admin/organisations?kind=partner")
    assert first.text.count('<th scope="row">') == 25 and "B024" in first.text and "B025" not in first.text
    following = hq.get("/portal/admin/organisations?kind=partner&after=B024")
    assert following.text.count('<th scope="row">') == 5 and 'rel="next"' not in following.text
    assert 'rel="next"' in first.text and "after=B024" in first.text
    hq.post("/portal/admin/organisations/B003/state", data={"csrf_token": csrf(hq), "confirm": "yes"})
    disabled = hq.get("/portal/admin/organisations?state=disabled")
    assert disabled.text.count('<th scope="row">') == 1 and "B003" in disabled.text

    for n in range(27):
        portal.person("A397000000", f"kuo.{n:02d}", "agency_officer")
    people = hq.get("/portal/admin/users?organisation=A397000000")
    assert people.text.count('<th scope="row">') == 25 and "page=2" in people.text
    second = hq.get("/portal/admin/users?organisation=A397000000&page=2")
    assert second.text.count('<th scope="row">') == 2 and "kuo.26" in second.text


def test_a_person_s_name_and_e_mail_are_corrected(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    portal.person("A383000000", "wu.officer", "agency_officer")
    fixed = hq.post("/portal/admin/users/wu.officer",
                    data={"csrf_token": csrf(hq), "full_name": "吳志明", "email": "wu.cm@example.gov.tw"})  # fmt: skip
    assert fixed.status_code == 303
    page = hq.get("/portal/admin/users/wu.officer").text
    assert "吳志明" in page and "wu.cm@example.gov.tw" in page
    shared = hq.post("/portal/admin/users/wu.officer",
                     data={"csrf_token": csrf(hq), "full_name": "管理員", "email": "wu.cm@example.gov.tw"})  # fmt: skip
    assert shared.status_code == 400 and 'role="alert"' in shared.text
    assert [d["fields"] for o, _, _, d in events(portal, "user.update") if o == "ok"] == [
        ["full_name", "email"]
    ]


def test_an_organisation_s_administrator_is_offered_only_the_roles_they_may_give(portal: Portal) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    form = admin.get("/portal/admin/users").text.split('id="new-person"')[1]
    assert 'value="agency_officer"' in form and 'value="hq_admin"' not in form
    assert 'value="A383000000"' in form and 'value="A397000000"' not in form


def test_a_person_is_offered_and_given_only_the_roles_of_their_organisation_s_kind(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    form = hq.get("/portal/admin/users?organisation=A383000000").text.split('id="new-person"')[1]
    offered = {
        part.split('"')[0]: "disabled" not in part.split(">")[0]
        for part in form.split('<option value="')[1:]
        if "data-kinds" in part.split(">")[0]
    }
    assert offered["agency_officer"] and offered["agency_admin"]
    assert not offered["hq_admin"] and not offered["hq_auditor"] and not offered["branch_officer"]
    assert 'value="A383000000" data-kind="agency" selected' in form
    token = csrf(hq)
    for role in ("hq_auditor", "branch_supervisor"):  # refused by the server, not only hidden
        answer = hq.post(
            "/portal/admin/users",
            data={"csrf_token": token, "organisation": "A383000000", "username": "kao.new",
                  "full_name": "高新", "email": "kao.new@example.gov.tw", "role": role},
        )  # fmt: skip
        assert answer.status_code == 400 and 'role="alert"' in answer.text
        assert "為移送機關，其人員不可擔任" in answer.text and "「機關承辦人」" in answer.text
        assert role not in answer.text.split('role="alert"')[1].split("</")[0]  # words, not the code
    portal.person("A383000000", "wu.officer", "agency_officer")
    page = hq.get("/portal/admin/users/wu.officer").text
    assert 'value="agency_admin"' in page and 'value="hq_admin"' not in page
    changed = hq.post("/portal/admin/users/wu.officer/role", data={"csrf_token": token, "role": "hq_admin"})
    assert changed.status_code == 400 and "不可擔任「署本部管理者」" in changed.text
    with portal.platform.db.transaction() as s:
        assert s.scalars(select(User.role).where(User.username == "wu.officer")).one() == "agency_officer"
        assert s.scalar(select(User).where(User.username == "kao.new")) is None


def test_the_audit_log_shows_outcomes_and_details_in_words(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    officer = signed_in(portal, "A383000000", "chen.yating", "agency_officer")
    officer.get("/portal/admin/")  # refused: {"reason": "permission"}
    hq.post("/portal/admin/grants/A383000000", data={"csrf_token": csrf(hq), "grant": "payment:send"})
    with portal.platform.db.transaction() as s:
        audit.record(s, actor="cli:test", action="x.odd", detail={"note": "<b>bold</b>", "some_key": [1, 2]})
    page = hq.get("/portal/admin/audit").text
    rows = page.split("<tbody>")[1]
    assert '<span class="outcome outcome-denied">拒絕</span>' in rows
    assert '<span class="outcome outcome-ok">成功</span>' in rows
    assert ">denied<" not in rows and ">ok<" not in rows
    assert "<dt>原因</dt><dd>無此權限</dd>" in rows and "<dt>方向</dt><dd>傳送</dd>" in rows
    assert "<dt>note</dt><dd>&lt;b&gt;bold&lt;/b&gt;</dd>" in rows  # unknown keys as they are, escaped
    assert "<dt>some key</dt><dd>1, 2</dd>" in rows
    assert "給予授權<br><small><code>grant.add</code></small>" in rows  # the action in words, its code small
    assert "授權 A383000000:payment:send · 繳款資料" in rows
    assert "{&#34;" not in rows and '{"' not in rows  # no JSON
    assert '<option value="denied" >拒絕</option>' in page  # the outcome filter too
    hq.cookies.set("lang", "en")
    english = hq.get("/portal/admin/audit").text.split("<tbody>")[1]
    assert '<span class="outcome outcome-denied">refused</span>' in english
    assert '<span class="outcome outcome-ok">succeeded</span>' in english
    assert "<dt>Reason</dt><dd>no permission for it</dd>" in english


def test_the_organisation_form_and_the_reference_grants_read_in_words(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    form = hq.get("/portal/admin/organisations").text.split('id="new-organisation"')[1]
    assert 'pattern="[A-Z0-9]{2,10}" title="2 至 10 位大寫英文字母或數字"' in form
    assert '<option value="nhi">健保、勞保</option>' in form  # categories by name
    reference = hq.get("/portal/admin/grants").text.split('id="defaults"')[1].split("</ul>")[0]
    assert "移送機關：移送案件 · 傳送" in reference and "case_referral:send" not in reference

"""Irreversible changes in the management portal over HTTP on both databases: revoking a
certificate, disabling an API client and disabling an organisation each ask first on a page that
names the object; a POST that did not come from that page changes nothing and leads to it;
cancelling changes nothing; confirming makes the change and lands on the object's own page, which
says what was done. A new certificate and a new API client are shown on their own pages, to be
handed on."""

from __future__ import annotations

import html
import re

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from aedx.accounts import clients
from aedx.storage.tables import Certificate, Organisation
from aedx.trust.pki import Authority
from aedx.web import dates
from aedx.web.i18n import translations
from tests.web.admin_support import csrf, events
from tests.web.conftest import Portal, signed_in
from tests.web.test_accessibility import check
from tests.web.test_admin import _csr

zh = translations("zh_TW").gettext
ADMIN = "/portal/admin"


def _text(page: httpx.Response) -> str:
    return html.unescape(page.text)


def _confirm_form(page: httpx.Response, action: str) -> str:
    """The confirmation page's one form that makes the change: it posts to the change's address
    with the CSRF token and ``confirm=yes``."""
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    made = [body for to, body in forms if html.unescape(to) == action]
    assert len(made) == 1, forms
    assert 'name="confirm" value="yes"' in made[0] and 'name="csrf_token"' in made[0]
    return made[0]


def _issued(portal: Portal, hq: TestClient) -> tuple[httpx.Response, Certificate]:
    if not (portal.platform.pki_folder / "root.pem").exists():
        Authority.create(portal.platform.pki_folder)
    issued = hq.post(
        f"{ADMIN}/certificates",
        data={"csrf_token": csrf(hq), "organisation": "A383000000", "usage": "signing"},
        files={"csr": ("a383.csr", _csr(), "application/pkcs10")},
    )
    with portal.platform.db.transaction() as s:
        cert = s.scalars(select(Certificate)).one()
        s.expunge(cert)
    return issued, cert


def test_a_new_certificate_is_shown_on_its_own_page_to_be_handed_on(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    issued, cert = _issued(portal, hq)
    assert issued.status_code == 303
    assert issued.headers["location"] == f"{ADMIN}/certificates/{cert.serial}?done=issued"
    page = hq.get(issued.headers["location"])
    assert page.status_code == 200 and check(page.text) == []
    text = _text(page)
    assert (
        zh("The certificate was issued. Hand it to the organisation: download it or copy it below.") in text
    )
    assert cert.serial in text and cert.subject in text and "財政部臺北國稅局（A383000000）" in text
    shown = re.search(r'<textarea id="pem"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert shown is not None
    pem = x509.load_pem_x509_certificate(html.unescape(shown.group(1)).encode())
    assert pem.serial_number == int(cert.serial, 16)
    assert f'href="{ADMIN}/certificates/{cert.serial}/certificate.pem" download' in page.text
    assert 'data-copy="pem"' in page.text
    assert f'href="{ADMIN}/certificates/{cert.serial}/revoke"' in page.text


def test_a_certificate_is_revoked_only_after_the_confirmation_that_names_it(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    _, cert = _issued(portal, hq)
    token = csrf(hq)
    address = f"{ADMIN}/certificates/{cert.serial}"

    bare = hq.post(f"{address}/revoke", data={"csrf_token": token, "reason": "key_compromise"})
    assert bare.status_code == 303 and bare.headers["location"] == f"{address}/revoke"
    assert events(portal, "certificate.revoke") == []

    asked = hq.get(f"{address}/revoke")
    assert asked.status_code == 200 and check(asked.text) == []
    text = _text(asked)
    assert zh("Revoke this certificate?") in text
    for fact in (cert.subject, cert.serial, "財政部臺北國稅局（A383000000）"):
        assert fact in text
    for day in (cert.not_before, cert.not_after):
        assert str(dates.roc(day)) in asked.text
    form = _confirm_form(asked, f"{address}/revoke")
    assert 'name="reason"' in form
    button = zh("Yes, revoke certificate %(serial)s of %(organisation)s") % {
        "serial": cert.serial[:16], "organisation": "財政部臺北國稅局"
    }  # fmt: skip
    assert button in html.unescape(form)
    assert f'<a href="{address}">{zh("Keep the certificate")}</a>' in form

    kept = hq.get(address)  # cancelling: back to the certificate, still in force
    assert kept.status_code == 200 and zh("In force") in kept.text
    assert events(portal, "certificate.revoke") == []

    done = hq.post(
        f"{address}/revoke", data={"csrf_token": token, "confirm": "yes", "reason": "key_compromise"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"{address}?done=revoked"
    shown = hq.get(done.headers["location"])
    text = _text(shown)
    assert zh("The certificate is revoked and listed in the certificate revocation list (CRL).") in text
    assert cert.serial in text and zh("Revoked") in text and zh("Key compromised") in text
    assert f"{address}/revoke" not in shown.text  # nothing left to revoke
    assert [(i, d["reason"]) for _, _, i, d in events(portal, "certificate.revoke")] == [
        (cert.serial, "key_compromise")
    ]
    again = hq.get(f"{address}/revoke")  # asking again about a revoked certificate offers nothing
    assert again.status_code == 200 and 'name="confirm"' not in again.text


def _client(portal: Portal, browser: TestClient, org: str = "A383000000") -> httpx.Response:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return browser.post(
        f"{ADMIN}/clients",
        data={"csrf_token": csrf(browser), "organisation": org, "label": "收件伺服器", "key": pem.decode()},
    )


def test_a_new_api_client_is_shown_with_its_client_id_and_disabled_only_after_confirmation(
    portal: Portal,
) -> None:
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    registered = _client(portal, admin)
    [client_id] = [i for _, _, i, _ in events(portal, "client.register")]
    address = f"{ADMIN}/clients/{client_id}"
    assert registered.status_code == 303 and registered.headers["location"] == f"{address}?done=registered"
    page = admin.get(registered.headers["location"])
    assert page.status_code == 200 and check(page.text) == []
    text = _text(page)
    assert zh(
        "The API client was registered. Hand its client id to the administrator of the organisation's server."
    ) in text  # fmt: skip
    assert f'<code id="client-id" class="client-id">{client_id}</code>' in page.text
    assert "財政部臺北國稅局（A383000000）" in text and "EC-P256" in text and 'data-copy="client-id"' in text

    token = csrf(admin)
    bare = admin.post(f"{address}/disable", data={"csrf_token": token})
    assert bare.status_code == 303 and bare.headers["location"] == f"{address}/disable"
    with portal.platform.db.transaction() as s:
        assert clients.get(s, client_id).active is True

    asked = admin.get(f"{address}/disable")
    assert asked.status_code == 200 and check(asked.text) == []
    assert zh("Disable this API client?") in _text(asked)
    form = _confirm_form(asked, f"{address}/disable")
    button = zh("Yes, disable client %(client_id)s of %(organisation)s") % {
        "client_id": client_id, "organisation": "財政部臺北國稅局"
    }  # fmt: skip
    assert button in html.unescape(form)
    assert f'<a href="{address}">{zh("Keep the client active")}</a>' in form
    assert admin.get(address).status_code == 200  # cancelling changes nothing
    with portal.platform.db.transaction() as s:
        assert clients.get(s, client_id).active is True

    done = admin.post(f"{address}/disable", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"{address}?done=client_disabled"
    shown = admin.get(done.headers["location"])
    text = _text(shown)
    assert zh("The API client is disabled: it gets no new tokens and its tokens no longer work.") in text
    assert client_id in text and zh("Disabled") in text and f"{address}/disable" not in shown.text
    with portal.platform.db.transaction() as s:
        assert clients.get(s, client_id).active is False
    assert [i for o, _, i, _ in events(portal, "client.disable") if o == "ok"] == [client_id]


def test_another_organisation_s_client_is_out_of_reach_on_its_page_and_its_confirmation(
    portal: Portal,
) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    assert _client(portal, hq, "A397000000").status_code == 303
    [client_id] = [i for _, _, i, _ in events(portal, "client.register")]
    admin = signed_in(portal, "A383000000", "chen.admin", "agency_admin")
    token = csrf(admin)
    for path in (f"{ADMIN}/clients/{client_id}", f"{ADMIN}/clients/{client_id}/disable"):
        assert admin.get(path).status_code == 403
    confirmed = admin.post(
        f"{ADMIN}/clients/{client_id}/disable", data={"csrf_token": token, "confirm": "yes"}
    )
    assert confirmed.status_code == 403
    assert [(o, i, d.get("reason")) for o, _, i, d in events(portal, "client.view")] == [
        ("denied", client_id, "outside_reach"), ("denied", client_id, "outside_reach")
    ]  # fmt: skip
    with portal.platform.db.transaction() as s:
        assert clients.get(s, client_id).active is True
    assert hq.get(f"{ADMIN}/clients/{client_id}").status_code == 200


def test_an_organisation_is_disabled_only_after_the_confirmation_that_names_it(portal: Portal) -> None:
    portal.person("A383000000", "chen.officer", "agency_officer")
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    assert _client(portal, hq).status_code == 303
    token = csrf(hq)
    address = f"{ADMIN}/organisations/A383000000"

    page = hq.get(address)
    assert f'href="{address}/state"' in page.text and f'action="{address}/state"' not in page.text

    bare = hq.post(f"{address}/state", data={"csrf_token": token})
    assert bare.status_code == 303 and bare.headers["location"] == f"{address}/state"
    assert events(portal, "organisation.disable") == []

    asked = hq.get(f"{address}/state")
    assert asked.status_code == 200 and check(asked.text) == []
    text = _text(asked)
    assert zh("Disable this organisation?") in text and "財政部臺北國稅局" in text and "A383000000" in text
    facts = re.search(r'<dl class="facts">(.*?)</dl>', asked.text, re.S)
    assert facts is not None
    people = f"<dt>{zh('Active people')}</dt><dd>1</dd>"
    servers = f"<dt>{zh('Active API clients')}</dt><dd>1</dd>"
    assert people in facts.group(1) and servers in facts.group(1)
    form = _confirm_form(asked, f"{address}/state")
    assert zh("Yes, disable %(name)s (%(code)s)") % {"name": "財政部臺北國稅局", "code": "A383000000"} in form
    assert f'<a href="{address}">{zh("Keep the organisation active")}</a>' in form
    with portal.platform.db.transaction() as s:  # asking (and cancelling) changed nothing
        assert s.scalars(select(Organisation.active).where(Organisation.code == "A383000000")).one() is True

    done = hq.post(f"{address}/state", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"{address}?done=organisation_disabled"
    shown = hq.get(done.headers["location"])
    assert (
        zh("The organisation is disabled.") in shown.text
        and "<h1>財政部臺北國稅局（A383000000）</h1>" in shown.text
    )
    assert [i for _, _, i, _ in events(portal, "organisation.disable")] == ["A383000000"]
    with portal.platform.db.transaction() as s:
        assert s.scalars(select(Organisation.active).where(Organisation.code == "A383000000")).one() is False

    # enabling again is not irreversible: one click, no confirmation
    enabled = hq.post(f"{address}/state", data={"csrf_token": token, "active": "true"})
    assert enabled.status_code == 303 and enabled.headers["location"] == f"{address}?saved=1"
    with portal.platform.db.transaction() as s:
        assert s.scalars(select(Organisation.active).where(Organisation.code == "A383000000")).one() is True


def test_hq_is_never_offered_to_be_disabled(portal: Portal) -> None:
    hq = signed_in(portal, "aea", "lin.hq", "hq_admin")
    asked = hq.get(f"{ADMIN}/organisations/aea/state")
    assert asked.status_code == 200 and 'name="confirm"' not in asked.text
    refused = hq.post(f"{ADMIN}/organisations/aea/state", data={"csrf_token": csrf(hq), "confirm": "yes"})
    assert refused.status_code == 400 and 'role="alert"' in refused.text

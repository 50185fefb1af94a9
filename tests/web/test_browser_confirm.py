"""Revoking a certificate in Debian's Chromium, at a desktop's 1366 px and a phone's 390 px, in
Traditional Chinese: an HQ administrator issues a certificate from a CSR and lands on its page,
where the PEM is copied or downloaded to be handed on; from the list, revoking asks first on a page
that names the certificate (subject, serial, validity, owner); cancelling keeps it, confirming
revokes it and shows it revoked. With ``AEDX_SCREENSHOTS`` the desktop picture of the confirmation
is refreshed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from aedx.storage.db import Database
from aedx.storage.tables import Certificate
from aedx.trust.pki import Authority
from tests.served import serving
from tests.web.browser_support import first_sign_in, photograph, zh
from tests.web.conftest import Portal
from tests.web.test_accessibility import check
from tests.web.test_admin import _csr

WIDTHS = {"desktop": 1366, "phone": 390}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The embedded platform on SQLite: the pages are the same on PostgreSQL (see test_admin_confirm)."""
    url = f"sqlite:///{tmp_path / 'aedx.db'}"
    Database(url).migrate()
    return url


def _fits(page: Page) -> None:
    """Nothing of the page's own content reaches past the screen's right edge, and it is accessible."""
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('main form, main dl, main textarea, main button, main p')]"
        ".filter(e => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 1"
        " && !e.closest('table'))"
        ".map(e => e.tagName + '.' + e.className)"
    )
    assert overflow == []
    assert check(page.content()) == []


@pytest.mark.parametrize("screen", WIDTHS)
def test_hq_revokes_a_certificate_through_the_confirmation_that_names_it(
    portal: Portal, chromium: Browser, tmp_path: Path, screen: str
) -> None:
    Authority.create(portal.platform.pki_folder)
    initial = portal.person("aea", "lin.meihua", "hq_admin")
    csr = _csr()
    with serving(portal.platform) as url:
        context = chromium.new_context(
            locale="zh-TW", viewport={"width": WIDTHS[screen], "height": 900}, accept_downloads=True
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page = context.new_page()
        first_sign_in(page, url, "lin.meihua", initial)
        page.wait_for_url(f"{url}/portal/")

        # issued from a CSR, the certificate is shown on its own page to be handed on
        page.goto(f"{url}/portal/admin/certificates")
        form = page.locator('form[aria-labelledby="issue"]')
        form.get_by_label(zh("Organisation"), exact=True).select_option("A383000000")
        form.get_by_label(zh("Use"), exact=True).select_option("signing")
        form.get_by_label(zh("Certificate request (CSR, PEM)")).set_input_files(
            files=[{"name": "a383.csr", "mimeType": "application/pkcs10", "buffer": csr}]
        )
        form.get_by_role("button", name=zh("Issue")).click()
        issued = zh("The certificate was issued. Hand it to the organisation: download it or copy it below.")
        page.get_by_role("status").filter(has_text=issued).wait_for()
        with portal.platform.db.transaction() as s:
            cert = s.scalars(select(Certificate)).one()
            serial, subject, pem = cert.serial, cert.subject, cert.pem
        assert page.url == f"{url}/portal/admin/certificates/{serial}?done=issued"
        assert page.get_by_label(zh("The certificate to hand on (PEM)")).input_value() == pem
        page.get_by_role("button", name=zh("Copy the certificate")).click()
        page.get_by_role("status").filter(has_text=zh("The certificate is copied.")).wait_for()
        assert page.evaluate("() => navigator.clipboard.readText()") == pem
        with page.expect_download() as downloaded:
            page.get_by_role("link", name=zh("Download the certificate (PEM)")).click()
        assert Path(downloaded.value.path()).read_text() == pem
        _fits(page)

        # from the list, revoking asks first, naming the certificate
        page.goto(f"{url}/portal/admin/certificates?organisation=A383000000")
        page.get_by_role("link", name=f"{zh('Revoke')} {serial[:16]}").click()
        page.get_by_role("heading", name=zh("Revoke this certificate?")).wait_for()
        facts = page.locator("dl.facts").inner_text()
        assert subject in facts and serial in facts and "財政部臺北國稅局（A383000000）" in facts
        assert page.locator("dl.facts time").count() == 2  # valid from, valid until
        confirm = page.get_by_role("button", name=f"確定撤銷 財政部臺北國稅局 之憑證 {serial[:16]}")
        assert confirm.is_visible()
        _fits(page)
        if screen == "desktop":
            photograph(page, "confirm-revoke", tmp_path)

        # cancelling keeps it
        page.get_by_role("link", name=zh("Keep the certificate")).click()
        page.wait_for_url(f"{url}/portal/admin/certificates/{serial}")
        assert zh("In force") in page.locator("dl.facts").inner_text()
        with portal.platform.db.transaction() as s:
            assert s.scalars(select(Certificate.revoked_at)).one() is None

        # confirming revokes it, and the certificate's own page shows it revoked
        page.get_by_role("link", name=zh("Revoke this certificate")).click()
        page.get_by_label(zh("Reason")).select_option("key_compromise")
        confirm.click()
        revoked = zh("The certificate is revoked and listed in the certificate revocation list (CRL).")
        page.get_by_role("status").filter(has_text=revoked).wait_for()
        assert page.url == f"{url}/portal/admin/certificates/{serial}?done=revoked"
        state = page.locator("dl.facts").inner_text()
        assert zh("Revoked") in state and zh("Key compromised") in state and serial in state
        assert page.get_by_role("link", name=zh("Revoke this certificate")).count() == 0
        _fits(page)
        context.close()
    with portal.platform.db.transaction() as s:
        revoked = s.scalars(select(Certificate)).one()
        assert revoked.revoked_at is not None and revoked.revocation_reason == "key_compromise"

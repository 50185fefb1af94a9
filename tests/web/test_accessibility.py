"""Every page of the portal, as an HQ administrator and as an agency officer, read with an HTML
parser: the language is declared, one main heading, every form control labelled, every table with
a caption and scoped headers, every posting form with its CSRF token, no inline script or style
(the CSP forbids them), images with a text alternative, ids unique and every id that ARIA names present.

Pages are found in the app's routes, so pages added later are checked without touching this file;
a page with path parameters needs example values below, or a reason to be left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from aedx.web.directory import portal_routes
from aedx.web.portal import PREFIX
from tests.web.conftest import Portal, signed_in

EXAMPLES: dict[str, list[str]] = {
    "/portal/kinds/{name}": ["case_referral", "payment", "status_feedback"],
    "/portal/contacts/{code}": ["A383000000", "sly", "aea"],
    "/portal/admin/organisations/{code}": ["A383000000", "aea"],
    "/portal/admin/organisations/{code}/state": ["A383000000", "aea"],
    "/portal/admin/users/{username}": ["hq.admin.lee", "chen.mei"],
    "/portal/submissions/{submission_id}": ["sa383000001"],  # made by the test
}
LEFT_OUT: dict[str, str] = {
    "/portal/language/{locale}": "a redirect back to the page it came from",
    "/portal/kinds/{name}/sample": "a file to download, not a page",
    "/portal/admin/certificates/{serial}/certificate.pem": "a file to download, not a page",
    "/portal/submissions/{submission_id}/report.{fmt}": "a file to download, not a page",
    "/portal/inbox/{delivery_id}/download": "a file to download, not a page",
    "/portal/inbox/{delivery_id}/table.{fmt}": "a file to download, not a page",
    "/portal/cases/export.{fmt}": "a file to download, not a page",
    "/portal/inbox/{delivery_id}": "needs a delivered package: checked in test_browser_cases",
    "/portal/inbox/{delivery_id}/acknowledge": "needs a delivered package: checked in test_browser_cases",
    "/portal/cases/{case_id}": "needs a referred case: checked in test_browser_cases",
    "/portal/admin/certificates/{serial}": "needs an issued certificate: checked in test_admin_confirm",
    "/portal/admin/certificates/{serial}/revoke": "needs an issued certificate: checked in test_admin_confirm",
    "/portal/admin/clients/{client_id}": "needs a registered client: checked in test_admin_confirm",
    "/portal/admin/clients/{client_id}/disable": "needs a registered client: checked in test_admin_confirm",
}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class Page(HTMLParser):
    """What the checks need from one page, gathered in one pass."""

    problems: list[str] = field(default_factory=list)
    lang: str | None = None
    h1: int = 0
    ids: list[str] = field(default_factory=list)
    label_for: set[str] = field(default_factory=set)
    controls: list[tuple[str, dict[str, str | None], bool]] = field(default_factory=list)
    tables: list[dict[str, int]] = field(default_factory=list)
    forms: list[dict[str, object]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # ids named by aria-describedby, -labelledby
    in_label: int = 0
    in_script: bool = False

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        for name in ("aria-describedby", "aria-labelledby"):
            self.references += (a.get(name) or "").split()
        if "style" in a:
            self.problems.append(f"inline style on <{tag}>")
        handlers = [name for name in a if name.startswith("on")]
        if handlers:
            self.problems.append(f"inline event handler {handlers[0]} on <{tag}>")
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            kind = (a.get("type") or "text").lower() if tag == "input" else tag
            if kind not in UNLABELLED_INPUTS:
                self.controls.append((tag, a, self.in_label > 0))
            if self.forms and kind == "hidden" and a.get("name") == "csrf_token" and a.get("value"):
                self.forms[-1]["csrf"] = True
        elif tag == "table":
            self.tables.append({"caption": 0, "th": 0, "unscoped": 0})
        elif tag == "caption" and self.tables:
            self.tables[-1]["caption"] += 1
        elif tag == "th" and self.tables:
            self.tables[-1]["th"] += 1
            if not a.get("scope"):
                self.tables[-1]["unscoped"] += 1
        elif tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"),
                               "csrf": False})  # fmt: skip
        elif tag == "script":
            self.in_script = True
            if not a.get("src"):
                self.problems.append("inline <script>")
        elif tag == "style":
            self.problems.append("inline <style>")
        elif tag == "img" and a.get("alt") is None:
            self.problems.append(f"<img src={a.get('src')!r}> without alt")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.in_label:
            self.in_label -= 1
        elif tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("inline script text")


def check(html: str) -> list[str]:
    """The accessibility and CSP problems of one page; empty when there are none."""
    page = Page()
    page.feed(html)
    page.close()
    problems = list(page.problems)
    if not page.lang:
        problems.append("<html> without lang")
    if page.h1 != 1:
        problems.append(f"{page.h1} <h1> elements, not one")
    for tag, a, wrapped in page.controls:
        named = a.get("aria-label") or a.get("aria-labelledby") or wrapped
        if not named and a.get("id") not in page.label_for:
            problems.append(f"<{tag} name={a.get('name')!r}> without a label")
    for n, table in enumerate(page.tables, start=1):
        if table["caption"] != 1:
            problems.append(f"table {n} without a caption")
        if table["th"] == 0 or table["unscoped"]:
            problems.append(f"table {n}: header cells missing or without scope")
    for form in page.forms:
        if form["method"] == "post" and not form["csrf"]:
            problems.append(f"form posting to {form['action']} without the CSRF token")
    dangling = sorted(set(page.references) - set(page.ids))
    if dangling:
        problems.append(f"aria references to missing ids: {', '.join(dangling)}")
    twice = sorted({i for i in page.ids if page.ids.count(i) > 1})
    if twice:
        problems.append(f"ids used twice: {', '.join(twice)}")
    return problems


def portal_pages(app: FastAPI) -> tuple[list[str], list[str]]:
    """The addresses of every GET page under the portal, and the parameterised routes that have
    neither examples nor a reason to be left out."""
    pages, unlisted = [], []
    for route in portal_routes(app.routes):
        if "GET" not in route.methods:
            continue
        if not route.param_convertors:
            pages.append(route.path)
        elif route.path in EXAMPLES:
            name = next(iter(route.param_convertors))
            pages += [route.path.replace(f"{{{name}}}", value) for value in EXAMPLES[route.path]]
        elif route.path not in LEFT_OUT:
            unlisted.append(route.path)
    return sorted(set(pages)), unlisted


def visit_all(browser: httpx.Client, pages: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in pages:
        answer = browser.get(path, follow_redirects=True)
        assert answer.status_code < 500, f"{path}: {answer.status_code}"
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue  # a download or an API answer: not a page
        problems = check(answer.text)
        if problems:
            found[path] = problems
    return found


@pytest.mark.parametrize(
    ("org", "username", "role"),
    [("aea", "hq.admin.lee", "hq_admin"), ("A383000000", "chen.mei", "agency_officer")],
)
def test_every_portal_page_is_accessible(portal: Portal, org: str, username: str, role: str) -> None:
    portal.submission("A383000000", 1)
    browser = signed_in(portal, org, username, role)
    pages, _ = portal_pages(browser.app)  # type: ignore[attr-defined]
    assert {"/portal/", "/portal/kinds", "/portal/contacts", "/portal/kinds/payment"} <= set(pages)
    assert visit_all(browser, [*pages, "/portal/no-such-page"]) == {}
    assert browser.get("/portal/contacts").status_code == 200  # still signed in: pages were checked
    english = browser.get("/portal/language/en", follow_redirects=True)
    assert english.status_code == 200 and visit_all(browser, pages) == {}


def test_every_page_with_path_parameters_has_examples_or_a_reason(portal: Portal) -> None:
    _, unlisted = portal_pages(portal.browser().app)  # type: ignore[attr-defined]
    assert unlisted == [], "add example values to EXAMPLES or a reason to LEFT_OUT"


BROKEN = """<!doctype html><html><head><style>p {}</style></head><body>
<h1>One</h1><h1>Two</h1>
<form method="post" action="/portal/x"><input id="a" name="a"><select name="b"></select>
<input type="hidden" name="csrf_token" value=""></form>
<form method="post" action="/portal/y"><label for="c">C</label><input id="c" name="c" aria-describedby="c-hint">
<input type="hidden" name="csrf_token" value="t"></form>
<table><tr><th>Head</th></tr><tr><td>1</td></tr></table>
<img src="/x.png"><p style="color: red" onclick="go()">x</p><script>alert(1)</script>
<span id="c"></span></body></html>"""


def test_the_checks_find_a_broken_page(portal: Portal) -> None:
    area = APIRouter(prefix=PREFIX)

    @area.get("/broken", response_class=HTMLResponse)
    def broken() -> str:
        return BROKEN

    browser = signed_in(portal, "A383000000", "chen.mei", "agency_officer")
    app: FastAPI = browser.app  # type: ignore[attr-defined]
    app.include_router(area)
    pages, _ = portal_pages(app)
    assert "/portal/broken" in pages  # a new page is found without listing it
    found = visit_all(browser, pages)
    assert list(found) == ["/portal/broken"]
    assert sorted(found["/portal/broken"]) == sorted(
        [
            "inline <style>",
            "<html> without lang",
            "2 <h1> elements, not one",
            "<input name='a'> without a label",
            "<select name='b'> without a label",
            "form posting to /portal/x without the CSRF token",
            "table 1 without a caption",
            "table 1: header cells missing or without scope",
            "<img src='/x.png'> without alt",
            "inline style on <p>",
            "inline event handler onclick on <p>",
            "inline <script>",
            "inline script text",
            "ids used twice: c",
            "aria references to missing ids: c-hint",
        ]
    )

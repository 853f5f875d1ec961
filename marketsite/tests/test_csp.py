"""The Content-Security-Policy (django-csp): every page carries it, and no page the project serves
needs what it forbids (inline scripts, inline styles, event-handler attributes).

What the pages do under the policy in a real browser is in test_dashboard_browser.py
(``test_pages_work_under_the_production_csp``); the header under the production settings is
checked in config/tests/test_settings.py.
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User

from api.models import ApiKey
from ticks.models import Ticker

pytestmark = pytest.mark.django_db

# <script> elements the browser does not run (data blocks), hence outside script-src.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineCode(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' would block."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[str] = []
        self.scripts: list[str] = []  # src of every external script
        self._inline_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> (event handler attribute)")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            if a.get("src"):
                self.scripts.append(a["src"])
            elif (a.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
                self.found.append(f"inline <script {a}>")


def directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def assert_no_inline_code(response) -> InlineCode:
    assert response.status_code == 200, response.request["PATH_INFO"]
    policy = directives(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], policy
    page = InlineCode(response.content.decode())
    assert page.found == [], f"{response.request['PATH_INFO']}: {page.found}"
    return page


def test_the_policy_allows_nothing_inline(client):
    policy = directives(client.get("/healthz"))
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    flat = " ".join(v for values in policy.values() for v in values)
    assert "'unsafe-inline'" not in flat and "'unsafe-eval'" not in flat
    assert "http:" not in flat and "https:" not in flat and "*" not in flat  # no other origin


def test_the_dashboard_has_no_inline_code(client):
    for path in ("/", "/?ticker=SYNTH"):
        assert_no_inline_code(client.get(path))


def test_the_swagger_page_loads_its_init_script_separately(client):
    response = client.get("/api/v1/docs/")
    page = assert_no_inline_code(response)
    init = [src for src in page.scripts if "script" in src.partition("?")[2]]
    assert len(init) == 1, page.scripts
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content and b"/api/v1/schema/" in script.content


def test_the_browsable_api_has_no_inline_code(admin_client):
    response = admin_client.get("/api/v1/tickers", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html")
    assert_no_inline_code(response)


def test_the_admin_has_no_inline_code(client, admin_client):
    assert_no_inline_code(client.get("/admin/login/"))
    ticker = Ticker.objects.get(symbol="SYNTH")
    for path in (
        "/admin/",
        "/admin/ticks/ticker/",
        f"/admin/ticks/ticker/{ticker.pk}/change/",
        "/admin/ticks/ticker/add/",
        "/admin/api/apikey/",
        "/admin/api/apikey/add/",
        "/admin/auth/user/",
        f"/admin/auth/user/{User.objects.get().pk}/change/",
    ):
        assert_no_inline_code(admin_client.get(path))
    # The page that shows a new key once (the project's own admin template).
    created = admin_client.post("/admin/api/apikey/add/", {"name": "csp"})
    page = assert_no_inline_code(created)
    assert "/static/api/js/apikey-created.js" in page.scripts
    assert re.search(r'id="api-key"', created.content.decode())
    assert ApiKey.objects.filter(name="csp").exists()

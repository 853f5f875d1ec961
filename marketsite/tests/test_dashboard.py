"""The dashboard page `/` through Django's test client: what it renders, links and loads, its
states (no tickers, no ticks yet, unknown ticker), and the signed token it carries for the API.

The live behaviour in a browser against the real stack is in test_dashboard_browser.py.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from ticks import stream_tokens as tokens
from ticks.models import Bar, Tick, Ticker

pytestmark = pytest.mark.django_db

SEEDED = ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]  # migration 0002, by symbol
STATIC_URL = "/static/"
JS_IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["'](\./[\w.-]+\.js)["'];?""", re.M)


class Page(HTMLParser):
    """What the tests look at: links, static references, rows, elements by id, the config."""

    def __init__(self, html: str):
        super().__init__()
        self.links: dict[str, str] = {}  # text -> href, for <a> in the top bar's nav
        self.hrefs: list[str] = []
        self.static: list[str] = []
        self.rows: dict[str, dict] = {}
        self.ids: dict[str, dict] = {}
        self.module_scripts: list[str] = []
        self._a: dict | None = None
        self._text: list[str] = []
        self.feed(html)
        match = re.search(
            r'<script id="dashboard-config" type="application/json">(.*?)</script>', html, re.S
        )
        self.config = json.loads(match.group(1)) if match else None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        for name in ("href", "src"):
            url = a.get(name) or ""
            if url.startswith(STATIC_URL):
                self.static.append(url)
        if tag == "script" and a.get("type") == "module":
            self.module_scripts.append(a["src"])
        if tag == "tr" and "data-ticker" in a and a["data-ticker"]:
            self.rows[a["data-ticker"]] = a
        if tag == "a":
            self.hrefs.append(a.get("href", ""))
            self._a, self._text = a, []

    def handle_data(self, data):
        if self._a is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._a is not None:
            self.links.setdefault("".join(self._text).strip(), self._a.get("href", ""))
            self._a = None


def get_page(client, url="/"):
    response = client.get(url)
    return response, Page(response.content.decode())


def now_utc() -> datetime:
    return datetime.now(UTC)


def add_ticks(ticker: Ticker, *, prices: list[str], end: datetime) -> None:
    """Ticks 100 ms apart ending at ``end``; bid/ask 5 cents either side."""
    start = end - timedelta(milliseconds=100 * (len(prices) - 1))
    Tick.objects.bulk_create(
        [
            Tick(
                ticker=ticker,
                time=start + timedelta(milliseconds=100 * i),
                seq=i,
                price=Decimal(p),
                bid=Decimal(p) - Decimal("0.05"),
                ask=Decimal(p) + Decimal("0.05"),
                volume=100,
            )
            for i, p in enumerate(prices)
        ]
    )


def add_bar(ticker: Ticker, *, timeframe: str, time: datetime, open_: str, close: str) -> None:
    Bar.objects.create(
        ticker=ticker,
        timeframe=timeframe,
        time=time,
        open=Decimal(open_),
        high=max(Decimal(open_), Decimal(close)) + 1,
        low=min(Decimal(open_), Decimal(close)) - 1,
        close=Decimal(close),
        volume=1000,
        trade_count=10,
        vwap=Decimal(close),
    )


# --- The page ---------------------------------------------------------------------------------


def test_the_dashboard_is_the_site_root(client):
    assert reverse("marketsite:dashboard") == "/"
    response, page = get_page(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert [t.name for t in response.templates][:1] == ["marketsite/dashboard.html"]
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_every_active_ticker_has_a_row_and_the_default_ticker_is_selected(client):
    response, page = get_page(client)
    assert list(page.rows) == SEEDED
    assert page.rows["SYNTH"].get("class") == "selected"  # DASHBOARD_DEFAULT_TICKER
    assert all(page.rows[s].get("class") is None for s in SEEDED if s != "SYNTH")
    assert [t["ticker"] for t in page.config["tickers"]] == SEEDED
    synth = next(t for t in page.config["tickers"] if t["ticker"] == "SYNTH")
    assert synth == {
        "ticker": "SYNTH",
        "calendar": "24/7",
        "session": None,
        "name": "Synthetic Corp",
        "sector": "Technology",
        "active": True,
        "tick_rate": 10.0,
        "last_price": None,
        "last_time": None,
    }
    assert page.config["selected"] == "SYNTH"
    assert page.config["unknownTicker"] is None
    html = response.content.decode()
    assert "Synthetic Corp" in html and "Healthcare" in html


def test_links_to_the_api_docs_the_browsable_api_and_the_admin(client):
    _, page = get_page(client)
    assert page.links["API docs"] == "/api/v1/docs/"
    assert page.links["Browsable API"] == "/api/v1/tickers"
    assert page.links["Admin"] == reverse("admin:index") == "/admin/"
    assert "/readyz" in page.hrefs


def test_the_page_talks_to_the_documented_endpoints(client):
    _, page = get_page(client)
    config = page.config
    assert config["apiBase"] == "/api/v1"
    assert config["wsPath"] == "/ws"
    assert config["timeframes"] == ["1m", "5m", "1h", "1d"]
    assert config["replaySeconds"] == 300
    assert config["staleAfterMs"] == 10_000  # GENERATION_STALE_SECONDS: the "stale" badge
    assert abs(config["serverTimeMs"] - now_utc().timestamp() * 1000) < 60_000


def test_the_static_files_it_references_exist_and_are_served(client):
    _, page = get_page(client)
    assert {
        "/static/marketsite/css/dashboard.css",
        "/static/marketsite/js/dashboard.js",
        "/static/marketsite/favicon.svg",
    } <= set(page.static)
    assert page.module_scripts == ["/static/marketsite/js/dashboard.js"]
    # Follow the ES module imports too: every module the page loads must be served.
    seen, queue = set(), list(page.static)
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, url
        if url.endswith(".js"):
            assert response["Content-Type"].startswith("text/javascript"), url
            base = url.rsplit("/", 1)[0]
            queue += [f"{base}/{name[2:]}" for name in JS_IMPORT.findall(body.decode())]
    modules = {u.rsplit("/", 1)[1] for u in seen if u.endswith(".js")}
    assert modules == {
        "dashboard.js",
        "api.js",
        "candles.js",
        "chart.js",
        "format.js",
        "sessions.js",
        "sparkline.js",
        "stats.js",
        "stream.js",
        "tickers.js",
    }


def test_no_third_party_or_remote_assets(client):
    response, page = get_page(client)
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html), "no CDN or remote asset"
    for url in page.static:
        body = client.get(url)
        text = b"".join(body.streaming_content) if body.streaming else body.content
        assert b"://" not in text.replace(b"http://www.w3.org/2000/svg", b""), url


def test_timeframe_from_the_url(client):
    _, page = get_page(client, "/?ticker=TECH&timeframe=5m")
    assert page.config["timeframe"] == "5m"
    assert page.ids["chart"]["data-timeframe"] == "5m"
    _, page = get_page(client, "/?ticker=TECH&timeframe=7m")
    assert page.config["timeframe"] == "1m"


def test_the_ticker_in_the_url_is_selected_case_insensitively(client):
    response, page = get_page(client, "/?ticker=synth")
    assert response.status_code == 200
    assert page.config["selected"] == "SYNTH"
    assert page.rows["SYNTH"].get("class") == "selected"
    assert page.ids["chart"]["data-ticker"] == "SYNTH"


def test_an_unknown_ticker_gets_a_message_and_404(client):
    response, page = get_page(client, "/?ticker=XYZ")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Unknown ticker “XYZ”. Choose one from the table." in html
    assert page.config["unknownTicker"] == "XYZ" and page.config["selected"] is None
    assert page.ids["chart-box"]["data-state"] == "unknown"
    assert list(page.rows) == SEEDED  # the table is still there to pick from


def test_a_hostile_ticker_is_escaped_and_cut(client):
    response, page = get_page(client, "/?ticker=" + "<script>alert(1)</script>" * 10)
    assert response.status_code == 404
    html = response.content.decode()
    assert "<script>alert" not in html.lower()
    assert len(page.config["unknownTicker"]) == 40


def test_an_inactive_ticker_is_listed_only_when_asked_for(client):
    Ticker.objects.filter(symbol="ENERGY").update(is_active=False)
    _, page = get_page(client)
    assert "ENERGY" not in page.rows and page.config["selected"] == "SYNTH"
    response, page = get_page(client, "/?ticker=ENERGY")
    assert response.status_code == 200
    assert "ENERGY" in page.rows and page.config["selected"] == "ENERGY"
    assert "inactive" in response.content.decode()


# --- Empty and partial data -------------------------------------------------------------------


def test_before_the_first_tick_the_page_says_it_is_waiting(client):
    _, page = get_page(client)
    assert "hidden" not in page.ids["waiting"]
    assert all(t["last_price"] is None for t in page.config["tickers"])
    assert page.config["dayOpen"] == {} and page.config["sparklines"] == {}


def test_with_no_active_ticker_the_page_says_so(client):
    Ticker.objects.update(is_active=False)
    response, page = get_page(client)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No active tickers" in html
    assert page.rows == {} and page.config["selected"] is None
    assert "hidden" in page.ids["waiting"]
    assert page.ids["chart-box"]["data-state"] == "none"


def test_stored_prices_day_open_and_sparkline_are_in_the_first_paint(client):
    synth = Ticker.objects.get(symbol="SYNTH")
    now = now_utc()
    add_ticks(synth, prices=["151.00", "151.10", "151.25"], end=now - timedelta(seconds=1))
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    add_bar(synth, timeframe="1d", time=day, open_="150.00", close="151.25")
    minute = now.replace(second=0, microsecond=0)
    add_bar(
        synth, timeframe="1m", time=minute - timedelta(minutes=1), open_="150.90", close="151.00"
    )
    add_bar(
        synth, timeframe="1m", time=minute - timedelta(minutes=90), open_="140", close="140"
    )  # older than the sparkline's hour
    response, page = get_page(client, "/?ticker=SYNTH")
    synth_row = next(t for t in page.config["tickers"] if t["ticker"] == "SYNTH")
    assert synth_row["last_price"] == 151.25
    assert synth_row["last_time"] == int((now - timedelta(seconds=1)).timestamp() * 1000)
    assert page.config["dayOpen"] == {"SYNTH": 150.0}
    assert page.config["sparklines"] == {
        "SYNTH": [[int((minute - timedelta(minutes=1)).timestamp() * 1000), 151.0]]
    }
    assert "hidden" in page.ids["waiting"]
    assert re.search(r'data-field="price">151\.25<', response.content.decode())


def test_a_calendar_tickers_sessions_are_in_the_config(client, settings):
    """The open periods a calendar ticker trades (from its calendar, a few weeks around market
    now) for the page's "closed, opens in ..." and the chart's closures; none for 24/7."""
    from testsupport.market_clock import market_at

    market_at(settings, datetime(2026, 12, 1, 11, 17, 30, tzinfo=UTC))
    Ticker.objects.filter(symbol="SYNTH").update(calendar="XNYS")
    Ticker.objects.filter(symbol="TECH").update(calendar="XNYS", extended_hours=True)
    _, page = get_page(client, "/?ticker=SYNTH")
    rows = {t["ticker"]: t for t in page.config["tickers"]}
    assert {s: (r["calendar"], r["session"]) for s, r in rows.items()} == {
        "SYNTH": ("XNYS", "XNYS"),
        "TECH": ("XNYS", "XNYS+ext"),
        **{s: ("24/7", None) for s in ("ENERGY", "FINANCE", "HEALTH")},
    }
    regular, extended = page.config["sessions"]["XNYS"], page.config["sessions"]["XNYS+ext"]
    open_ms = int(datetime(2026, 12, 1, 14, 30, tzinfo=UTC).timestamp() * 1000)
    close_ms = int(datetime(2026, 12, 1, 21, tzinfo=UTC).timestamp() * 1000)
    day = (datetime(2026, 12, 1) - datetime(1970, 1, 1)).days
    assert [open_ms, close_ms, 0, day] in regular
    assert [close_ms, close_ms + 4 * 3_600_000, 2, day] in extended  # post-market to 20:00
    starts = [p[0] for p in regular]
    assert starts == sorted(starts) and min(starts) < open_ms - 14 * 86_400_000
    assert max(p[1] for p in regular) > open_ms + 3 * 86_400_000
    assert not any(p[3] == day + 25 for p in regular)  # the holiday after: 2026-12-25


def test_a_24_7_market_has_no_sessions_in_the_config(client):
    _, page = get_page(client)
    assert page.config["sessions"] == {}
    assert {t["session"] for t in page.config["tickers"]} == {None}


def test_the_page_costs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    for symbol in SEEDED:
        add_ticks(Ticker.objects.get(symbol=symbol), prices=["100.00"] * 3, end=now_utc())
    with django_assert_max_num_queries(3):
        response = client.get("/")
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_dashboard_only_answers_get(client, method):
    assert getattr(client, method)("/").status_code == 405


# --- The token --------------------------------------------------------------------------------


@pytest.mark.parametrize("required", [False, True])
def test_the_page_carries_a_valid_token_and_no_api_key(client, required):
    if required:
        client.force_login(User.objects.create_user("viewer", password="x"))
    with override_settings(API_KEYS_REQUIRED=required):
        response, page = get_page(client)
    assert response.status_code == 200
    token = page.config["token"]
    assert tokens.dashboard_token_valid(token)
    assert page.config["tokenHeader"] == "X-Dashboard-Token"
    assert page.config["tokenParam"] == "token"
    assert page.config["tokenUrl"] == "/dashboard/token"
    assert page.config["tokenMaxAgeS"] == 600
    payload = signing.loads(token, salt=tokens.SALT)
    assert set(payload) == {"scope", "id"} and payload["scope"] == "read"  # no user, no key
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", payload["id"])  # random: its own rate limit


@override_settings(API_KEYS_REQUIRED=True, DASHBOARD_PUBLIC=False)
def test_with_keys_required_an_anonymous_visitor_gets_no_page_and_no_token(client):
    page = client.get("/?ticker=SYNTH")
    assert page.status_code == 302
    assert page["Location"] == "/admin/login/?next=/%3Fticker%3DSYNTH"
    response = client.get("/dashboard/token")
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "sign_in_required",
            "message": (
                "API keys are required: sign in to get a dashboard token, or use an API key."
            ),
        }
    }
    client.force_login(User.objects.create_user("viewer", password="x"))
    assert client.get("/").status_code == 200
    assert tokens.dashboard_token_valid(client.get("/dashboard/token").json()["token"])


@override_settings(API_KEYS_REQUIRED=True, DASHBOARD_PUBLIC=True)
def test_dashboard_public_opens_the_page_and_its_token_to_anyone(client):
    assert client.get("/").status_code == 200
    assert tokens.dashboard_token_valid(client.get("/dashboard/token").json()["token"])


def test_the_token_endpoint_renews_it(client):
    response = client.get("/dashboard/token")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"token", "expires_in"} and body["expires_in"] == 600
    assert tokens.dashboard_token_valid(body["token"])
    assert client.post("/dashboard/token").status_code == 405


def test_a_token_expires():
    token = tokens.dashboard_token_issue()
    later = signing.time.time() + 601
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert not tokens.dashboard_token_valid(token)
    with override_settings(DASHBOARD_TOKEN_MAX_AGE_S=3600):
        with mock.patch("django.core.signing.time.time", return_value=later):
            assert tokens.dashboard_token_valid(token)


@pytest.mark.parametrize("token", [None, "", "x", "a:b:c", "é" * 600])
def test_garbage_is_not_a_token(token):
    assert tokens.dashboard_token_valid(token) is False


def test_a_tampered_or_foreign_token_is_refused():
    token = tokens.dashboard_token_issue()
    value, stamp, signature = token.rsplit(":", 2)
    assert not tokens.dashboard_token_valid(f"{value}:{stamp}:{signature[::-1]}")
    assert not tokens.dashboard_token_valid(signing.dumps({"scope": "read"}, salt="other"))
    assert not tokens.dashboard_token_valid(signing.dumps({"scope": "write"}, salt=tokens.SALT))
    with override_settings(SECRET_KEY="another-secret"):
        assert not tokens.dashboard_token_valid(token)


# --- Health endpoints stay where they were ------------------------------------------------------


def test_health_endpoints_are_untouched(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_static_files_are_served_quietly_before_collectstatic(tmp_path, recwarn):
    from django.test import Client

    with override_settings(STATIC_ROOT=tmp_path / "not-collected-yet"):
        response = Client().get("/static/marketsite/css/dashboard.css")
    assert response.status_code == 200
    assert not [w for w in recwarn if "No directory" in str(w.message)]


@pytest.mark.django_db
def test_every_page_has_an_icon(client, admin_client):
    """No 404 for /favicon.ico (the admin names no icon) and the API pages name the site's."""
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("marketsite/favicon.svg")
    browsable = admin_client.get("/api/v1/tickers", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200
    assert b'rel="icon" href="/static/marketsite/favicon.svg"' in browsable.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b'rel="icon"' in docs.content


@pytest.mark.parametrize(
    "default,selected", [("tech", "TECH"), ("NOPE", "ENERGY"), ("HEALTH-inactive", "ENERGY")]
)
def test_the_default_ticker_comes_from_the_setting_else_the_first_active(
    client, settings, default, selected
):
    if default == "HEALTH-inactive":
        Ticker.objects.filter(symbol="HEALTH").update(is_active=False)
        default = "HEALTH"
    settings.DASHBOARD_DEFAULT_TICKER = default
    _, page = get_page(client)
    assert page.config["selected"] == selected
    assert page.rows[selected].get("class") == "selected"

"""The dashboard in a real browser against the real stack.

Daphne (`web`), the celery generator, worker and beat run as processes on the test database
(with two hours of backfilled history, so the chart has candles at once); headless Chromium,
driven by Playwright, opens `/` and checks that prices move, the chart has candles, the
timeframe switcher (buttons and keys) reloads it, the page survives the web server being stopped
and started again (reconnecting, with no hole in the stream), that it keeps working when API
keys become required, and at phone width, with the keyboard and with an unknown ticker.
It saves the screenshots shown in the README (docs/dashboard.png, docs/dashboard-dark.png).
A second test runs daphne under the production settings and checks that the dashboard, Swagger UI
(`/api/v1/docs/`) and the admin work under the production Content-Security-Policy, with no
violation reported.

The browser is Debian's `chromium` (Playwright's own browser download cannot work here), driven
through Playwright's Python package with `executable_path`. Without it the test is skipped,
except under CI (`CI=true`), where `make test` installs it and a missing browser is a failure.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from django.db import connection

from testsupport.services import free_port
from testsupport.stack import ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = ROOT / "docs"
# The session's Redis: REDIS_URL, or the embedded Valkey the test session started.
SHARED_REDIS = os.environ["REDIS_URL"]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "Playwright is not installed: `.venv/bin/pip install -r requirements.txt` "
            "(its browser download is not needed)"
        )
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        return (
            "Chromium is not installed: `apt-get install -y chromium` (Debian's package; "
            "`make test` installs it when CI=true)"
        )
    return None


@pytest.fixture
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    executable = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shared_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def market():
    """Two hours of history, then web + generator + worker + beat; stopped afterwards."""
    stack = Stack(database_url=shared_database_url(), redis_url=SHARED_REDIS, web_port=free_port())
    try:
        subprocess.run(
            [sys.executable, "manage.py", "backfill", "--hours", "2", "--no-progress"],
            cwd=ROOT,
            env=stack.env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        stack.start("web", "generator", "worker", "beat")
        stack.wait_for(
            lambda: _answers(f"http://127.0.0.1:{stack.web_port}/healthz"),
            timeout=30,
            what="daphne answering",
        )
        yield stack
    finally:
        stack.close()


class Dashboard:
    """The page under test and what it exposes for tests (data attributes)."""

    def __init__(self, page, stack: Stack):
        self.page = page
        self.stack = stack
        self.errors: list[str] = []
        self.api_requests: list[tuple[str, dict]] = []
        self.sockets: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "request",
            lambda r: self.api_requests.append((r.url, r.headers)) if "/api/v1/" in r.url else None,
        )
        page.on("websocket", lambda ws: self.sockets.append(ws.url))

    def wait(self, expression: str, *, timeout: float, arg=None, what: str = "") -> None:
        try:
            self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)
        except Exception as exc:
            state = self.page.evaluate(
                "() => ({body: {...document.body.dataset}, chart: {...document.querySelector"
                "('#chart').dataset}, box: document.querySelector('#chart-box').dataset.state, "
                "message: document.querySelector('#chart-message').textContent, connection: "
                "document.querySelector('#connection').textContent.trim()})"
            )
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or expression}: "
                f"{exc}\npage: {state}\nerrors: {self.errors}\n"
                f"{self.stack.logs()}"
            ) from exc

    def data(self) -> dict:
        return self.page.evaluate("() => ({...document.body.dataset})")

    def chart(self) -> dict:
        return self.page.evaluate("() => ({...document.querySelector('#chart').dataset})")

    def prices(self) -> dict:
        return self.page.evaluate(
            "() => Object.fromEntries([...document.querySelectorAll('#ticker-table tr[data-ticker]')]"
            ".map(r => [r.dataset.ticker, r.querySelector('[data-field=price]').textContent]))"
        )

    def wait_live(self, *, connects: int = 1, timeout: float = 20) -> None:
        self.wait(
            f"() => document.body.dataset.connection === 'live' && "
            f"Number(document.body.dataset.wsConnects) >= {connects} && "
            "Number(document.body.dataset.ticks) > 0",
            timeout=timeout,
            what=f"live connection #{connects} with ticks",
        )

    def wait_chart(
        self, ticker: str, timeframe: str, *, loads: int, min_candles: int, timeout: float = 15
    ) -> None:
        self.wait(
            "([ticker, tf, loads, n]) => { const c = document.querySelector('#chart')"
            ".dataset; return c.ticker === ticker && c.timeframe === tf && "
            "Number(c.loads) >= loads && Number(c.candles) >= n && "
            "document.querySelector('#chart-box').dataset.state === 'ready'; }",
            arg=[ticker, timeframe, loads, min_candles],
            timeout=timeout,
            what=f"{ticker} {timeframe} chart (load {loads}) with {min_candles}+ candles",
        )

    def wait_prices_change(self, *, timeout: float) -> None:
        before = self.prices()
        self.wait(
            "(before) => [...document.querySelectorAll('#ticker-table tr[data-ticker]')]"
            ".some(r => r.querySelector('[data-field=price]').textContent !== "
            "before[r.dataset.ticker])",
            arg=before,
            timeout=timeout,
            what=f"a price to change from {before}",
        )


def _screenshot(page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(1_200)  # let the row flashes fade
    page.screenshot(path=str(DOCS / name))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_dashboard_live_in_a_browser(market, browser):
    base = f"http://127.0.0.1:{market.web_port}"
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = context.new_page()
    dash = Dashboard(page, market)
    page.goto(f"{base}/?ticker=SYNTH")
    dash.wait_live()

    # Prices move within 3 s.
    dash.wait(
        "() => [...document.querySelectorAll('#ticker-table [data-field=price]')]"
        ".every(c => /\\d/.test(c.textContent))",
        timeout=10,
        what="every price shown",
    )
    dash.wait_prices_change(timeout=3)
    assert page.locator("#waiting").is_hidden()

    # The chart has the backfilled candles (two hours of 1m bars) and grows with live ticks.
    dash.wait_chart("SYNTH", "1m", loads=1, min_candles=100)
    assert page.locator("#chart-message").is_hidden()
    readout = page.locator("#chart-readout").text_content()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTCO [\d,.]+H [\d,.]+L [\d,.]+C [\d,.]+"
        r"V [\d,]+",
        readout,
    ), readout
    dash.wait(
        "() => /\\d/.test(document.querySelector('#stats [data-stat=tick_count]').textContent)",
        timeout=10,
        what="the stats panel",
    )
    ticks_1d = page.locator("#stats [data-stat=tick_count]").text_content()
    count, span = re.fullmatch(r"([\d,]+) \(([\d.]+ \w+)\)", ticks_1d).groups()
    assert int(count.replace(",", "")) > 50_000 and span.endswith(" h")  # 2 h at 10/s and more
    assert re.fullmatch(r"\d+\.\d%", page.locator("#stats [data-stat=volatility]").text_content())
    # From less than an hour of ticks the volatility is not shown, only what it would need.
    assert page.evaluate("""async () => {
        const stats = await import("/static/marketsite/js/stats.js");
        const root = document.createElement("dl");
        root.innerHTML = '<dd data-stat="volatility"></dd><dd data-stat="tick_count"></dd>';
        stats.renderStats(root, {tick_count: 1800, volatility: 0.446}, 10);
        return [...root.querySelectorAll("dd")].map(dd => dd.textContent);
    }""") == ["— (needs 1 h of ticks, has 3 min)", "1,800 (3 min)"]

    # Switching the timeframe reloads the chart from /api/v1/bars.
    with page.expect_response(
        lambda r: "/api/v1/bars/SYNTH" in r.url and "timeframe=5m" in r.url
    ) as response:
        page.get_by_role("button", name="5m").click()
    assert response.value.status == 200
    dash.wait_chart("SYNTH", "5m", loads=2, min_candles=20)
    assert "timeframe=5m" in page.url
    assert page.get_by_role("button", name="5m").get_attribute("aria-pressed") == "true"
    # ... and with the keyboard: 3 is 1h, 1 is back to 1m.
    page.keyboard.press("3")
    dash.wait_chart("SYNTH", "1h", loads=3, min_candles=2)
    page.keyboard.press("1")
    dash.wait_chart("SYNTH", "1m", loads=4, min_candles=100)
    _screenshot(page, "dashboard.png")

    # A ticker chosen in the table is charted.
    page.get_by_role("link", name="TECH", exact=True).click()
    dash.wait_chart("TECH", "1m", loads=5, min_candles=100)
    assert "ticker=TECH" in page.url

    # The web server goes away: the page says so and retries; when it is back, it reconnects
    # and resumes where it left off (`since`): no tick missing, so no hole in the chart.
    ticks_before = int(dash.data()["ticks"])
    market.stop("web")
    # (The port stays bound while daphne is away, as under supervisord: a retry may hang in
    # "connecting" rather than fail, so either state shows the page noticed.)
    dash.wait(
        "() => ['disconnected', 'connecting'].includes(document.body.dataset.connection)",
        timeout=10,
        what="the page to notice the drop",
    )
    shown = page.locator("#connection").text_content()
    assert "retrying" in shown or "Retry now" in shown, shown
    time.sleep(3)  # the market goes on meanwhile
    market.start("web")
    dash.wait_live(connects=2, timeout=30)
    dash.wait(
        f"() => Number(document.body.dataset.ticks) > {ticks_before + 5 * 60}",
        timeout=10,
        what="the missed ticks replayed and live ones after them",
    )
    assert dash.data()["seqGaps"] == "0", "a tick was missed across the reconnect"
    dash.wait_prices_change(timeout=3)
    assert int(dash.chart()["candles"]) >= 100

    # Dark scheme, same page.
    page.emulate_media(color_scheme="dark")
    assert (
        page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(12, 17, 23)"
    )
    page.get_by_role("link", name="SYNTH", exact=True).click()
    dash.wait_chart("SYNTH", "1m", loads=6, min_candles=100)
    _screenshot(page, "dashboard-dark.png")
    assert dash.errors == []

    # API keys required from now on: the page's signed token (no key) still opens /ws (the open
    # page reconnects with a renewed one) and the REST API.
    market.stop("web")
    market.env["API_KEYS_REQUIRED"] = "true"
    market.env["DASHBOARD_PUBLIC"] = "true"  # no sign-in in this browser: the page stays public
    market.start("web")
    dash.wait_live(connects=3, timeout=30)
    dash.wait_prices_change(timeout=3)

    # A phone, keyboard only, arriving with an unknown ticker in the URL.
    phone_context = browser.new_context(
        viewport=PHONE, color_scheme="light", is_mobile=True, has_touch=True
    )
    phone = Dashboard(phone_context.new_page(), market)
    phone.page.goto(f"{base}/?ticker=XYZ")
    assert "Unknown ticker “XYZ”" in phone.page.locator("#chart-message").text_content()
    assert phone.page.locator("#chart-box").get_attribute("data-state") == "unknown"
    phone.wait_live()
    phone.wait_prices_change(timeout=3)
    # Nothing wider than the phone: the table scrolls inside its own box.
    assert phone.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    phone.page.locator("#ticker-table a.sym").first.focus()  # ENERGY
    phone.page.keyboard.press("ArrowDown")
    phone.page.keyboard.press("Enter")
    phone.wait_chart("FINANCE", "1m", loads=1, min_candles=100)
    assert "ticker=FINANCE" in phone.page.url
    bars_requests = [headers for url, headers in phone.api_requests if "/bars/" in url]
    assert bars_requests and all(h.get("x-dashboard-token") for h in bars_requests)
    assert phone.sockets and all("token=" in url for url in phone.sockets)
    assert phone.errors == [] and dash.errors == []
    phone_context.close()
    context.close()


CANDLE_CASES = """async () => {
  const { CandleSeries, bucketStart } = await import('/static/marketsite/js/candles.js');
  const fmt = await import('/static/marketsite/js/format.js');
  const t0 = Date.UTC(2026, 10, 28, 10, 0);
  const s = new CandleSeries('1m');
  // REST rows: prices as strings, ISO times, any order.
  s.setBars([
    {time: '2026-11-28T10:01:00.000Z', open: '101.00', high: '102.00', low: '100.50',
     close: '101.50', volume: 300, trade_count: 3},
    {time: '2026-11-28T10:00:00.000Z', open: '100.00', high: '101.00', low: '99.00',
     close: '100.50', volume: 500, trade_count: 5},
  ]);
  const out = {rest: s.candles()};
  // Live ticks in the newest bucket: union of high/low, close from the newest tick, volume
  // the larger of the bar's and the ticks' (both are lower bounds of the truth).
  s.applyTick({price: 102.5, volume: 40, timestamp: t0 + 60_000 + 30_000, seq: 1});
  s.applyTick({price: 101.2, volume: 40, timestamp: t0 + 60_000 + 20_000, seq: 0});  // older
  out.merged = s.last();
  // A new minute: a new candle opened by the tick.
  s.applyTick({price: 103, volume: 7, timestamp: t0 + 120_000, seq: 2});
  out.opened = s.last();
  // The rollup's bar for the live bucket: its open wins, highs/lows unite, the live close stays.
  s.applyBar({ticker: 'X', timeframe: '1m', time: t0 + 120_000, open: 102.9, high: 103.4,
              low: 102.8, close: 103.1, volume: 90, trade_count: 9, vwap: 103});
  out.settled = s.last();
  out.ignored = s.applyBar({ticker: 'X', timeframe: '5m', time: t0, open: 1, high: 1, low: 1,
                            close: 1, volume: 1, trade_count: 1, vwap: 1});
  out.count = s.length;
  out.day = bucketStart(Date.UTC(2026, 10, 28, 23, 59, 59), '1d') === Date.UTC(2026, 10, 28);
  out.text = [fmt.formatPrice(1234.5), fmt.formatSigned(-0.2), fmt.formatSigned(0.123),
              fmt.formatPercent(-0.3123), fmt.formatPrice(null)];
  return out;
}"""


# Serialized rollback like every transactional test here: a plain flush re-creates content
# types through post_migrate and the next serialized test then fails to restore its snapshot.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_candle_series_merges_bars_and_ticks(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/healthz")
    result = page.evaluate(CANDLE_CASES)
    t0 = 1_795_860_000_000  # 2026-11-28T10:00Z
    assert result["rest"] == [
        {
            "time": t0,
            "open": 100,
            "high": 101,
            "low": 99,
            "close": 100.5,
            "volume": 500,
            "trade_count": 5,
        },
        {
            "time": t0 + 60_000,
            "open": 101,
            "high": 102,
            "low": 100.5,
            "close": 101.5,
            "volume": 300,
            "trade_count": 3,
        },
    ]
    assert result["merged"] == {
        "time": t0 + 60_000,
        "open": 101,
        "high": 102.5,
        "low": 100.5,
        "close": 102.5,
        "volume": 300,
        "trade_count": 3,
    }
    assert result["opened"] == {
        "time": t0 + 120_000,
        "open": 103,
        "high": 103,
        "low": 103,
        "close": 103,
        "volume": 7,
        "trade_count": 1,
    }
    assert result["settled"] == {
        "time": t0 + 120_000,
        "open": 102.9,
        "high": 103.4,
        "low": 102.8,
        "close": 103,
        "volume": 90,
        "trade_count": 9,
    }
    assert result["ignored"] is False and result["count"] == 3 and result["day"] is True
    assert result["text"] == ["1,234.50", "−0.20", "+0.12", "−0.31%", "—"]
    page.close()


# --- Trading sessions: a calendar ticker's state and the chart's closures ---------------------------

SESSION_CASES = """async () => {
  const { Sessions, formatWait } = await import('/static/marketsite/js/sessions.js');
  const { CandleChart } = await import('/static/marketsite/js/chart.js');
  const { CandleSeries } = await import('/static/marketsite/js/candles.js');
  const H = 3_600_000, M = 60_000;
  // a day with a lunch break (session 1), the next day with a pre-market (session 2)
  const s = new Sessions([[9 * H, 11.5 * H, 0, 1], [12.5 * H, 15 * H, 0, 1],
                          [28 * H, 33 * H, 1, 2], [33 * H, 39 * H, 0, 2], [50 * H, 55 * H, 0, 3]]);
  const out = {};
  out.labels = [10 * H, 12 * H, 14 * H + 59 * M, 20 * H, 30 * H, 38 * H, 40 * H]
    .map((t) => s.label(t));
  out.unknown = [s.label(8 * H), s.label(60 * H)];
  out.open = [s.isOpen(10 * H), s.isOpen(12 * H), s.openSince(13 * H), s.openSince(34 * H)];
  out.waits = [formatWait(45_000), formatWait(12 * M + 5_000), formatWait(27 * H)];
  // 3 h of open market back from 30:00 (pre-market since 28:00): 1 h before the close at 15:00
  out.start = s.startFor(30 * H, 3 * H) / H;
  // a chart of 1h candles across the night and the lunch break, drawn while closed
  const box = document.createElement('div');
  box.style.cssText = 'width: 900px; height: 300px';
  document.body.append(box);
  const canvas = document.createElement('canvas');
  box.append(canvas);
  const chart = new CandleChart(canvas, { now: () => 40 * H });
  const series = new CandleSeries('1h');
  const bar = (h) => ({time: h * H, open: 10, high: 11, low: 9, close: 10.5, volume: 5,
                       trade_count: 1});
  series.setBars([9, 10, 11, 12, 13, 14, 28, 29, 30, 33, 34, 35, 36, 37, 38].map(bar));
  chart.setSeries(series, 'X');
  chart.draw();
  out.plain = { ...canvas.dataset };
  chart.setSessions(s);
  chart.draw();
  out.sessions = { ...canvas.dataset };
  return out;
}"""


@pytest.fixture
def calendar_tickers(settings):
    """SYNTH on XNYS, TECH on XNYS with extended hours, the market clock at 06:17:30 in New
    York (the NYSE opens at 9:30; its pre-market runs from 4:00). Before the browser starts
    (the ORM is not for Playwright's event loop)."""
    from datetime import UTC, datetime

    from testsupport.market_clock import market_at
    from ticks.models import Ticker

    market_at(settings, datetime(2026, 12, 1, 11, 17, 30, tzinfo=UTC))
    Ticker.objects.filter(symbol="SYNTH").update(calendar="XNYS")
    Ticker.objects.filter(symbol="TECH").update(calendar="XNYS", extended_hours=True)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_calendar_tickers_session_and_closures(calendar_tickers, browser, live_server):
    page = browser.new_page(viewport=DESKTOP)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/?ticker=SYNTH")
    head = page.locator("#chart-session")
    head.wait_for(state="visible", timeout=10_000)
    assert head.text_content() == "closed, opens in 3 h 12 min"
    badge = "#ticker-table tr[data-ticker={}] .badge.session"
    assert page.locator(badge.format("SYNTH")).text_content() == "closed"
    assert page.locator(badge.format("TECH")).text_content() == "pre"
    assert page.locator(badge.format("TECH")).get_attribute("title") == (
        "pre-market, opens in 3 h 12 min"
    )
    assert page.locator(badge.format("ENERGY")).count() == 0  # 24/7: none
    page.get_by_role("link", name="ENERGY", exact=True).click()
    page.wait_for_function("() => document.querySelector('#chart-session').hidden")

    result = page.evaluate(SESSION_CASES)
    assert result["labels"] == [
        "open, closes in 1 h 30 min",
        "lunch break, opens in 30 min",
        "open, closes in 1 min",
        "closed, pre-market opens in 8 h 0 min",
        "pre-market, opens in 3 h 0 min",
        "open, closes in 1 h 0 min",
        "closed, opens in 10 h 0 min",
    ]
    assert result["unknown"] == ["", ""]  # outside the periods known
    assert result["open"] == [True, False, 12.5 * 3_600_000, 28 * 3_600_000]
    assert result["waits"] == ["45 s", "12 min", "1 d 3 h"]
    assert result["start"] == 14
    # 24/7: the candles side by side; with sessions, a shaded slot for the night and for the
    # lunch break, and one at the right edge (closed at 40:00)
    assert (result["plain"]["candles"], result["plain"]["closures"]) == ("15", "0")
    assert result["sessions"]["candles"] == "15" and result["sessions"]["closures"] == "3"
    assert errors == []
    page.close()


# --- The Content-Security-Policy in force ------------------------------------------------------------

# Reported by the page itself (an init script runs before the page's own and is not subject to its
# policy), besides the console's "Refused to ... Content Security Policy" lines.
REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} ` +
                `at ${e.sourceFile}:${e.lineNumber}`));"""
ADMIN_USER, ADMIN_PASSWORD = "csp-admin", "csp-test-Passw0rd-" + secrets.token_hex(4)


@pytest.fixture
def production_market():
    """Daphne under config.settings.production (plain HTTP, as compose serves it) with the
    generator and beat, on an hour of backfilled history and with one admin user."""
    stack = Stack(
        database_url=shared_database_url(),
        redis_url=SHARED_REDIS,
        web_port=free_port(),
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SESSION_COOKIE_SECURE": "false",
            "DJANGO_CSRF_COOKIE_SECURE": "false",
            "LOG_FORMAT": "text",
        },
    )
    try:
        for args in (
            ["backfill", "--hours", "1", "--no-progress"],
            [
                "createsuperuser",
                "--noinput",
                "--username",
                ADMIN_USER,
                "--email",
                "csp@example.com",
            ],
        ):
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                check=True,
                env={**stack.env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
                capture_output=True,
                timeout=180,
            )
        stack.start("web", "generator", "beat")
        stack.wait_for(
            lambda: _answers(f"http://127.0.0.1:{stack.web_port}/healthz"),
            timeout=30,
            what="daphne answering",
        )
        yield stack
    finally:
        stack.close()


def _strict_policy(response) -> str:
    """The page's Content-Security-Policy header, checked to forbid inline code."""
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    return policy


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pages_work_under_the_production_csp(production_market, browser):
    base = f"http://127.0.0.1:{production_market.web_port}"
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    dash = Dashboard(page, production_market)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

    def violations() -> list[str]:
        return [t for t in console if "Content Security Policy" in t or "CSP violation" in t]

    # The dashboard: live over /ws, the chart drawn from the REST bars.
    _strict_policy(page.goto(f"{base}/?ticker=SYNTH"))
    dash.wait_live()
    dash.wait_chart("SYNTH", "1m", loads=1, min_candles=30)
    dash.wait_prices_change(timeout=5)

    # Swagger UI: every operation rendered, and one of them run from the page.
    _strict_policy(page.goto(f"{base}/api/v1/docs/"))
    page.wait_for_selector("#swagger-ui .opblock", timeout=15_000)
    assert page.locator("#swagger-ui .opblock").count() == 8
    time_op = page.locator("#swagger-ui .opblock").filter(has_text="/api/v1/time")
    time_op.locator(".opblock-summary").first.click()
    time_op.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/time")) as answer:
        time_op.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    time_op.locator(".responses-table .response-col_status").first.wait_for(timeout=10_000)

    # The admin: sign in, then a change list with its actions and filters (the admin's scripts).
    _strict_policy(page.goto(f"{base}/admin/login/"))
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("#site-name").is_visible()
    page.set_viewport_size({"width": 1366, "height": 768})  # a laptop's screen
    _strict_policy(page.goto(f"{base}/admin/ticks/ticker/"))
    # The change list fits: no column cut off at the right edge, no sideways scrolling.
    right, scroll_width, width = page.evaluate(
        "() => [document.querySelector('#result_list').getBoundingClientRect().right, "
        "document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert right <= width and scroll_width <= width, (right, scroll_width, width)
    page.locator("#action-toggle").check()  # admin/js/actions.js selects every row
    assert page.locator("input.action-select:checked").count() == 5
    assert page.locator(".action-counter").inner_text().startswith("5 of 5")

    assert violations() == [], violations()
    assert dash.errors == [], dash.errors
    context.close()

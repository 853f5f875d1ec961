"""``manage.py market_report`` and ``manage.py demo_tickers`` on a small stored dataset."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ticks.models import Bar, Ticker

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, **options) -> str:
    out = StringIO()
    call_command("market_report", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def minute_market():
    """Three days of one tick a minute (so one tick per 1m bar) for a stochastic ticker with
    jumps and for the seeded SYNTH (plain GBM), backfilled and rolled up."""
    Ticker.objects.filter(symbol="SYNTH").update(tick_interval_ms=60_000)
    Ticker.objects.create(
        symbol="MINI", name="Minute SV", sector="Demo", start_price="100.00", drift=0.05,
        volatility=0.3, min_price="1.00", max_price="10000.00", tick_interval_ms=60_000,
        seed=5, volatility_model="stochastic", vol_of_vol=0.7, leverage=-0.7, jump_rate=2000,
        jump_mean=-0.003, jump_spread=0.005,
    )  # fmt: skip
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    call_command(
        "backfill", days=3, tickers="MINI,SYNTH", end=end.isoformat(), no_progress=True,
        stdout=StringIO(),
    )  # fmt: skip
    assert Bar.objects.filter(timeframe="1m", ticker__symbol="MINI").count() > 4000


def test_the_report_prints_every_measure_next_to_its_target(minute_market, tmp_path):
    plot = tmp_path / "report.png"
    text = run(tickers="mini,SYNTH", days="4", plot=str(plot))
    mini, synth = text.split("\nSYNTH")
    assert "MINI (stochastic volatility)" in mini and "(constant volatility)" in synth
    for measure in (
        "realized volatility (annualized)", "excess kurtosis", "Hill tail index of |r| (top 1%)",
        "ACF of r, lag 1", "ACF of r, lag 5", "ACF of |r|, lag 1 min", "ACF of |r|, lag 10 min",
        "ACF of |r|, lag 100 min", "leverage corr(r, |r| next 10 min)", "corr(volume, |r|)",
    ):  # fmt: skip
        assert measure in mini and measure in synth, measure

    def verdict(block, measure):
        line = next(line for line in block.splitlines() if measure in line)
        return line.split()[-1]

    # the stochastic ticker shows the stylized facts that plain GBM lacks
    for measure in ("excess kurtosis", "ACF of |r|, lag 1 min", "corr(volume, |r|)"):
        assert verdict(mini, measure) == "pass", measure
        assert verdict(synth, measure) == ("pass" if measure == "corr(volume, |r|)" else "FAIL")
    assert verdict(synth, "realized volatility") == "pass"
    assert "targets met" in mini
    assert plot.read_bytes()[:8] == PNG_MAGIC and plot.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tickers": "NOPE"}, "Unknown ticker(s): NOPE"),
        ({"days": "0"}, "--days must be more than 0"),
        ({"days": "-3"}, "--days must be more than 0"),
        ({"days": "soon"}, "--days must be a number of days, got 'soon'"),
        ({"days": "nan"}, "--days must be more than 0"),
        ({"plot": "report.jpg"}, "--plot writes a PNG file"),
        ({"plot": "/no/such/folder/x.png"}, "--plot: the folder /no/such/folder does not exist"),
        ({"tickers": "SYNTH"}, "Not enough 1-minute bars in the last 1 day(s) for SYNTH"),
    ],
)
def test_bad_input_is_a_clear_error(options, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(**options)


def test_demo_tickers_are_created_once():
    out = StringIO()
    call_command("demo_tickers", stdout=out)
    assert out.getvalue().splitlines() == ["SVJ: created", "SVOL: created"]
    svj = Ticker.objects.get(symbol="SVJ")
    assert (svj.volatility_model, svj.jump_rate > 0, svj.sector) == ("stochastic", True, "Demo")
    Ticker.objects.filter(symbol="SVJ").update(name="Renamed")
    out = StringIO()
    call_command("demo_tickers", stdout=out)
    assert out.getvalue().splitlines() == [
        "SVJ: already there, unchanged",
        "SVOL: already there, unchanged",
    ]
    assert Ticker.objects.get(symbol="SVJ").name == "Renamed"
    assert Ticker.objects.filter(sector="Demo").count() == 2

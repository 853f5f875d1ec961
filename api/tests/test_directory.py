"""The ticker directory's cache: explicit invalidation, no guessing whether a test runs."""

import pytest

from api.directory import directory
from ticks.models import Ticker

pytestmark = pytest.mark.django_db


def test_the_directory_is_cached(django_assert_num_queries):
    directory.all()
    with django_assert_num_queries(0):
        assert directory.get("SYNTH").symbol == "SYNTH"
        assert {info.symbol for info in directory.all()} >= {"SYNTH", "TECH"}


def test_an_edit_in_this_process_is_served_at_once_even_before_its_commit():
    assert directory.get("SYNTH").name != "Renamed"
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.name = "Renamed"
    synth.save()  # the version moves only on commit (never, in this test's transaction)
    assert directory.get("SYNTH").name == "Renamed"
    synth.delete()
    assert directory.get("SYNTH") is None


def test_a_new_ticker_is_found_on_a_miss():
    directory.all()
    new = Ticker(
        symbol="NEWCO",
        name="New Co",
        sector="Tech",
        start_price="10.00",
        min_price="1.00",
        max_price="100.00",
        drift=0.0,
        volatility=0.2,
    )
    Ticker.objects.bulk_create([new])  # no post_save: the cache is not told
    assert directory.get("newco").symbol == "NEWCO"


def test_an_edit_in_another_process_is_served_within_one_generation_cycle(client, settings):
    """Another process's edit reaches this one through the version counter: by the time the
    generator (which reads it every cycle) applies the edit, /tickers shows it too."""
    import time

    from ticks.config_version import bump_config_version

    assert client.get("/api/v1/tickers").status_code == 200  # cached, version read
    Ticker.objects.filter(symbol="SYNTH").update(name="Edited elsewhere")  # no signal here
    bump_config_version()  # what the other process's commit does
    time.sleep(settings.GENERATE_INTERVAL_MS / 1000 + 0.02)
    synth = next(t for t in client.get("/api/v1/tickers").json()["data"] if t["ticker"] == "SYNTH")
    assert synth["name"] == "Edited elsewhere"

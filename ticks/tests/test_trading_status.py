"""Trading status changes are announced once committed, whichever way a ticker is (de)activated
(``ticks.trading_status``), and written in Alpaca's shape (``ticks.alpaca_shapes``)."""

import pytest

from ticks import announce
from ticks.alpaca_shapes import trading_status_fields
from ticks.models import Ticker
from ticks.payloads import STATUS_HALTED, STATUS_TRADING, StatusPayload
from ticks.services import tickers_set_active

pytestmark = pytest.mark.django_db


class Heard:
    def __init__(self) -> None:
        self.statuses: list[StatusPayload] = []

    def on_statuses(self, statuses) -> None:
        self.statuses += statuses


@pytest.fixture
def heard():
    listener = Heard()
    announce.register(listener)
    yield listener
    announce.unregister(listener)


def test_the_admin_actions_announce_after_the_commit(heard, django_capture_on_commit_callbacks):
    tech = Ticker.objects.get(symbol="TECH")
    with django_capture_on_commit_callbacks(execute=True):
        assert tickers_set_active(ids=[tech.pk], active=False) == 1
        assert heard.statuses == []  # not before the commit
    assert [(s.ticker, s.status) for s in heard.statuses] == [("TECH", STATUS_HALTED)]
    with django_capture_on_commit_callbacks(execute=True):
        tickers_set_active(ids=[tech.pk], active=False)  # no change: nothing announced
        tickers_set_active(ids=[tech.pk], active=True)
    assert [(s.ticker, s.status) for s in heard.statuses[1:]] == [("TECH", STATUS_TRADING)]


def test_a_save_that_changes_is_active_announces(heard, django_capture_on_commit_callbacks):
    synth = Ticker.objects.get(symbol="SYNTH")
    with django_capture_on_commit_callbacks(execute=True):
        synth.name = "Renamed"
        synth.save()  # is_active unchanged
        synth.is_active = False
        synth.save()
    assert [(s.ticker, s.status) for s in heard.statuses] == [("SYNTH", STATUS_HALTED)]


def test_alpaca_trading_status_fields():
    halted = StatusPayload("SYNTH", STATUS_HALTED, 1)
    assert trading_status_fields(halted, "T") == {
        "t": "T",
        "sc": "H",
        "sm": "Trading Halt",
        "rc": "O1",
        "rm": "Operations Halt; Contact Market Operations",
        "z": "C",
    }
    trading = trading_status_fields(StatusPayload("SYNTH", STATUS_TRADING, 1), "T")
    assert (trading["sc"], trading["sm"], trading["rc"], trading["rm"]) == (
        "T",
        "Trading Resumption",
        "",
        "",
    )

"""The market settings' system check (ticks.checks): ``manage.py check`` (and so ``migrate`` and
``make run``) stops with the reason on a bad MARKET_CALENDAR or MARKET_CLOCK_OFFSET_SECONDS."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings


def check_output(capsys) -> str:
    call_command("check")
    return capsys.readouterr().out


@pytest.mark.parametrize("calendar", ["24/7", "XNYS", "XTKS"])
def test_good_settings_pass(capsys, calendar):
    with override_settings(MARKET_CALENDAR=calendar, MARKET_CLOCK_OFFSET_SECONDS=-86_400.5):
        assert "no issues" in check_output(capsys)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"MARKET_CALENDAR": "NYSE"}, "MARKET_CALENDAR='NYSE': unknown calendar 'NYSE'"),
        ({"MARKET_CALENDAR": "ASEX"}, "calendar ASEX cannot be used"),  # the library fails it
        ({"MARKET_CLOCK_OFFSET_SECONDS": float("inf")}, "must be a finite number"),
        ({"MARKET_CLOCK_OFFSET_SECONDS": float("nan")}, "must be a finite number"),
        ({"MARKET_CLOCK_OFFSET_SECONDS": "soon"}, "MARKET_CLOCK_OFFSET_SECONDS='soon'"),
    ],
)
def test_bad_settings_stop_the_check_with_the_reason(overrides, message):
    with override_settings(**overrides), pytest.raises(SystemCheckError) as failed:
        call_command("check")
    assert message in str(failed.value)

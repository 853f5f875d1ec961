"""What the /ws tests share: reading messages, checking the connection is still usable, typed
errors, recent ticks."""

import time

from .conftest import tick


def data(message: dict) -> dict:
    assert message["type"] in ("tick", "bar"), message
    return message["data"]


def seqs(messages) -> list[tuple[str, int]]:
    return [(m["data"]["ticker"], m["data"]["seq"]) for m in messages if m["type"] == "tick"]


def now_ms() -> int:
    return int(time.time() * 1000)


async def usable(client) -> None:
    """The connection still answers after an error."""
    await client.send_json_to({"type": "ping"})
    assert (await client.receive_json_from())["type"] == "pong"


def _create_ticker(symbol: str) -> None:
    from ticks.models import Ticker

    Ticker.objects.create(
        symbol=symbol,
        name=f"{symbol} Inc",
        sector="Technology",
        start_price=100,
        drift=0.05,
        volatility=0.2,
        min_price=10,
        max_price=1000,
    )


async def expect_error(client, code: str, raw=None, message=None) -> dict:
    if raw is not None:
        await client.send_to(text_data=raw)
    else:
        await client.send_json_to(message)
    error = await client.receive_json_from()
    assert error["type"] == "error" and error["code"] == code, error
    assert error["message"]
    await usable(client)
    return error


def recent(symbol: str, first: int, last: int) -> list[dict]:
    """Ticks ``first..last`` ending about now, 100 ms apart."""
    end = now_ms() - now_ms() % 100
    return [tick(symbol, s, end - 100 * (last - s)) for s in range(first, last + 1)]

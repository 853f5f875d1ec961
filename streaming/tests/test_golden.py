"""Golden ``/ws`` frames: the live generator at fixed seeds and fixed times feeds the consumer;
every frame a client receives is kept as text, byte for byte (the connection's own id and the
server's clock excepted). A refactoring must leave them identical; a deliberate change re-records
them (``GOLDEN_RECORD=1``) and says so in its commit."""

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.refresh import bars_refresh

from .conftest import asynctest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
GOLDEN = Path(__file__).parent / "golden" / "ws.json"
UTC = UTC
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
# Per connection and per clock: the only parts of a frame that may differ between runs.
VOLATILE = (re.compile(r'"clientId":"[^"]*"'), re.compile(r'"timestamp":\d{13}(?=[,}]\s*$|})'))


def steady(frame: str) -> str:
    frame = VOLATILE[0].sub('"clientId":"*"', frame)
    if '"type":"connected"' in frame or '"type":"pong"' in frame:
        frame = re.sub(r'"timestamp":\d+', '"timestamp":"*"', frame)
    return frame


async def generate(*offsets_ms: int) -> None:
    for offset in offsets_ms:
        await sync_to_async(ticks_generate)(now=T0 + timedelta(milliseconds=offset))


async def drain(client, *, timeout: float = 0.3) -> list[str]:
    out = []
    while not await client.receive_nothing(timeout=timeout):
        out.append(steady(await client.receive_from()))
    return out


async def conversation() -> dict[str, list[str]]:
    from config.asgi import application

    frames: dict[str, list[str]] = {}
    await generate(0, 500, 1000)  # ticks in Redis (replay) before anyone connects
    plain = WebsocketCommunicator(application, "/ws")
    batched = WebsocketCommunicator(application, "/ws")
    try:
        assert (await plain.connect())[0] and (await batched.connect())[0]
        frames["connected"] = await drain(plain)
        await drain(batched)
        await plain.send_to(
            json.dumps({"type": "subscribe", "tickers": ["synth", "TECH"], "since": T0_MS + 300})
        )
        frames["subscribe with since (replay)"] = await drain(plain)
        await batched.send_to(
            json.dumps(
                {"type": "subscribe", "tickers": "*", "batch": True, "channels": ["ticks", "bars"]}
            )
        )
        frames["subscribe all, batched"] = await drain(batched)
        await generate(1500, 2000)
        frames["live ticks"] = await drain(plain)
        frames["live ticks, batched"] = await drain(batched)
        await sync_to_async(ticks_flush)()
        await sync_to_async(bars_refresh)()
        frames["bars, batched"] = await drain(batched)
        for name, message in (
            ("unknown ticker", {"type": "subscribe", "tickers": ["SYNTH", "NOPE"]}),
            ("action instead of type", {"action": "subscribe", "tickers": ["SYNTH"]}),
            ("unknown type", {"type": "dance"}),
            ("ping", {"type": "ping"}),
            ("unsubscribe", {"type": "unsubscribe", "tickers": ["TECH"]}),
        ):
            await plain.send_to(json.dumps(message))
            frames[name] = await drain(plain)
        await plain.send_to("not json")
        frames["not json"] = await drain(plain)
        await generate(2500)
        frames["after unsubscribing TECH"] = await drain(plain)
    finally:
        await plain.disconnect()
        await batched.disconnect()
    return frames


def fixed_clock():
    """``time.time`` running from T0 + 3 s at the wall clock's pace (the replay window and the
    frames' server times are read from it)."""
    started, real = time.monotonic(), time.time

    def now() -> float:
        return T0.timestamp() + 3 + (time.monotonic() - started)

    assert real() > now(), "T0 lies in the past"
    return mock.patch("time.time", side_effect=now)


@asynctest
async def test_ws_frames_are_unchanged(market):
    with fixed_clock():
        found = await conversation()
    if os.environ.get("GOLDEN_RECORD"):
        GOLDEN.write_text(json.dumps(found, indent=1) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert list(found) == list(expected)
    for step in expected:
        assert found[step] == expected[step], step

"""What the live pipeline's tests read back: the replay stream, the stored ticks, and the wire
ticks as stored rows."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from ticks.live_store import KEYS
from ticks.models import Tick

UTC = UTC


def replay(r, symbol):
    return [json.loads(fields[b"d"]) for _, fields in r.xrange(KEYS.replay(symbol))]


def db_ticks(symbol):
    return list(
        Tick.objects.filter(ticker__symbol=symbol)
        .order_by("time")
        .values_list("seq", "time", "price", "bid", "ask", "volume")
    )


def as_db_rows(ticks):
    return [
        (
            t["seq"],
            datetime.fromtimestamp(t["timestamp"] / 1000, UTC),
            Decimal(str(t["price"])).quantize(Decimal("0.01")),
            Decimal(str(t["bid"])).quantize(Decimal("0.01")),
            Decimal(str(t["ask"])).quantize(Decimal("0.01")),
            t["volume"],
        )
        for t in ticks
    ]

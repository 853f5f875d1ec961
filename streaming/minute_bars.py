"""When a streamed minute bar is closed: the dialect-neutral rule of the Alpaca (``T: "b"``)
and Massive (``AM``) streams, kept by each dialect's hub observer.

The bar refresh publishes the open bar and the one just closed as they change (``/ws`` bar
dicts, ``streaming.publish.bar_wire``). A minute bar is closed when a later bar of the same
ticker appears: the ticks reach the database in time order, so by then the closed bar holds all
its ticks (about 1-3 s after the minute, the flush and refresh cadence). The first bars seen of
a ticker (after the process subscribed) only start the tracking.
"""

from ticks.payloads import BarPayload


def bar_payload(bar: dict) -> BarPayload:
    """A published bar (``/ws`` bar dict) as the domain's payload."""
    return BarPayload(
        bar["ticker"],
        bar["timeframe"],
        bar["time"],
        bar["open"],
        bar["high"],
        bar["low"],
        bar["close"],
        bar["volume"],
        bar["trade_count"],
        bar["vwap"],
    )


class MinuteCloses:
    def __init__(self) -> None:
        self.open: dict[str, BarPayload] = {}  # ticker -> its newest minute bar (not closed)

    def reset(self) -> None:
        self.open.clear()

    def feed(self, bars: list[dict]) -> tuple[list[BarPayload], list[BarPayload]]:
        """The minute bars of one bar update -> (bars closed by it, in order; bars of minutes
        before a ticker's open one, i.e. changes to bars already closed)."""
        by_symbol: dict[str, list[BarPayload]] = {}
        for bar in bars:
            if bar["timeframe"] == "1m":
                by_symbol.setdefault(bar["ticker"], []).append(bar_payload(bar))
        closed, late = [], []
        for symbol, symbol_bars in by_symbol.items():
            symbol_bars.sort(key=lambda b: b.time_ms)
            if symbol not in self.open:
                self.open[symbol] = symbol_bars[-1]
                continue
            for bar in symbol_bars:
                current = self.open[symbol]
                if bar.time_ms == current.time_ms:
                    self.open[symbol] = bar
                elif bar.time_ms > current.time_ms:
                    closed.append(current)
                    self.open[symbol] = bar
                else:
                    late.append(bar)
        return closed, late

"""Scenario events: validation and writes (``event_plan``, ``event_create``, ``event_cancel``),
reads (``event_list``, ``event_schedule``) and the halts now in force (``halt_at``).

An event is part of the market's configuration. Its ``start`` is set here, at or after the
newest generated tick of every ticker it touches plus ``EVENT_LEAD_MS`` (so the live generator
has reloaded its configuration before it reaches it: the event never rewrites a generated tick),
its scope is resolved into the tickers it touches once, at creation, and it never changes
afterwards; a future event can be cancelled, a running halt ended early by a ``resume`` (itself
an event). So catch-up, regeneration and backfill, which read the same events, reproduce the
same ticks. What each kind does to the path is ``ticks.engine.events``'.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from .config_version import bump_config_version
from .engine.events import GAP, HALT, MOVE, VOLATILITY, EventSchedule
from .event_cycle import fence_event
from .live_store import KEYS, LiveState
from .market import from_ms, to_ms
from .market_time import market_now
from .models import EventKind, EventScope, MarketEvent, Ticker
from .payloads import STATUS_HALTED, STATUS_TRADING
from .redis_store import get_redis, key
from .selectors import ticker_list_with_last_tick

logger = logging.getLogger(__name__)

#: An event starts at least this long after the newest tick of every ticker it touches (and
#: after now): the time the live generator needs to see it (one cycle, then a reload).
EVENT_LEAD_MS = 1000
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=7)
MOVE_PCT = (-90.0, 500.0)  # a move's change, percent
GAP_PCT = (-50.0, 100.0)  # a gap's change, percent
VOL_FACTOR = (0.1, 20.0)
DEFAULT_HALT_REASON = "scheduled halt"
ENGINE_KIND = {
    EventKind.MOVE: MOVE,
    EventKind.GAP: GAP,
    EventKind.VOLATILITY: VOLATILITY,
    EventKind.HALT: HALT,
}


def halts_key() -> str:
    """symbol -> JSON ``[[start_ms, end_ms, reason], ...]``: the halts not over a day ago."""
    return key("events", "halts")


@dataclass
class EventPlan:
    """A validated event, ready to be written."""

    kind: str
    scope: str
    sector: str
    ticker: Ticker | None
    change_pct: float | None
    vol_factor: float | None
    start: datetime
    end: datetime
    reason: str
    tickers: list[Ticker] = field(default_factory=list)


@dataclass(frozen=True)
class HaltWindow:
    """A halt of one ticker as it will happen: ``[start_ms, end_ms)`` (a resume cut it)."""

    ticker_id: int
    symbol: str
    start_ms: int
    end_ms: int
    reason: str
    event_id: int


# --------------------------------------------------------------------------------------------------
# validation


def _scope_tickers(scope: str, sector: str, ticker: Ticker | None) -> list[Ticker]:
    qs = ticker_list_with_last_tick().order_by("pk")
    if scope == EventScope.MARKET:
        return list(qs)
    if scope == EventScope.SECTOR:
        return list(qs.filter(sector=sector))
    return list(qs.filter(pk=ticker.pk))


def _newest_ticks(tickers: list[Ticker]) -> dict[int, tuple[int | None, float | None]]:
    """Per ticker: (time_ms of its newest generated tick, its price), from the live state in
    Redis and the database, whichever is newer."""
    out: dict[int, tuple[int | None, float | None]] = {}
    try:
        client = get_redis()
        states = client.hmget(KEYS.state, [str(t.pk) for t in tickers]) if tickers else []
        quotes = client.hmget(KEYS.quotes, [t.symbol for t in tickers]) if tickers else []
    except redis.RedisError:
        states, quotes = [None] * len(tickers), [None] * len(tickers)
    for t, state, quote in zip(tickers, states, quotes):
        stored = to_ms(t.last_tick_time) if t.last_tick_time is not None else None
        price = float(t.last_price) if t.last_price is not None else None
        live = LiveState.loads(state).time_ms if state else None
        newest = max((v for v in (stored, live) if v is not None), default=None)
        if quote:
            try:
                price = float(orjson.loads(quote)["price"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        out[t.pk] = (newest, price)
    return out


def _earliest_start_ms(tickers: list[Ticker], newest: dict, now: datetime) -> int:
    latest = max([to_ms(now)] + [n for n, _ in newest.values() if n is not None])
    return latest + EVENT_LEAD_MS


def _check_size(kind: str, change_pct, vol_factor, duration, errors: dict) -> None:
    if kind in (EventKind.MOVE, EventKind.GAP):
        lo, hi = MOVE_PCT if kind == EventKind.MOVE else GAP_PCT
        if change_pct is None:
            errors["change_pct"] = f"A {kind} needs its change in percent ({lo:g} to {hi:g})."
        elif not math.isfinite(change_pct) or not lo <= change_pct <= hi or change_pct == 0:
            errors["change_pct"] = (
                f"A {kind}'s change must be between {lo:g}% and {hi:g}% and not 0, "
                f"got {change_pct:g}."
            )
    elif change_pct is not None:
        errors["change_pct"] = f"A {kind} has no change in percent; leave it blank."
    if kind == EventKind.VOLATILITY:
        lo, hi = VOL_FACTOR
        if vol_factor is None:
            errors["vol_factor"] = f"A volatility spike needs its factor ({lo:g} to {hi:g})."
        elif not math.isfinite(vol_factor) or not lo <= vol_factor <= hi or vol_factor == 1:
            errors["vol_factor"] = (
                f"The volatility factor must be between {lo:g} and {hi:g} and not 1, "
                f"got {vol_factor:g}."
            )
    elif vol_factor is not None:
        errors["vol_factor"] = f"A {kind} has no volatility factor; leave it blank."
    windowed = kind in (EventKind.MOVE, EventKind.VOLATILITY, EventKind.HALT)
    if windowed:
        if duration is None:
            errors["duration"] = f"A {kind} needs a duration."
        elif not MIN_DURATION <= duration <= MAX_DURATION:
            errors["duration"] = "The duration must be between 1 second and 7 days."
    elif duration is not None and duration != timedelta(0):
        errors["duration"] = f"A {kind} is instantaneous; leave the duration blank."


def event_plan(
    *,
    kind: str,
    scope: str,
    sector: str = "",
    ticker: Ticker | None = None,
    change_pct: float | None = None,
    vol_factor: float | None = None,
    duration: timedelta | None = None,
    start: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> EventPlan:
    """Validate an event and fix its start, end and tickers; ``ValidationError`` (by field)
    when it cannot be created. Reads, writes nothing."""
    now = now or market_now()
    errors: dict[str, str] = {}
    if kind not in EventKind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}: one of {EventKind.values}."})
    if scope not in EventScope.values:
        raise ValidationError({"scope": f"Unknown scope {scope!r}: one of {EventScope.values}."})
    sector = (sector or "").strip()
    if scope == EventScope.SECTOR:
        if not sector:
            errors["sector"] = "A sector event needs the sector's name."
        elif not Ticker.objects.filter(sector=sector).exists():
            errors["sector"] = f"No ticker is in the sector {sector!r}."
    elif sector:
        errors["sector"] = "Only a sector event names a sector."
    if scope == EventScope.TICKER and ticker is None:
        errors["ticker"] = "A ticker event needs its ticker."
    elif scope != EventScope.TICKER and ticker is not None:
        errors["ticker"] = "Only a ticker event names a ticker."
    _check_size(kind, change_pct, vol_factor, duration, errors)
    if errors:
        raise ValidationError(errors)

    tickers = _scope_tickers(scope, sector, ticker)
    if not tickers:
        raise ValidationError("The event touches no ticker.")
    newest = _newest_ticks(tickers)
    earliest = _earliest_start_ms(tickers, newest, now)
    if start is None or to_ms(start) < earliest:
        start_ms = -(-earliest // 1000) * 1000  # as soon as possible: the next whole second
    else:
        start_ms = to_ms(start)
    length = duration if kind in (EventKind.MOVE, EventKind.VOLATILITY, EventKind.HALT) else None
    end_ms = start_ms + (int(length / timedelta(milliseconds=1)) if length else 0)
    if kind == EventKind.GAP:
        _check_gap_bounds(tickers, newest, change_pct)
    if kind == EventKind.HALT:
        _check_no_overlap(tickers, start_ms, end_ms)
    if kind == EventKind.RESUME:
        tickers = _halted_at(tickers, start_ms)
    return EventPlan(
        kind=kind,
        scope=scope,
        sector=sector,
        ticker=ticker,
        change_pct=change_pct,
        vol_factor=vol_factor,
        start=from_ms(start_ms),
        end=from_ms(end_ms),
        reason=(reason or "").strip(),
        tickers=tickers,
    )


def _check_gap_bounds(tickers: list[Ticker], newest: dict, change_pct: float) -> None:
    problems = []
    for t in tickers:
        price = newest[t.pk][1]
        price = float(t.start_price) if price is None else price
        after = price * (1 + change_pct / 100)
        if after > float(t.max_price):
            problems.append(
                f"{t.symbol} {price:.2f} → {after:.2f}, above its max price {t.max_price}"
            )
        elif after < float(t.min_price):
            problems.append(
                f"{t.symbol} {price:.2f} → {after:.2f}, below its min price {t.min_price}"
            )
    if problems:
        raise ValidationError(
            {
                "change_pct": f"A gap of {change_pct:+g}% would cross a price bound: "
                + "; ".join(problems[:5])
                + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
                + "."
            }
        )


def _check_no_overlap(tickers: list[Ticker], start_ms: int, end_ms: int) -> None:
    ids = {t.pk for t in tickers}
    clashes = sorted(
        {
            w.symbol
            for w in halt_windows(ticker_ids=ids)
            if w.start_ms < end_ms and start_ms < w.end_ms
        }
    )
    if clashes:
        raise ValidationError(
            {"duration": "It would overlap another halt of " + ", ".join(clashes[:10]) + "."}
        )


def _halted_at(tickers: list[Ticker], start_ms: int) -> list[Ticker]:
    ids = {
        w.ticker_id
        for w in halt_windows(ticker_ids={t.pk for t in tickers})
        if w.start_ms < start_ms < w.end_ms
    }
    if not ids:
        raise ValidationError(
            f"No halt of these tickers is running at {from_ms(start_ms).isoformat()}: "
            "a resume ends a running halt early."
        )
    return [t for t in tickers if t.pk in ids]


# --------------------------------------------------------------------------------------------------
# writes


def event_create(**kwargs) -> MarketEvent:
    """Validate (``event_plan``'s arguments) and write an event; the live market applies it
    from its start. ``ValidationError`` and nothing written when it cannot be."""
    with transaction.atomic():
        # one event at a time per market: two halts created at once cannot both pass the
        # overlap check, and the starts are computed against what is committed
        list(Ticker.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        plan = event_plan(**kwargs)
        event = MarketEvent.objects.create(
            kind=plan.kind,
            scope=plan.scope,
            sector=plan.sector,
            ticker=plan.ticker,
            change_pct=plan.change_pct,
            vol_factor=plan.vol_factor,
            start=plan.start,
            end=plan.end,
            reason=plan.reason,
        )
        event.tickers.set(plan.tickers)
        transaction.on_commit(lambda: events_changed(event))
    logger.info(
        "event %s created: %s on %d ticker(s) from %s",
        event.pk,
        event.kind,
        len(plan.tickers),
        event.start.isoformat(),
    )
    return event


def event_cancel(*, event: MarketEvent, now: datetime | None = None) -> None:
    """Cancel an event that has not started (with the lead the generator needs to see it)."""
    now = now or market_now()
    with transaction.atomic():
        event = MarketEvent.objects.select_for_update().get(pk=event.pk)
        if event.cancelled_at is not None:
            raise ValidationError("This event is already cancelled.")
        tickers = list(
            ticker_list_with_last_tick().filter(pk__in=event.tickers.values("pk")).order_by("pk")
        )
        earliest = _earliest_start_ms(tickers, _newest_ticks(tickers), now)
        if to_ms(event.start) < earliest:
            raise ValidationError(
                "This event has started (or is about to): it is part of the market's history "
                "now. End a running halt with a resume event instead."
            )
        event.cancelled_at = now
        event.save(update_fields=["cancelled_at"])
        transaction.on_commit(lambda: events_changed(None))


def events_changed(event: MarketEvent | None) -> None:
    """After an event is written: the generator holds before a new one's start until it has
    reloaded (``ticks.event_cycle``), the halts in force, and the config reload."""
    try:
        if event is not None:
            fence_event(event_id=event.pk, start_ms=to_ms(event.start))
        halts_publish()
    except Exception:
        logger.warning("could not publish the event to Redis", exc_info=True)
    bump_config_version()


# --------------------------------------------------------------------------------------------------
# reads


def _live_events(since: datetime | None = None):
    since = since or market_now() - timedelta(days=settings.TICK_RETENTION_DAYS + 1)
    return (
        MarketEvent.objects.filter(cancelled_at__isnull=True, end__gte=since)
        .prefetch_related("tickers")
        .order_by("start", "pk")
    )


def halt_windows(*, ticker_ids=None, events=None) -> list[HaltWindow]:
    """Each ticker's halts as they happen (a resume cuts a halt at its start)."""
    events = list(_live_events()) if events is None else events
    resumes: dict[int, list[int]] = {}
    for ev in events:
        if ev.kind == EventKind.RESUME:
            for t in ev.tickers.all():
                resumes.setdefault(t.pk, []).append(to_ms(ev.start))
    out = []
    for ev in events:
        if ev.kind != EventKind.HALT:
            continue
        start, end = to_ms(ev.start), to_ms(ev.end)
        for t in ev.tickers.all():
            if ticker_ids is not None and t.pk not in ticker_ids:
                continue
            cut = min([r for r in resumes.get(t.pk, ()) if start < r < end], default=end)
            reason = ev.reason or DEFAULT_HALT_REASON
            out.append(HaltWindow(t.pk, t.symbol, start, cut, reason, ev.pk))
    return out


def event_schedule(tickers, *, events=None) -> tuple[EventSchedule, list[HaltWindow]]:
    """The engine's schedule for ``tickers`` (rows in their order) and their halts."""
    events = list(_live_events()) if events is None else events
    row_of = {t.pk: i for i, t in enumerate(tickers)}
    effects = []
    for ev in events:
        kind = ENGINE_KIND.get(ev.kind)
        if kind is None or kind == HALT:
            continue
        value = ev.vol_factor if kind == VOLATILITY else ev.change_pct / 100
        for t in ev.tickers.all():
            if t.pk in row_of:
                effects.append((row_of[t.pk], kind, to_ms(ev.start), to_ms(ev.end), value))
    halts = [w for w in halt_windows(ticker_ids=set(row_of), events=events)]
    effects += [(row_of[w.ticker_id], HALT, w.start_ms, w.end_ms, 0.0) for w in halts]
    return EventSchedule.from_effects(effects), halts


def event_list(*, ticker: str | None = None, active: bool | None = None, now: datetime):
    """Events, oldest start first, optionally of one ticker (symbol) and active (not cancelled
    and not over) or not."""
    qs = MarketEvent.objects.select_related("ticker").prefetch_related("tickers")
    if ticker is not None:
        qs = qs.filter(tickers__symbol=ticker)
    if active is True:
        qs = qs.filter(cancelled_at__isnull=True, end__gte=now)
    elif active is False:
        qs = qs.exclude(cancelled_at__isnull=True, end__gte=now)
    return list(qs.order_by("start", "pk").distinct())


def event_state(event: MarketEvent, now: datetime) -> str:
    """``cancelled``, ``scheduled``, ``running`` or ``over``."""
    if event.cancelled_at is not None:
        return "cancelled"
    if now < event.start:
        return "scheduled"
    return "running" if now < event.end else "over"


# --------------------------------------------------------------------------------------------------
# halts in force, for readers (REST quote, freshness, dashboard): a Redis hash kept by the
# writers (``halts_publish``: after an event is written, and by the generator's config reload)


def halts_publish() -> None:
    since_ms = to_ms(market_now() - timedelta(days=1))  # the recent past and the future
    by_symbol: dict[str, list] = {}
    for w in halt_windows():
        if w.end_ms > since_ms:
            by_symbol.setdefault(w.symbol, []).append([w.start_ms, w.end_ms, w.reason])
    pipe = get_redis().pipeline(transaction=True)
    pipe.delete(halts_key())
    if by_symbol:
        pipe.hset(halts_key(), mapping={s: orjson.dumps(v) for s, v in by_symbol.items()})
    pipe.execute()


class _HaltCache:
    """The halts hash, read at most once per generation cycle per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, list] = {}
        self._read_at = -math.inf

    def windows(self) -> dict[str, list]:
        now = time.monotonic()
        if now - self._read_at >= settings.GENERATE_INTERVAL_MS / 1000:
            with self._lock:
                if now - self._read_at >= settings.GENERATE_INTERVAL_MS / 1000:
                    try:
                        raw = get_redis().hgetall(halts_key())
                        self._windows = {k.decode(): orjson.loads(v) for k, v in raw.items()}
                    except (redis.RedisError, orjson.JSONDecodeError):
                        logger.warning("could not read the halts; using the last ones")
                    self._read_at = now
        return self._windows

    def reset(self) -> None:
        with self._lock:
            self._windows, self._read_at = {}, -math.inf


_halt_cache = _HaltCache()
reset_halt_cache = _halt_cache.reset


def halt_at(symbol: str, at_ms: int) -> tuple[str, int, int] | None:
    """``(reason, start_ms, end_ms)`` of the halt of ``symbol`` in force at ``at_ms``, or None."""
    for start, end, reason in _halt_cache.windows().get(symbol, ()):
        if start <= at_ms < end:
            return reason, start, end
    return None


def trading_status(*, symbol: str, active: bool, at_ms: int) -> str:
    """``halted`` (deactivated, or in a halt at ``at_ms``) or ``trading``."""
    if not active or halt_at(symbol, at_ms) is not None:
        return STATUS_HALTED
    return STATUS_TRADING

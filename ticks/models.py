"""The market's tables: ticker configurations, ticks and OHLCV bars (their table and column
names are the published data model, kept as they are), and the API keys."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .fields import SEED_MAX, SeedField, SymbolField

SYMBOL_PATTERN = r"^[A-Z0-9.\-]{1,12}$"
PRICE = {"max_digits": 12, "decimal_places": 2}
MIN_TICK_INTERVAL_MS = 1
MAX_TICK_INTERVAL_MS = 60_000
MAX_VOLATILITY = 5.0
MAX_ABS_DRIFT = 5.0
MAX_VOL_OF_VOL = 1.5
MIN_HALF_LIFE_S = 1.0
MAX_HALF_LIFE_S = 365 * 86_400.0
MAX_JUMP_RATE = 10_000.0
MAX_JUMP_SIZE = 0.5


class VolatilityModel(models.TextChoices):
    """The engine's volatility models (``ticks.engine.MODELS``)."""

    CONSTANT = "constant", "constant (GBM)"
    STOCHASTIC = "stochastic", "stochastic (clustered volatility, leverage)"


def default_calendar() -> str:
    """A new ticker's calendar: the ``MARKET_CALENDAR`` setting ("24/7" unless configured)."""
    from django.conf import settings

    return settings.MARKET_CALENDAR


def validate_calendar(code: str) -> None:
    from .calendars import CalendarError, check_calendar

    try:
        check_calendar(code)
    except CalendarError as e:
        raise ValidationError(str(e), code="invalid_calendar") from e


def protect_if_any(collector, field, sub_objs, using):
    """``PROTECT`` that looks at one related row instead of loading them all.

    Django's own PROTECT evaluates the whole related queryset first; for a ticker with weeks of
    10 Hz ticks that is millions of rows. ``lazy_sub_objs`` hands us the unevaluated queryset.
    """
    sample = list(sub_objs[:1])
    if sample:
        name = field.model._meta.verbose_name_plural
        raise models.ProtectedError(
            f"Cannot delete this ticker: it has {name}. Deactivate it instead.", sample
        )


protect_if_any.lazy_sub_objs = True


class Ticker(models.Model):
    symbol = SymbolField(
        max_length=12,
        unique=True,
        validators=[
            RegexValidator(
                SYMBOL_PATTERN,
                "A symbol is 1–12 characters of A–Z, 0–9, '.' and '-'.",
                code="invalid_symbol",
            )
        ],
        help_text="1–12 characters of A–Z 0–9 . - (stored upper-case). Cannot be changed later.",
    )
    name = models.CharField(max_length=100)
    sector = models.CharField(max_length=50, db_index=True)
    start_price = models.DecimalField(
        **PRICE,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Price of the first tick (must lie within [min price, max price]).",
    )
    drift = models.FloatField(
        validators=[MinValueValidator(-MAX_ABS_DRIFT), MaxValueValidator(MAX_ABS_DRIFT)],
        help_text="Annual drift as a fraction: 0.05 is 5% a year.",
    )
    volatility = models.FloatField(
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_VOLATILITY)],
        help_text="Annual volatility as a fraction, 0–5: 0.2 is 20% a year.",
    )
    min_price = models.DecimalField(
        **PRICE,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Lower bound; prices reflect off it in log space.",
    )
    max_price = models.DecimalField(
        **PRICE, help_text="Upper bound; prices reflect off it in log space."
    )
    is_active = models.BooleanField(default=True, db_index=True)
    tick_interval_ms = models.IntegerField(
        default=100,
        validators=[
            MinValueValidator(MIN_TICK_INTERVAL_MS),
            MaxValueValidator(MAX_TICK_INTERVAL_MS),
        ],
        help_text="Milliseconds between ticks, 1–60000 (100 = 10 ticks a second).",
    )
    seed = SeedField(
        null=False,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(SEED_MAX)],
        help_text="Random seed of this ticker's path; leave blank for a random one.",
    )
    # The volatility model and jumps (the README's "The price model"; ticks/engine's docstring).
    volatility_model = models.CharField(
        max_length=12,
        choices=VolatilityModel.choices,
        default=VolatilityModel.CONSTANT,
        help_text="constant: plain GBM. stochastic: volatility clusters (two mean-reverting "
        "components), with a leverage effect; `volatility` stays its long-run average.",
    )
    vol_of_vol = models.FloatField(
        "vol of vol",
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_VOL_OF_VOL)],
        help_text="Stochastic model: standard deviation of the log volatility, 0–1.5 "
        "(0.5: the volatility is mostly within a factor e of its median).",
    )
    vol_half_life_short = models.FloatField(
        "short half-life (s)",
        default=300.0,
        validators=[MinValueValidator(MIN_HALF_LIFE_S), MaxValueValidator(MAX_HALF_LIFE_S)],
        help_text="Stochastic model: half-life of the fast volatility component, in simulated "
        "seconds (300 = 5 minutes).",
    )
    vol_half_life_long = models.FloatField(
        "long half-life (s)",
        default=172_800.0,
        validators=[MinValueValidator(MIN_HALF_LIFE_S), MaxValueValidator(MAX_HALF_LIFE_S)],
        help_text="Stochastic model: half-life of the slow volatility component, in simulated "
        "seconds (172800 = 2 days); longer than the short one.",
    )
    leverage = models.FloatField(
        default=-0.5,
        validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
        help_text="Stochastic model: correlation of the ticker's own price shocks with its "
        "volatility shocks, -1–1 (negative: falling prices raise the volatility).",
    )
    jump_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_JUMP_RATE)],
        help_text="Jumps per simulated year, 0–10000 (0: no jumps). Either model.",
    )
    jump_mean = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(-MAX_JUMP_SIZE), MaxValueValidator(MAX_JUMP_SIZE)],
        help_text="Mean log size of a jump, -0.5–0.5 (-0.02: about -2%).",
    )
    jump_spread = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_JUMP_SIZE)],
        help_text="Standard deviation of a jump's log size, 0–0.5.",
    )
    # Trading sessions (ticks/calendars.py; the README's "Trading sessions").
    calendar = models.CharField(
        max_length=16,
        default=default_calendar,
        validators=[validate_calendar],
        help_text="24/7 (always open) or an exchange code of the exchange-calendars package "
        "(XNYS, XNAS, XLON, XTKS, XHKG, ...): no ticks while that exchange is closed. "
        "New tickers default to the MARKET_CALENDAR setting.",
    )
    extended_hours = models.BooleanField(
        default=False,
        help_text="Also trade the exchange's pre- and post-market periods, at lower activity "
        "(XNYS and XNAS only).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_price__lt=models.F("max_price")),
                name="ticker_min_below_max",
            ),
            models.CheckConstraint(
                condition=models.Q(start_price__gte=models.F("min_price"))
                & models.Q(start_price__lte=models.F("max_price")),
                name="ticker_start_within_bounds",
            ),
            models.CheckConstraint(
                condition=models.Q(volatility__gte=0) & models.Q(volatility__lte=MAX_VOLATILITY),
                name="ticker_volatility_range",
            ),
            models.CheckConstraint(
                condition=models.Q(tick_interval_ms__gte=MIN_TICK_INTERVAL_MS)
                & models.Q(tick_interval_ms__lte=MAX_TICK_INTERVAL_MS),
                name="ticker_interval_range",
            ),
            models.CheckConstraint(
                condition=models.Q(symbol__regex=SYMBOL_PATTERN), name="ticker_symbol_format"
            ),
            models.CheckConstraint(
                condition=models.Q(volatility_model__in=VolatilityModel.values),
                name="ticker_volatility_model",
            ),
            models.CheckConstraint(
                condition=models.Q(vol_of_vol__gte=0)
                & models.Q(vol_of_vol__lte=MAX_VOL_OF_VOL)
                & models.Q(vol_half_life_short__gte=MIN_HALF_LIFE_S)
                & models.Q(vol_half_life_long__lte=MAX_HALF_LIFE_S)
                & models.Q(vol_half_life_short__lt=models.F("vol_half_life_long"))
                & models.Q(leverage__gte=-1)
                & models.Q(leverage__lte=1),
                name="ticker_stochastic_volatility_range",
            ),
            models.CheckConstraint(
                condition=models.Q(jump_rate__gte=0)
                & models.Q(jump_rate__lte=MAX_JUMP_RATE)
                & models.Q(jump_mean__gte=-MAX_JUMP_SIZE)
                & models.Q(jump_mean__lte=MAX_JUMP_SIZE)
                & models.Q(jump_spread__gte=0)
                & models.Q(jump_spread__lte=MAX_JUMP_SIZE),
                name="ticker_jump_range",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    def clean(self) -> None:
        errors = {}
        if self.min_price is not None and self.max_price is not None:
            if self.min_price >= self.max_price:
                errors["max_price"] = "Max price must be greater than min price."
            elif self.start_price is not None and not (
                self.min_price <= self.start_price <= self.max_price
            ):
                errors["start_price"] = (
                    f"Start price must lie within [{self.min_price}, {self.max_price}]."
                )
        if self.extended_hours and self.calendar:
            from .calendars import CalendarError, check_calendar

            try:
                check_calendar(self.calendar, extended_hours=True)
            except CalendarError as e:
                errors["extended_hours"] = str(e)
        short, long = self.vol_half_life_short, self.vol_half_life_long
        if short is not None and long is not None and not short < long:
            errors["vol_half_life_long"] = "The long half-life must be longer than the short one."
        if self.pk is not None:
            stored = Ticker.objects.filter(pk=self.pk).values_list("symbol", flat=True).first()
            if stored is not None and stored != self.symbol:
                errors["symbol"] = "The symbol cannot be changed after creation."
        if errors:
            raise ValidationError(errors)


class Tick(models.Model):
    """One quote on a ticker's time grid. Partitioned by day (or a TimescaleDB hypertable)."""

    pk = models.CompositePrimaryKey("ticker", "time")
    # No database FK constraint: it would add a per-row trigger to every COPY. Deleting a ticker
    # with ticks is refused by Django (protect_if_any) and by a trigger on the ticker table.
    # The primary key's (ticker, time) B-tree serves both "latest N of a ticker" (scanned
    # backwards) and "a ticker's time range"; no index of its own for the FK.
    ticker = models.ForeignKey(
        Ticker,
        on_delete=protect_if_any,
        related_name="ticks",
        db_constraint=False,
        db_index=False,
    )
    time = models.DateTimeField()
    seq = models.BigIntegerField()
    price = models.DecimalField(**PRICE)
    bid = models.DecimalField(**PRICE)
    ask = models.DecimalField(**PRICE)
    volume = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.ticker_id}@{self.time.isoformat()}"


class Timeframe(models.TextChoices):
    M1 = "1m", "1 minute"
    M5 = "5m", "5 minutes"
    H1 = "1h", "1 hour"
    D1 = "1d", "1 day"


class Bar(models.Model):
    """OHLCV of the bucket ``[time, time + timeframe)``, labelled by its start in UTC."""

    pk = models.CompositePrimaryKey("ticker", "timeframe", "time")
    ticker = models.ForeignKey(
        Ticker,
        on_delete=protect_if_any,
        related_name="bars",
        db_constraint=False,
        db_index=False,
    )
    timeframe = models.CharField(max_length=2, choices=Timeframe.choices)
    time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.BigIntegerField()
    trade_count = models.IntegerField()
    vwap = models.DecimalField(max_digits=16, decimal_places=4)

    def __str__(self) -> str:
        return f"{self.ticker_id} {self.timeframe} {self.time.isoformat()}"


class TickerState(models.Model):
    """The engine's exact state at a ticker's newest stored tick.

    Prices are stored on the cent grid, but the simulation carries an unrounded, unreflected
    log price. Keeping it here (written in the same transaction as the ticks it describes) lets
    generation continue the very same path after Redis loses its copy of the state.
    """

    ticker = models.OneToOneField(
        Ticker, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    seq = models.BigIntegerField()
    time = models.DateTimeField()
    log_price = models.FloatField(help_text="Unreflected log price at this tick.")
    vol_state = models.JSONField(
        null=True,
        blank=True,
        help_text="Stochastic volatility: the factors at this tick (float.hex strings).",
    )
    # The factors at the oldest tick a backfill wrote, so a later backfill further back joins
    # its volatility too (the oldest tick's price is in the ticks table).
    oldest_seq = models.BigIntegerField(null=True, blank=True)
    oldest_vol_state = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.ticker_id} seq={self.seq}"


class ApiKey(models.Model):
    """An API key: only a SHA-256 of the key is stored; the key itself is shown once, at
    creation (``ticks.api_keys``). Its table is still ``api_apikey``: the model moved here from
    the ``api`` app (which keeps a proxy of it for the admin) without touching the data."""

    name = models.CharField(max_length=100, help_text="Who or what uses this key.")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The key's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_apikey"
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EventKind(models.TextChoices):
    """What a scenario event does (``ticks.events``; the engine's ``ticks.engine.events``)."""

    MOVE = "move", "move (crash or rally over a duration)"
    GAP = "gap", "gap (instantaneous jump)"
    VOLATILITY = "volatility", "volatility spike (× a factor for a duration)"
    HALT = "halt", "halt (no ticks for a duration)"
    RESUME = "resume", "resume (ends a running halt early)"


class EventScope(models.TextChoices):
    MARKET = "market", "the whole market"
    SECTOR = "sector", "a sector"
    TICKER = "ticker", "one ticker"


class MarketEvent(models.Model):
    """A scripted change of the market: part of its configuration, so the ticks it shapes are
    reproduced by catch-up, regeneration and backfill. Created through
    ``ticks.events.event_create`` (which sets ``start`` at or after the newest tick of every
    ticker it touches and resolves the scope into ``tickers``); immutable afterwards, a future
    one can be cancelled."""

    kind = models.CharField(max_length=12, choices=EventKind.choices)
    scope = models.CharField(max_length=8, choices=EventScope.choices)
    sector = models.CharField(
        max_length=50, blank=True, help_text="Sector scope: the sector's name, as in tickers."
    )
    ticker = models.ForeignKey(
        Ticker,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Ticker scope: the ticker.",
    )
    change_pct = models.FloatField(
        "change (%)",
        null=True,
        blank=True,
        help_text="Move or gap: the price change in percent (-10 = a 10% fall).",
    )
    vol_factor = models.FloatField(
        "volatility factor",
        null=True,
        blank=True,
        help_text="Volatility spike: the volatility's multiplier (3 = three times).",
    )
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField(help_text="Move, volatility or halt: start + duration.")
    reason = models.CharField(
        max_length=100, blank=True, help_text="Shown with a halt's status messages."
    )
    tickers = models.ManyToManyField(Ticker, related_name="market_events", blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="market_event_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=EventKind.values), name="market_event_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=EventScope.values), name="market_event_scope"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} at {self.start:%Y-%m-%d %H:%M:%S}"

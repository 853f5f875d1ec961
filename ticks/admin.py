"""Admin for ticker configurations.

Ticks and bars have composite primary keys, which the admin cannot register; the ticker's page
shows read-only summaries of its recent ticks and bars instead.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from . import selectors, services
from .models import Ticker, Timeframe

RECENT_ROWS = 10


@admin.register(Ticker)
class TickerAdmin(admin.ModelAdmin):
    # What a list needs at a glance, on a laptop's screen (1366 px, the admin's sidebar open);
    # the model's other parameters (start price, drift, bounds, interval) are on the change page.
    list_display = (
        "symbol",
        "name",
        "sector",
        "volatility",
        "is_active",
        "last_price",
        "last_tick_time",
    )
    list_display_links = ("symbol", "name")
    list_editable = ("is_active",)
    list_filter = ("sector", "is_active", "volatility_model")
    search_fields = ("symbol", "name", "sector")
    ordering = ("symbol",)
    actions = ("activate", "deactivate")
    readonly_fields = ("created_at", "updated_at", "recent_ticks", "recent_bars")
    fieldsets = (
        (None, {"fields": ("symbol", "name", "sector", "is_active")}),
        (
            "Price process",
            {
                "fields": (
                    "start_price",
                    "drift",
                    "volatility",
                    "min_price",
                    "max_price",
                    "tick_interval_ms",
                    "seed",
                ),
                "description": "Changes apply to the live market from its next step.",
            },
        ),
        (
            "Volatility model and jumps",
            {
                "fields": (
                    "volatility_model",
                    "vol_of_vol",
                    "vol_half_life_short",
                    "vol_half_life_long",
                    "leverage",
                    "jump_rate",
                    "jump_mean",
                    "jump_spread",
                ),
                "description": "The stochastic model's parameters apply only when it is chosen; "
                "jumps apply to either model (rate 0: none). Changes apply to the live market "
                "from its next step; `volatility` stays the long-run average volatility.",
            },
        ),
        ("Recent data", {"fields": ("recent_ticks", "recent_bars")}),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        return selectors.ticker_list_with_last_tick()

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # the add page has no data to summarise yet
            return ("created_at", "updated_at")
        return ("symbol", *self.readonly_fields)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [fs for fs in self.fieldsets if fs[0] not in ("Recent data", "Record")]
        return self.fieldsets

    @admin.display(description="last price", ordering="last_price")
    def last_price(self, obj):
        return obj.last_price

    @admin.display(description="last tick", ordering="last_tick_time")
    def last_tick_time(self, obj):
        return obj.last_tick_time

    @admin.display(description=f"last {RECENT_ROWS} ticks")
    def recent_ticks(self, obj):
        ticks = selectors.tick_recent(ticker=obj, limit=RECENT_ROWS)
        if not ticks:
            return "No ticks yet."
        return _table(
            ("time (UTC)", "seq", "price", "bid", "ask", "volume"),
            (
                (
                    t.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                    t.seq,
                    t.price,
                    t.bid,
                    t.ask,
                    t.volume,
                )
                for t in ticks
            ),
        )

    @admin.display(description=f"last {RECENT_ROWS} 1-minute bars")
    def recent_bars(self, obj):
        bars = selectors.bar_recent(ticker=obj, timeframe=Timeframe.M1, limit=RECENT_ROWS)
        if not bars:
            return "No bars yet."
        return _table(
            ("start (UTC)", "open", "high", "low", "close", "volume", "trades", "vwap"),
            (
                (
                    b.time.strftime("%Y-%m-%d %H:%M"),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    b.trade_count,
                    b.vwap,
                )
                for b in bars
            ),
        )

    @admin.action(description="Activate selected tickers")
    def activate(self, request, queryset):
        count = services.tickers_set_active(ids=queryset.values_list("pk", flat=True), active=True)
        self.message_user(request, f"Activated {count} ticker(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected tickers")
    def deactivate(self, request, queryset):
        count = services.tickers_set_active(ids=queryset.values_list("pk", flat=True), active=False)
        self.message_user(request, f"Deactivated {count} ticker(s).", messages.SUCCESS)


def _table(header, rows):
    head = format_html_join("", "<th>{}</th>", ((h,) for h in header))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

"""Admin for ticker configurations and scenario events.

Ticks and bars have composite primary keys, which the admin cannot register; the ticker's page
shows read-only summaries of its recent ticks and bars instead.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join

from . import events, selectors, services
from .calendars import calendar_codes, extended_hours_calendars
from .market_time import market_now
from .models import MarketEvent, Ticker, Timeframe

RECENT_ROWS = 10


class TickerForm(forms.ModelForm):
    """The ticker's page: its calendar chosen from the calendar library's exchange codes (the
    model's validation says why a listed one cannot be used, e.g. one the installed library
    cannot build, and refuses extended hours where the exchange has none)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("calendar")
        if field is not None:
            codes = list(calendar_codes())
            current = self.initial.get("calendar")
            if current and current not in codes:
                codes.append(current)  # shown as it is stored; saving it says what is wrong
            field.widget = forms.Select(
                choices=[(code, CALENDAR_LABELS.get(code, code)) for code in codes]
            )
        extended = self.fields.get("extended_hours")
        if extended is not None:
            extended.help_text = (
                "Also trade the exchange's pre- and post-market periods, at lower activity. "
                f"Available for {' and '.join(extended_hours_calendars())} only."
            )


CALENDAR_LABELS = {"24/7": "24/7 (always open)"}


@admin.register(Ticker)
class TickerAdmin(admin.ModelAdmin):
    form = TickerForm
    # What a list needs at a glance, on a laptop's screen (1366 px, the admin's sidebar open);
    # the model's other parameters (start price, drift, bounds, interval) are on the change page.
    list_display = (
        "symbol",
        "name",
        "sector",
        "volatility",
        "calendar",
        "is_active",
        "last_price",
        "last_tick_time",
    )
    list_display_links = ("symbol", "name")
    list_editable = ("is_active",)
    list_filter = ("sector", "is_active", "volatility_model", "calendar")
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
        (
            "Trading sessions",
            {
                "fields": ("calendar", "extended_hours"),
                "description": "24/7 trades around the clock; an exchange calendar trades only "
                "in that exchange's sessions (holidays, early closes and lunch breaks "
                "included). Changes apply to the live market without a restart.",
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


class MarketEventForm(forms.ModelForm):
    """The add page of an event: the server sets its start (``start`` here is "not before"),
    end and tickers (``ticks.events.event_plan``)."""

    duration_s = forms.FloatField(
        label="duration (s)",
        required=False,
        min_value=0,
        help_text="Move, volatility spike or halt: how long, in seconds (300 = 5 minutes).",
    )
    start = forms.DateTimeField(
        label="not before (UTC)",
        required=False,
        help_text="Leave blank to start as soon as possible (a second or two from now: after "
        "the newest tick of every ticker it touches). Times are UTC.",
    )

    class Meta:
        model = MarketEvent
        fields = ("kind", "scope", "sector", "ticker", "change_pct", "vol_factor", "reason")

    FIELD_OF = {"duration": "duration_s"}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        seconds = data.get("duration_s")
        self.arguments = {
            "kind": data.get("kind"),
            "scope": data.get("scope"),
            "sector": data.get("sector") or "",
            "ticker": data.get("ticker"),
            "change_pct": data.get("change_pct"),
            "vol_factor": data.get("vol_factor"),
            "duration": None if seconds in (None, 0) else timedelta(seconds=seconds),
            "start": data.get("start"),
            "reason": data.get("reason") or "",
        }
        try:
            self.plan = events.event_plan(**self.arguments)
        except ValidationError as e:
            if hasattr(e, "error_dict"):
                for field, errors in e.error_dict.items():
                    self.add_error(self.FIELD_OF.get(field, field), errors)
            else:
                self.add_error(None, e)
        return data


@admin.register(MarketEvent)
class MarketEventAdmin(admin.ModelAdmin):
    form = MarketEventForm
    list_display = ("id", "kind", "target", "size", "start", "end", "state", "reason")
    list_filter = ("kind", "scope")
    ordering = ("-start",)
    actions = ("cancel",)
    readonly_fields = ("touched",)

    def has_delete_permission(self, request, obj=None):
        return False  # events are the market's history: cancel a future one instead

    def has_change_permission(self, request, obj=None):
        return False  # immutable once created

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "kind",
                "scope",
                "sector",
                "ticker",
                "change_pct",
                "vol_factor",
                "duration_s",
                "start",
                "reason",
            )
        return (
            "kind",
            "scope",
            "sector",
            "ticker",
            "change_pct",
            "vol_factor",
            "start",
            "end",
            "reason",
            "touched",
            "cancelled_at",
            "created_at",
        )

    def save_model(self, request, obj, form, change):
        try:
            event = events.event_create(**form.arguments)
        except ValidationError as exc:  # the form checked it, but another event came first
            request.event_refused = "; ".join(exc.messages)
            return
        obj.pk = event.pk
        obj.start, obj.end = event.start, event.end
        self.message_user(
            request,
            f"The {event.kind} starts at {event.start:%Y-%m-%d %H:%M:%S} UTC and touches "
            f"{event.tickers.count()} ticker(s).",
            messages.SUCCESS,
        )

    def save_related(self, request, form, formsets, change):
        pass  # the tickers are the service's

    def log_addition(self, request, obj, message):
        if obj.pk is not None:  # nothing to log when the service refused it
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        refused = getattr(request, "event_refused", None)
        if refused is None:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"The event was not created: {refused}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    @admin.display(description="target")
    def target(self, obj):
        if obj.scope == "sector":
            return f"sector {obj.sector}"
        if obj.scope == "ticker":
            return obj.ticker.symbol if obj.ticker_id else "?"
        return "market" if obj.kind != "resume" else "halted tickers"

    @admin.display(description="size")
    def size(self, obj):
        if obj.change_pct is not None:
            return f"{obj.change_pct:+g}%"
        if obj.vol_factor is not None:
            return f"×{obj.vol_factor:g}"
        return ""

    @admin.display(description="status")
    def state(self, obj):
        return events.event_state(obj, market_now())

    @admin.display(description="tickers")
    def touched(self, obj):
        return ", ".join(sorted(t.symbol for t in obj.tickers.all())) or "none"

    @admin.action(description="Cancel selected events (only those not started)")
    def cancel(self, request, queryset):
        done, refused = 0, []
        for event in queryset:
            try:
                events.event_cancel(event=event)
                done += 1
            except ValidationError as e:
                refused.append(f"#{event.pk}: {' '.join(e.messages)}")
        if done:
            self.message_user(request, f"Cancelled {done} event(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)

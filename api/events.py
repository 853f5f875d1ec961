"""``GET /api/v1/events``: the market's scenario events (read-only; they are created in the
admin), oldest start first, filtered by ``ticker`` (a symbol it touches) and ``active``
(``true``: not cancelled and not over; ``false``: the others)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ticks.events import event_list, event_state
from ticks.models import EventKind, EventScope

from .base import ApiView, now, ok, ticker_or_404
from .inputs import ChoiceParam
from .schema import _BAD, _NOT_FOUND, _errors
from .shapes import iso_ms


class EventsInput(serializers.Serializer):
    ticker = serializers.CharField(required=False, max_length=32)
    active = ChoiceParam(choices=("true", "false"), code="invalid_active", required=False)


def event_out(event, moment) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "scope": event.scope,
        "sector": event.sector or None,
        "ticker": event.ticker.symbol if event.ticker_id else None,
        "tickers": sorted(t.symbol for t in event.tickers.all()),
        "change_pct": event.change_pct,
        "vol_factor": event.vol_factor,
        "start": iso_ms(event.start),
        "end": iso_ms(event.end),
        "reason": event.reason,
        "status": event_state(event, moment),
        "created_at": iso_ms(event.created_at),
    }


class EventOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EventKind.values)
    scope = serializers.ChoiceField(choices=EventScope.values)
    sector = serializers.CharField(allow_null=True)
    ticker = serializers.CharField(allow_null=True)
    tickers = serializers.ListField(child=serializers.CharField())
    change_pct = serializers.FloatField(allow_null=True, help_text="Move or gap, in percent.")
    vol_factor = serializers.FloatField(allow_null=True, help_text="Volatility multiplier.")
    start = serializers.CharField(help_text="ISO 8601 UTC.")
    end = serializers.CharField(help_text="ISO 8601 UTC (a gap's is its start).")
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=["scheduled", "running", "over", "cancelled"])
    created_at = serializers.CharField()


EVENTS_SCHEMA = {
    "summary": "Scenario events",
    "parameters": [
        OpenApiParameter("ticker", str, description="Only events touching this ticker."),
        OpenApiParameter("active", str, enum=["true", "false"], description="Not over yet."),
    ],
    "responses": {
        200: inline_serializer(
            "EventsEnvelope",
            {
                "success": serializers.BooleanField(),
                "data": EventOut(many=True),
                "meta": inline_serializer("EventsMeta", {"count": serializers.IntegerField()}),
            },
        ),
        **_errors((400, _BAD), (404, _NOT_FOUND)),
    },
}


class EventListApi(ApiView):
    """Crashes, rallies, gaps, volatility spikes and halts scripted in the admin."""

    @extend_schema(**EVENTS_SCHEMA)
    def get(self, request):
        serializer = EventsInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        symbol = serializer.validated_data.get("ticker")
        if symbol is not None:
            symbol = ticker_or_404(symbol.strip().upper()).symbol
        active = serializer.validated_data.get("active")
        moment = now()
        events = event_list(
            ticker=symbol, active=None if active is None else active == "true", now=moment
        )
        data = [event_out(e, moment) for e in events]
        return Response(ok(data, {"count": len(data)}))

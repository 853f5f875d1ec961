"""The hot reads' routes (``api.hot``): the same paths as their ordinary routes (``config.urls``,
``api.urls``, ``api.alpaca.urls``, ``api.massive.urls``), each to the same view class. Any other
path, or a request a hot read will not take, goes the ordinary way (``config.hot_reads``)."""

from django.urls import path

from .alpaca.views import LatestQuotesApi, LatestTradesApi
from .hot import hot_view
from .massive.views import LastQuoteApi, LastTradeApi
from .views import QuoteDetailApi

urlpatterns = [
    path("api/v1/quote/<str:ticker>", hot_view(QuoteDetailApi)),
    path("v2/stocks/trades/latest", hot_view(LatestTradesApi)),
    path("v2/stocks/quotes/latest", hot_view(LatestQuotesApi)),
    path("v2/stocks/<str:symbol>/trades/latest", hot_view(LatestTradesApi)),
    path("v2/stocks/<str:symbol>/quotes/latest", hot_view(LatestQuotesApi)),
    path("v2/last/trade/<str:ticker>", hot_view(LastTradeApi)),
    path("v2/last/nbbo/<str:ticker>", hot_view(LastQuoteApi)),
]

# Django's handler looks for these in every URLconf it resolves with; the ordinary ones.
handler400 = "api.errors.handler400"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"

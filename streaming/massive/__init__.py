"""The Massive (formerly Polygon.io) stocks stream dialect (``/stocks``): the same hub, outboxes,
limits and key revocation as ``/ws`` and the Alpaca stream, in Massive's messages (see
``protocol``)."""

"""The Alpaca Market Data v2 stream dialect (``/v2/{feed}``): the same hub, outboxes, limits and
key revocation as ``/ws``, in Alpaca's messages and encodings (see ``protocol``)."""

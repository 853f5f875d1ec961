"""Playback: a stored range of ticks (and the minute bars closing in it) streamed again at a
chosen speed, through the same protocols as the live market.

The parts, from the database to a client:

- ``ticks.playback_reads`` (the domain): which ranges may be played back, and pages of the
  range in time order (keyset cursors; a page at a time, never the whole range).
- ``source.PlaybackSource``: the range as chunks of ``Event``s (ticks and bars merged in time
  order), one page ahead read in a small thread pool of its own, so at most two pages of each
  kind are in memory per playback.
- ``pacer.Pacer``: when each event is due at a given speed (a multiple of market time, or None
  for "max"), with pause and resume, and gaps of more than ``GAP_SKIP_MS`` without any event
  (closed sessions, halts, outages) skipped rather than waited through.
- ``player.Player``: the loop: events from the source, waited for by the pacer, rendered into
  frames by the dialect, put into the connection's bounded outbox with back-pressure (it waits
  while the outbox holds more than a quarter of its limit, which under daphne's fenced transport
  means while the client is not reading) and within ``PLAYBACK_MAX_RATE`` messages a second for
  all the playbacks of the process together.
- ``limits``: playbacks per API key (across processes) and per process.

A dialect brings only its messages and its control: ``ws`` (``/ws``: the ``playback``,
``pause``, ``resume`` and ``stop`` messages), ``alpaca`` (the ``/v2/playback`` feed) and
``massive`` (the ``/playback/<start>/<end>/<speed>/stocks`` feed). A dialect's renderer is a
callable ``render(events) -> list[Frame]``; its end-of-range message is its own. See the module
docstrings of ``ws``, ``alpaca`` and ``massive`` for a complete one each.
"""

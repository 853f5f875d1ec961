"""Where ``/ws`` relies on a library's internals: one module per library, nothing else.

Each module names the internal it uses, the setting that switches it off (the plain public path
runs instead, with the same frames), and its contract test (``streaming/tests/test_fenced.py``),
which fails, naming the internal, when the pinned version stops behaving as assumed. What each
buys is measured on and off in ``bench/RESULTS.md`` ("fast path ..."); see the README
("Fast paths").
"""

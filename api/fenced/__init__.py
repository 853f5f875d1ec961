"""Where the API relies on a library's internals: one module per library, nothing else. Each
names the internal, the setting that switches it off (the plain public path runs instead, with
the same answers) and its contract test (``api/tests/test_fenced.py``); what it buys is in
``bench/RESULTS.md`` ("fast paths"). See the README ("Fast paths")."""

"""Benchmarks: ``python -m bench <name>``. Each prints a table of figures with a baseline
measured in the same run, and records the table in ``bench/RESULTS.md``."""

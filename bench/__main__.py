"""``python -m bench <name> [options]``: ingest, pipeline, publish, rest, ws, alpaca, massive,
playback, sessions, metrics."""

import argparse
import importlib
import sys

NAMES = (
    "ingest",
    "pipeline",
    "publish",
    "rest",
    "ws",
    "alpaca",
    "massive",
    "playback",
    "sessions",
    "metrics",
)


def available() -> dict:
    return {name: importlib.import_module(f"bench.{name}") for name in NAMES}


def main(argv: list[str] | None = None) -> int:
    benchmarks = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="name", required=True)
    for name, module in benchmarks.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return benchmarks[args.name].run(args)


if __name__ == "__main__":
    sys.exit(main())

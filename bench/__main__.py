"""``python -m bench <name> [options]``: ingest, pipeline, publish, rest, ws, alpaca, massive,
playback, metrics (those present)."""

import argparse
import importlib
import importlib.util
import sys

NAMES = ("ingest", "pipeline", "publish", "rest", "ws", "alpaca", "massive", "playback", "metrics")


def available() -> dict:
    return {
        name: importlib.import_module(f"bench.{name}")
        for name in NAMES
        if importlib.util.find_spec(f"bench.{name}") is not None
    }


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

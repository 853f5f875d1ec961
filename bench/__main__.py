"""``python -m bench ingest [--hours H] [--repeat N]`` — see ``bench/README`` in RESULTS.md."""

import argparse
import sys

from . import ingest

BENCHMARKS = {"ingest": ingest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="name", required=True)
    for name, module in BENCHMARKS.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return BENCHMARKS[args.name].run(args)


if __name__ == "__main__":
    sys.exit(main())

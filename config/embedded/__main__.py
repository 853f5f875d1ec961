"""``python -m config.embedded clean``: delete the embedded servers' data folder (``make
clean-data``), refused while a supervisor runs them."""

import os
import sys

from config import services
from config.embedded import ServiceError, remove_data


def main(argv: list[str]) -> int:
    if argv != ["clean"]:
        print("usage: python -m config.embedded clean", file=sys.stderr)
        return 2
    folder = services.data_dir(os.environ.get("EMBEDDED_DATA_DIR"))
    try:
        removed = remove_data(folder)
    except ServiceError as exc:
        print(f"not removed: {exc}", file=sys.stderr)
        return 1
    print(f"{folder}: {'removed' if removed else 'nothing to remove'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

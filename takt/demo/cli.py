"""`takt demo [--port 8000] [--host H] [--reset] [--accel X] [--data-dir ./var] [--broker ...]`."""

import logging
import sys

from takt.demo.errors import DemoError
from takt.demo.options import parse


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
    except DemoError as err:
        print(f"takt demo: {err}", file=sys.stderr)
        return 2
    from takt.demo.runner import Demo

    return Demo(opts).run()

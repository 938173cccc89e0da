"""Run every benchmark module (or those named on the command line) and print their tables."""

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.table import Table


def main(names: list[str]) -> int:
    modules = names or sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    failed = 0
    for name in modules:
        try:
            table: Table = importlib.import_module(f"bench.{name}").run()
        except Exception:
            failed += 1
            print(f"## {name}: FAILED\n{traceback.format_exc()}", flush=True)
            continue
        print(table.render() + "\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

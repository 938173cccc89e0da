"""`takt demo`: a live demo factory on one machine (simulator, broker, edge agent, server, demo data).

See docs/demo.md. `main(argv)` is the entry point `takt/cli.py` dispatches to.
"""

from takt.demo.cli import main

__all__ = ["main"]

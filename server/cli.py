"""`takt server [--host H] [--port P]`, `takt server migrate`, `takt server import-edge FILE`,
`takt server setup --site-name N --admin USER` (a new site's first admin and shifts)."""

import argparse
import contextlib
import logging
import sys
from typing import Any

from pydantic import ValidationError

from server.core.errors import ConfigError, ServerError
from server.core.settings import Settings, describe_invalid


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="takt server", description="Run the Takt server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="serve the API and pages (default)")
    sub.add_parser("migrate", help="upgrade the database to the newest schema")
    edge = sub.add_parser("import-edge", help="create machines and tags from an edge config YAML")
    edge.add_argument("file")
    setup = sub.add_parser("setup", help="set up a new site: its name, time zone, first admin and shifts")
    setup.add_argument("--site-name", required=True)
    setup.add_argument("--timezone", default="Asia/Shanghai")
    setup.add_argument("--admin", required=True, help="the first admin's username")
    setup.add_argument("--admin-name", default="")
    setup.add_argument(
        "--shift", action="append", default=[], help='e.g. "Day 08:00-17:00 1-5 break 12:00-13:00" (repeat)'
    )
    return parser


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, log_level: str = "info") -> Any:
    """uvicorn's config for `app`. X-Forwarded-For/-Proto are believed only from the reverse proxies in
    TAKT_FORWARDED_ALLOW_IPS; uvicorn's own default believes 127.0.0.1, so any local client (or a local
    proxy passing the header through) could choose its address and dodge per-address rate limits."""
    import uvicorn

    trusted = settings.forwarded_allow_ips
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
    )  # fmt: skip


def _serve(settings: Settings, host: str, port: int, log_level: str) -> int:
    import uvicorn

    from server.core import logs
    from server.main import create_app

    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings, host, port, log_level))
    logs.install()  # after uvicorn configured its loggers
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after its clean shutdown
        server.run()
    return 0


def _migrate(settings: Settings) -> int:
    from server.core.db import init_db, make_engine

    engine = make_engine(settings.database_url)
    init_db(engine)
    engine.dispose()
    print("database upgraded to head")
    return 0


def _import_edge(settings: Settings, path: str) -> int:
    from pathlib import Path

    from server.core.db import init_db, make_engine
    from server.domain.edge_import import import_edge

    engine = make_engine(settings.database_url)
    try:
        init_db(engine)
        result = import_edge(engine, Path(path))
    finally:
        engine.dispose()
    print(
        f"edge {result.edge_id} (site {result.site}): {result.machines_created} machines created, "
        f"{result.tags_created} tags created, {result.tags_updated} updated"
    )
    return 0


def _setup(settings: Settings, args: argparse.Namespace) -> int:
    """The first-run set-up from the command line; the password from TAKT_SETUP_PASSWORD or a prompt."""
    import getpass
    import os

    from sqlmodel import Session

    from server.core.db import init_db, make_engine
    from server.domain import first_run, security

    security.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    password = os.environ.get("TAKT_SETUP_PASSWORD") or getpass.getpass(f"password for {args.admin}: ")
    try:
        body = first_run.SiteSetup(
            site_name=args.site_name, timezone=args.timezone, admin_username=args.admin,
            admin_display_name=args.admin_name, admin_password=password,
        )  # fmt: skip
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        print(f"takt server setup: {problems}", file=sys.stderr)
        return 2
    shifts = first_run.parse_shifts("\n".join(args.shift or [first_run.DEFAULT_SHIFT]))
    engine = make_engine(settings.database_url)
    try:
        init_db(engine)
        with Session(engine) as session:
            first_run.run(session, settings.site, body, shifts)
    finally:
        engine.dispose()
    print(f"site {settings.site} set up with {len(shifts)} shift(s); sign in at /login as {args.admin}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings()
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "setup":
            return _setup(settings, args)
        if args.command == "import-edge":
            return _import_edge(settings, args.file)
        settings.check_secrets()
        return _serve(settings, args.host, args.port, args.log_level)
    except ValidationError as err:
        print(f"takt server: invalid settings: {describe_invalid(err)}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"takt server: {err.message}", file=sys.stderr)
        return 2
    except ServerError as err:
        print(f"takt server: {err.message}", file=sys.stderr)
        return 1

"""`takt edge`: run the agent, check a config against the machines, or browse an OPC UA server.

takt edge --config FILE                 run the agent (same as `takt edge run --config FILE`)
takt edge check --config FILE           validate, read every tag once, print a table
takt edge browse opc.tcp://... [--depth N] [--machine ID] [--out FILE] [--policy Basic256Sha256
    --certificate C --private-key K --server-certificate S] [--username U]   a tag config to edit
takt edge cert --out DIR [--uri URN]      make an OPC UA client certificate (self-signed)
Exit codes: 0 ok, 1 check found errors / runtime failure, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from edge import config as config_mod
from edge.errors import ConfigError, EdgeError

log = logging.getLogger(__name__)
QUIET = ("asyncua", "pymodbus")


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for name in QUIET:  # they log every retry; we log changes of state ourselves
        logging.getLogger(name).setLevel(logging.CRITICAL)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="takt edge", description="Takt edge agent")
    root.add_argument("--config", help="edge config YAML (runs the agent)")
    sub = root.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent")
    run.add_argument("--config", required=True)
    check = sub.add_parser("check", help="validate a config and read every tag once")
    check.add_argument("--config", required=True)
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per device")
    browse = sub.add_parser("browse", help="walk an OPC UA server and print a tag config")
    browse.add_argument("endpoint")
    browse.add_argument("--depth", type=int, default=4)
    browse.add_argument("--machine", default=None, help="machine id for the tags (default: from the tree)")
    browse.add_argument("--start", default="i=85", help="node to start from (default: Objects)")
    browse.add_argument("--out", help="write the config to this file (default: print it)")
    browse.add_argument(
        "--policy", choices=["None", "Basic256Sha256"], default="None", help="security policy"
    )
    browse.add_argument(
        "--mode", choices=["None", "Sign", "SignAndEncrypt"], help="default: SignAndEncrypt with a policy"
    )
    browse.add_argument("--certificate", help="the edge's certificate (takt edge cert)")
    browse.add_argument("--private-key", help="the edge's private key (takt edge cert)")
    browse.add_argument("--server-certificate", help="the server's certificate, pinned")
    browse.add_argument("--trust", action="append", help="trusted CA certificate file or folder (repeatable)")
    browse.add_argument("--username")
    browse.add_argument("--password", help="default: $TAKT_OPCUA_PASSWORD")
    cert = sub.add_parser("cert", help="make a self-signed OPC UA client certificate and key")
    cert.add_argument("--out", required=True, help="folder for edge-cert.der and edge-key.pem")
    cert.add_argument("--uri", default="urn:takt:edge", help="application URI (the device's application_uri)")
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    command = args.command or ("run" if args.config else None)
    if command is None:
        parser().print_usage(sys.stderr)
        return 2
    if command == "cert":
        from edge.browse import make_certificate

        certificate, key = make_certificate(args.out, args.uri)
        print(f"wrote {certificate} and {key}: set them as the device's certificate and private_key,")
        print("and trust the certificate on the OPC UA server")
        return 0
    if command == "browse":
        from edge.browse import browse_main

        setup_logging("WARNING")
        return browse_main(args.endpoint, args.depth, args.machine, args.start, _security(args), args.out)
    try:
        config = config_mod.load(args.config)
    except ConfigError as err:
        print(f"takt edge: {err}", file=sys.stderr)
        return 2
    if command == "check":
        from edge.check import check_main

        setup_logging("ERROR")
        return check_main(config, args.timeout)
    setup_logging(config.logging.level)
    return run_agent(config)


def _security(args: argparse.Namespace) -> dict[str, object]:
    """The browse options as a device's fields (the agent's names)."""
    fields: dict[str, object] = {}
    if args.policy != "None":
        fields["security_policy"] = args.policy
        fields["security_mode"] = args.mode or "SignAndEncrypt"
    elif args.mode:
        fields["security_mode"] = args.mode
    for key in ("certificate", "private_key", "server_certificate", "username"):
        if getattr(args, key):
            fields[key] = getattr(args, key)
    if args.trust:
        fields["trust"] = {"certificates": args.trust}
    password = args.password or os.environ.get("TAKT_OPCUA_PASSWORD")
    if args.username and password:
        fields["password"] = password
    return fields


def run_agent(config: config_mod.EdgeConfig) -> int:
    from edge.agent import Agent

    async def serve() -> None:
        agent = Agent(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, agent.stop)
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(agent)))
        await agent.run()

    try:
        asyncio.run(serve())
    except EdgeError as err:
        log.error("%s", err)
        return 1
    return 0


async def _reload(agent: object) -> None:
    from edge.agent import Agent

    assert isinstance(agent, Agent)
    try:
        await agent.reload()
    except (ConfigError, EdgeError) as err:
        log.error("reload refused, keeping the running config: %s", err)

"""`takt sim`: run the plant simulator until SIGINT/SIGTERM (flags in docs/contracts.md)."""

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from simulators.config import PlantConfig, load_plant
from simulators.control import ControlServer
from simulators.errors import ConfigError, SimError
from simulators.runner import Runner, RunOptions
from simulators.scenario import Scenario, load_scenario

log = logging.getLogger("simulators")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="takt sim",
        description="Plant simulator: OPC UA + Modbus TCP machines (docs/simulator.md).",
        epilog="Inject a fault into a running simulator: takt sim fault [--http-port P] JSON",
    )
    p.add_argument("--config", required=True, type=Path, help="plant YAML file")
    p.add_argument("--opcua-port", type=int)
    p.add_argument("--modbus-port", type=int)
    p.add_argument("--http-port", type=int)
    p.add_argument("--accel", type=float, default=1.0, help="divide every duration by X")
    p.add_argument("--ground-truth", type=Path, help="JSON file rewritten every second and at exit")
    p.add_argument("--scenario", help="scenario YAML, or 'none'; default: the plant file's `scenario`")
    p.add_argument("--seed", type=int, help="RNG seed; default: the plant file's `seed`")
    p.add_argument("--state-dir", type=Path, default=Path("var/sim"), help="certificates live here")
    p.add_argument("--rtu", type=Path, help="also serve Modbus RTU on a pty pair; clients open this path")
    p.add_argument("--host", default="127.0.0.1", help="address every server binds to")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def build_options(args: argparse.Namespace, plant: PlantConfig) -> RunOptions:
    if args.accel <= 0:
        raise ConfigError("--accel", "accel", "must be greater than 0")
    return RunOptions(
        accel=args.accel,
        seed=plant.seed if args.seed is None else args.seed,
        host=args.host,
        opcua_port=args.opcua_port if args.opcua_port is not None else plant.opcua_port,
        modbus_port=args.modbus_port if args.modbus_port is not None else plant.modbus_port,
        http_port=args.http_port if args.http_port is not None else plant.http_port,
        state_dir=args.state_dir,
        ground_truth_file=args.ground_truth,
        scenario=_scenario(args, plant),
        rtu_path=args.rtu,
    )


def _scenario(args: argparse.Namespace, plant: PlantConfig) -> Scenario | None:
    if args.scenario is not None:
        path = None if args.scenario == "none" else Path(args.scenario)
    else:
        path = args.config.parent / plant.scenario if plant.scenario else None
    if path is None:
        return None
    machines = {m.id: m.protocol for m in plant.machines}
    units = {m.unit_id: m.id for m in plant.machines if m.unit_id is not None}
    return load_scenario(path, machines, units)


async def serve(plant: PlantConfig, opts: RunOptions) -> None:
    runner = Runner(plant, opts)
    control = ControlServer(runner, opts.host, opts.http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        await control.start()
        scenario = f" | scenario {opts.scenario.name}" if opts.scenario else ""
        scenario += f" | Modbus RTU {opts.rtu_path}" if opts.rtu_path else ""
        log.info("ready: OPC UA %s | Modbus TCP %s:%d | HTTP http://%s:%d | accel %g | %d machines%s",
                 runner.opcua.endpoint, opts.host, opts.modbus_port, opts.host, opts.http_port, opts.accel,
                 len(plant.machines), scenario)  # fmt: skip
        ticking = asyncio.create_task(runner.loop())
        await stop.wait()
        log.info("stopping")
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
    finally:
        await control.stop()
        await runner.stop()


def fault_main(argv: list[str]) -> int:
    """`takt sim fault [--http-port P] JSON`: POST one fault request to a running simulator."""
    p = argparse.ArgumentParser(prog="takt sim fault", description="Inject a fault (docs/simulator.md).")
    p.add_argument("--http-port", type=int, default=8081)
    p.add_argument("request", help='e.g. \'{"action": "fault", "machine": "cnc1", "duration_s": "5m"}\'')
    args = p.parse_args(argv)
    request = urllib.request.Request(f"http://127.0.0.1:{args.http_port}/faults", data=args.request.encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as err:
        print(f"takt sim fault: {err.read().decode()}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"takt sim fault: no simulator on port {args.http_port}: {err}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["fault"]:
        return fault_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    for noisy in ("asyncua", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        plant = load_plant(args.config)
        opts = build_options(args, plant)
    except ConfigError as err:
        print(f"takt sim: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(plant, opts))
    except SimError as err:
        log.error("%s", err)
        return 1
    except OSError as err:
        log.error("cannot start: %s", err)
        return 1
    log.info("stopped")
    return 0

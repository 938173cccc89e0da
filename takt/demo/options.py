"""`takt demo` flags and the ports, paths and files they resolve to."""

import argparse
import socket
from dataclasses import dataclass
from pathlib import Path

from takt.demo.errors import DemoError

ROOT = Path(__file__).resolve().parents[2]
PLANT = ROOT / "simulators" / "plants" / "demo.yaml"
SCENARIO = ROOT / "simulators" / "plants" / "demo_shift.yaml"
EDGE_CONFIG = ROOT / "deploy" / "edge" / "demo.yaml"
# Standard ports of the parts; when one is taken (say the system mosquitto on 1883) a free one is used.
DEFAULT_PORTS = {"broker": 1883, "modbus": 5020, "opcua": 4840, "sim_http": 8081}


@dataclass
class Ports:
    server: int
    broker: int
    modbus: int
    opcua: int
    sim_http: int
    notes: list[str]


@dataclass
class DemoOptions:
    host: str
    port: int
    reset: bool
    accel: float
    data_dir: Path
    broker: str  # auto | embedded | mosquitto
    ports: Ports
    scenario: Path | None
    public_host: str

    @property
    def base_url(self) -> str:
        return f"http://{self.public_host}:{self.ports.server}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="takt demo", description="Run a live demo factory on this machine.")
    p.add_argument("--port", type=int, default=8000, help="the server's HTTP port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="the server's address; 0.0.0.0 opens it to the LAN")
    p.add_argument("--reset", action="store_true", help="forget the demo's state in --data-dir, start over")
    p.add_argument(
        "--accel", type=float, default=1.0, help="simulator time acceleration (60: a shift in 8 min)"
    )
    p.add_argument("--data-dir", type=Path, default=Path("var"), help="state and logs (default ./var)")
    p.add_argument("--broker", choices=["auto", "embedded", "mosquitto"], default="auto",
                   help="MQTT broker: mosquitto when installed (auto), or embedded amqtt")  # fmt: skip
    p.add_argument("--broker-port", type=int, help="MQTT port (default 1883, else a free one)")
    p.add_argument("--modbus-port", type=int, help="simulator Modbus TCP port (default 5020, else free)")
    p.add_argument("--opcua-port", type=int, help="simulator OPC UA port (default 4840, else free)")
    p.add_argument("--sim-http-port", type=int, help="simulator control API port (default 8081, else free)")
    p.add_argument("--scenario", default=str(SCENARIO), help="simulator scenario file, or 'none'")
    return p


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pick_port(name: str, asked: int | None, notes: list[str]) -> int:
    """The port asked for (which must be free), else the standard one if free, else any free one."""
    if asked is not None and asked != 0:
        if not port_free(asked):
            raise DemoError(f"port {asked} for --{name.replace('_', '-')}-port is in use; choose another")
        return asked
    standard = DEFAULT_PORTS[name]
    if asked is None and port_free(standard):
        return standard
    port = free_port()
    if asked is None:
        notes.append(f"port {standard} ({name}) is in use on this machine: using {port} instead")
    return port


def lan_address() -> str:
    """This machine's address on its default route (no packet is sent), for links a phone can open."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            return str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def parse(argv: list[str]) -> DemoOptions:
    args = parser().parse_args(argv)
    if args.accel <= 0:
        raise DemoError("--accel must be greater than 0")
    if not port_free(args.port, args.host):
        raise DemoError(
            f"port {args.port} is in use (another server?); try `takt demo --port {args.port + 1}`"
        )
    notes: list[str] = []
    ports = Ports(
        server=args.port,
        broker=pick_port("broker", args.broker_port, notes),
        modbus=pick_port("modbus", args.modbus_port, notes),
        opcua=pick_port("opcua", args.opcua_port, notes),
        sim_http=pick_port("sim_http", args.sim_http_port, notes),
        notes=notes,
    )
    scenario = None if args.scenario == "none" else Path(args.scenario)
    if scenario is not None and not scenario.is_file():
        raise DemoError(f"scenario file {scenario} not found")
    public = args.host if args.host not in {"0.0.0.0", "::", ""} else lan_address()
    return DemoOptions(host=args.host, port=args.port, reset=args.reset, accel=args.accel,
                       data_dir=args.data_dir.resolve(), broker=args.broker, ports=ports, scenario=scenario,
                       public_host=public)  # fmt: skip

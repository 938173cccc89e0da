"""`Demo`: starts the broker, the simulator, the demo data, the server and the edge agent in that order,
prints where to look, watches the children, and stops everything on SIGINT/SIGTERM (edge first)."""

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TextIO

import yaml

from takt.broker import BrokerError, BrokerProcess, EmbeddedBroker, mosquitto_binary
from takt.demo import probes
from takt.demo.banner import Banner, enroll_url, show
from takt.demo.children import Child
from takt.demo.errors import DemoError
from takt.demo.options import EDGE_CONFIG, PLANT, ROOT, DemoOptions
from takt.demo.parts import Parts, detect
from takt.demo.resume import last_counters, resume_plant
from takt.demo.seeding import Seeded, edge_online, now_ms, seed_demo
from takt.demo.state import DataDir

log = logging.getLogger(__name__)
READY_LINE = "takt demo: ready"
PAGES = ("/boss", "/admin", "/login")


class Demo:
    def __init__(self, opts: DemoOptions, out: TextIO = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.dirs = DataDir(opts.data_dir)
        self.parts: Parts = detect()
        self.children: list[Child] = []
        self.embedded: EmbeddedBroker | None = None
        self.broker_desc = "none"
        self.running: list[str] = []
        self.missing: list[str] = [f"{p.name}: {p.detail}" for p in self.parts.missing()]
        self.notes: list[str] = list(opts.ports.notes)
        self.seeded: Seeded | None = None
        self.stopping = threading.Event()

    # --- lifecycle ---
    def run(self) -> int:
        self._install_signals()
        try:
            self.dirs.prepare(self.opts.reset)
            self.start_all()
            if self.stopping.is_set():
                return 0
            self.announce()
            self.watch()
            return 0
        except DemoError as err:
            self.say(f"takt demo: {err}")
            for child in self.children:
                if not child.alive() and child.tail():
                    self.say(f"--- last lines of {child.log_path}:\n{child.tail()}")
            return 1
        finally:
            self.stop_all()

    def _install_signals(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            if not self.stopping.is_set():
                self.say(f"\ntakt demo: {signal.Signals(signum).name}: stopping everything...")
            self.stopping.set()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: its terminal was closed
            signal.signal(sig, handler)

    def say(self, text: str) -> None:
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError):  # the terminal is gone (SIGHUP): keep stopping quietly
            pass

    def start_all(self) -> None:
        steps = (self.start_broker, self.start_simulator, self.load_data, self.start_server, self.start_edge)
        for step in steps:
            if self.stopping.is_set():
                return
            step()

    def stop_all(self) -> None:
        for child in reversed(self.children):  # started broker, sim, server, edge: stop edge first
            child.stop()
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
        self.say("takt demo: stopped; state kept in " + str(self.dirs.root))

    # --- the parts ---
    def start_broker(self) -> None:
        port, kind = self.opts.ports.broker, self.opts.broker
        binary = mosquitto_binary()
        if kind == "mosquitto" and binary is None:
            raise DemoError("--broker mosquitto: mosquitto is not installed (apt-get install mosquitto)")
        if kind == "embedded" or binary is None:
            why = (
                "mosquitto is not installed (apt-get install mosquitto)"
                if binary is None
                else "--broker embedded"
            )
            self.notes.append(f"{why}: the embedded amqtt broker drops unacked in-flight QoS 1 messages")
            self.embedded = EmbeddedBroker("127.0.0.1", port)
            try:
                self.embedded.start()
            except BrokerError as err:
                self.embedded = None
                raise DemoError(str(err)) from err
            self.broker_desc = f"embedded amqtt on 127.0.0.1:{port} (in this process)"
        else:
            proc = BrokerProcess(self.dirs.broker, "127.0.0.1", port, binary)
            (self.dirs.broker / "data").mkdir(parents=True, exist_ok=True)
            proc.conf.write_text(proc.config_text())
            child = Child("mosquitto", [binary, "-c", str(proc.conf)], self.dirs.logs / "mosquitto.log",
                          stop_signal=signal.SIGTERM)  # fmt: skip
            self._launch(child, lambda: probes.port_open("127.0.0.1", port), 15)
            self.broker_desc = f"mosquitto ({binary}) on 127.0.0.1:{port}, log {proc.log_path}"
        self.running.append("broker")

    def start_simulator(self) -> None:
        if not self.parts.ok("simulator"):
            return
        p = self.opts.ports
        plant = PLANT
        if self.parts.ok("server"):
            plant = resume_plant(PLANT, self.dirs.sim / "plant.yaml", last_counters(self.dirs.db, "demo"))
        args = ["sim", "--config", str(plant), "--modbus-port", str(p.modbus), "--opcua-port", str(p.opcua),
                "--http-port", str(p.sim_http), "--accel", str(self.opts.accel),
                "--state-dir", str(self.dirs.sim),
                "--scenario", str(self.opts.scenario) if self.opts.scenario else "none"]  # fmt: skip
        child = Child.takt("simulator", args, self.dirs.logs / "simulator.log", {}, ROOT)
        url = f"http://127.0.0.1:{p.sim_http}"
        self._launch(child, lambda: probes.sim_ready(url), 90)
        self.running.append(f"simulator (Modbus :{p.modbus}, OPC UA :{p.opcua}, accel {self.opts.accel:g})")

    def load_data(self) -> None:
        if not (self.parts.ok("server") and self.parts.ok("seed")):
            return
        self.seeded = seed_demo(self.dirs, self.opts.accel)
        made = ", ".join(f"{n} {k}" for k, n in self.seeded.created.items())
        self.say(f"takt demo: demo data {'created: ' + made if made else 'already in ' + str(self.dirs.db)}")

    def server_env(self) -> dict[str, str]:
        env = {
            "TAKT_DEMO_MODE": "1",
            "TAKT_DATABASE_URL": self.dirs.database_url,
            "TAKT_MQTT_HOST": "127.0.0.1",
            "TAKT_MQTT_PORT": str(self.opts.ports.broker),
            "TAKT_MQTT_CLIENT_ID": "takt-demo-server",
            "TAKT_SITE": "demo",
            "TAKT_HISTORIAN": "sql",
            "TAKT_PUBLIC_URL": self.opts.base_url,
        }
        if self.seeded is not None:
            env["TAKT_SECRET_KEY"] = self.seeded.secrets.secret_key
        return env

    def start_server(self) -> None:
        if not self.parts.ok("server"):
            return
        args = ["server", "--host", self.opts.host, "--port", str(self.opts.ports.server)]
        child = Child.takt("server", args, self.dirs.logs / "server.log", self.server_env(), ROOT)
        url = f"http://127.0.0.1:{self.opts.ports.server}"
        self._launch(child, lambda: probes.server_ready(url), 90)
        self.running.append(f"server ({self.opts.base_url}, SQLite {self.dirs.db}, sql historian)")
        self._check_pages(url)

    def _check_pages(self, url: str) -> None:
        absent = [path for path in PAGES if probes.status_of(url + path) == 404]
        if self.seeded is not None and probes.status_of(f"{url}/s/{self.seeded.secrets.share_token}") == 404:
            absent.append("/s/{token}")
        if absent:
            self.missing.append(
                f"pages: the server answers 404 for {', '.join(absent)} (server/web not ready)"
            )

    def start_edge(self) -> None:
        if not self.parts.ok("edge"):
            return
        p = self.opts.ports
        env = {"TAKT_SIM_MODBUS_PORT": str(p.modbus), "TAKT_SIM_OPCUA_PORT": str(p.opcua),
               "TAKT_MQTT_HOST": "127.0.0.1", "TAKT_MQTT_PORT": str(p.broker),
               "TAKT_EDGE_STATE": str(self.dirs.edge)}  # fmt: skip
        child = Child.takt(
            "edge", ["edge", "--config", str(EDGE_CONFIG)], self.dirs.logs / "edge.log", env, ROOT
        )
        since = now_ms()
        if self.parts.ok("server") and self.parts.ok("ingest"):
            edge_id = str(yaml.safe_load(EDGE_CONFIG.read_text())["edge_id"])
            self._launch(child, lambda: edge_online(self.dirs.db, edge_id, since), 60)
            self.running.append(f"edge agent {edge_id} (online at the server)")
        else:
            self._launch(child, lambda: now_ms() - since > 2000, 10)  # no server to ask: alive for 2 s
            self.running.append("edge agent")

    def _launch(self, child: Child, ready: Callable[[], bool], timeout: float) -> None:
        self.children.append(child)
        child.start()
        child.wait_ready(ready, timeout, self.stopping.is_set)

    # --- after start ---
    def banner(self) -> Banner:
        server = any(c.name == "server" for c in self.children)
        b = Banner(self.opts.base_url, self.broker_desc, self.running, self.missing, self.notes,
                   data_dir=str(self.dirs.root), server_running=server)  # fmt: skip
        if self.seeded is not None and self.parts.ok("server"):
            codes = self.seeded.enroll_codes
            b.stations = {c: enroll_url(self.opts.base_url, c, codes[c]) for c in self.seeded.stations}
            b.share_url = f"{self.opts.base_url}/s/{self.seeded.secrets.share_token}"
            b.shared_order = self.seeded.shared_order
        return b

    def announce(self) -> None:
        b = self.banner()
        show(b, self.out)
        status = {"base_url": b.base_url, "broker": b.broker, "running": b.running, "missing": b.missing,
                  "share_url": b.share_url, "shared_order": b.shared_order, "stations": b.stations,
                  "pids": {c.name: c.pid for c in self.children}}  # fmt: skip
        path = self.dirs.root / "demo-status.json"
        path.write_text(json.dumps(status, indent=2))
        path.chmod(0o600)
        self.say(READY_LINE)

    def watch(self) -> None:
        """Until stopped: report a child that exits (once), keep the others running."""
        while not self.stopping.wait(1.0):
            for child in self.children:
                if not child.alive() and not child.exit_reported:
                    child.exit_reported = True
                    self.say(f"takt demo: {child.name} exited with code {child.returncode()}; "
                             f"see {child.log_path}; the other parts keep running")  # fmt: skip


__all__ = ["READY_LINE", "Demo"]

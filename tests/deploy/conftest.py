"""Run mosquitto with the config shipped in deploy/mosquitto/ (ports and paths substituted)."""

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.installs import Background, DockerInstall, PiInstall, run_dockerfile, run_pi_install
from tests.support.mosquitto import KEEP_USER, Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import ROOT

MQTT_DEPLOY = ROOT / "deploy" / "mosquitto"
ADD_EDGE = MQTT_DEPLOY / "add-edge.sh"
SERVER_PASSWORD = "server-secret"


def _substitute(text: str, subs: dict[str, str], source: str) -> str:
    for old, new in subs.items():
        assert old in text, f"{source} no longer contains {old!r}: update the test's substitutions"
        text = text.replace(old, new)
    return text


def shipped_conf(workdir: Path, port: int) -> str:
    """deploy/mosquitto/mosquitto.conf with the test's port and folders; the ACL file copied verbatim."""
    etc = workdir / "etc"
    (etc / "conf.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(MQTT_DEPLOY / "acl", etc / "acl")
    text = (MQTT_DEPLOY / "mosquitto.conf").read_text()
    subs = {
        "\nlistener 1883\n": f"\nlistener {port} 127.0.0.1\n",
        "/etc/mosquitto/takt/": f"{etc}/",
        "/var/lib/mosquitto/": f"{workdir}/data/",
        "log_dest stdout": f"log_dest file {workdir}/mosquitto.log",
    }
    return _substitute(text, subs, "mosquitto.conf") + KEEP_USER


def enable_tls(
    workdir: Path, tls_port: int, ca_dir: Path, name: str = "tls.conf", shipped_port: int = 8883
) -> None:
    """Install deploy/mosquitto/conf.d/NAME with the test's port and CA folder."""
    text = (MQTT_DEPLOY / "conf.d" / name).read_text()
    subs = {
        f"listener {shipped_port}": f"listener {tls_port} 127.0.0.1",
        "/etc/mosquitto/takt/ca/": f"{ca_dir}/",
    }
    (workdir / "etc" / "conf.d" / name).write_text(_substitute(text, subs, name))


def add_edge(workdir: Path, *args: str) -> str:
    """Run deploy/mosquitto/add-edge.sh against the test broker's folder; return its output."""
    env = {**os.environ, "TAKT_MQTT_DIR": str(workdir / "etc")}
    done = subprocess.run(
        ["bash", str(ADD_EDGE), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class ShippedBroker(Mosquitto):
    """Mosquitto running the shipped config; users are added with add-edge.sh before start()."""

    def __init__(self, workdir: Path):
        super().__init__(workdir, conf_text="")
        self.tls_port: int | None = None
        self.tls_password_port: int | None = None
        self.conf_text = shipped_conf(workdir, self.port)

    def add_edge(self, *args: str) -> str:
        return add_edge(self.workdir, *args)

    def with_tls(self, ca_dir: Path) -> None:
        """Enable the shipped TLS listeners: client certificates (tls_port), passwords (tls_password_port)."""
        self.tls_port = free_port()
        self.tls_password_port = free_port()
        enable_tls(self.workdir, self.tls_port, ca_dir)
        enable_tls(self.workdir, self.tls_password_port, ca_dir, "tls-password.conf", 8884)

    def start(self) -> None:
        super().start()
        for port in (self.tls_port, self.tls_password_port):
            if port is not None:
                wait_for_port(port, timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def shipped_broker(tmp_path: Path) -> Iterator[Callable[[], ShippedBroker]]:
    """Factory: make a ShippedBroker (not started), add users, then start() it. Stopped afterwards."""
    made: list[ShippedBroker] = []

    def make() -> ShippedBroker:
        broker = ShippedBroker(tmp_path / f"broker{len(made)}")
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


class SlowInstalls:
    """The Pi install and the Dockerfile's pip step, started in the background once per session."""

    def __init__(self, tmp: pytest.TempPathFactory):
        self._tmp = tmp
        self._pi: Background[PiInstall] | None = None
        self._docker: Background[DockerInstall] | None = None

    def start_pi(self) -> Background[PiInstall]:
        if self._pi is None:
            root = self._tmp.mktemp("pi")
            self._pi = Background(lambda: run_pi_install(root))
        return self._pi

    def wait_all(self) -> None:
        for background in (self._pi, self._docker):
            if background is not None:
                with contextlib.suppress(BaseException):  # its tests report its errors
                    background.result()

    def start_docker(self) -> Background[DockerInstall]:
        if self._docker is None:
            root = self._tmp.mktemp("docker")
            self._docker = Background(lambda: run_dockerfile(root))
        return self._docker


@pytest.fixture(scope="session", autouse=True)
def slow_installs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlowInstalls]:
    """Start the slow installs the selected tests need as soon as tests/deploy begins."""
    installs = SlowInstalls(tmp_path_factory)
    here = Path(__file__).parent
    modules = {item.path.name for item in request.session.items if item.path.parent == here}
    if "test_pi_and_units.py" in modules:
        installs.start_pi()
    if "test_compose.py" in modules:
        installs.start_docker()
    yield installs
    installs.wait_all()  # never leave an install running past the session

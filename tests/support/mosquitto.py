"""A private mosquitto on a free port that a test may kill, restart or wipe."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.support.ports import free_port, wait_for_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
# Run as root, mosquitto drops to user `mosquitto`, which cannot write pytest's private tmp dirs (log,
# persistence): keep the test runner's user instead.
KEEP_USER = "user root\n" if os.geteuid() == 0 else ""


class Mosquitto:
    """Owns one mosquitto process. `extra_conf` is appended to the generated config; `conf_text`, when
    given, replaces the generated config entirely (it must open a listener on `self.port`)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        extra_conf: str = "",
        anonymous: bool = True,
        conf_text: str | None = None,
    ):
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.data_dir = workdir / "data"
        self.log = workdir / "mosquitto.log"
        self.extra_conf = extra_conf
        self.anonymous = anonymous
        self.conf_text = conf_text
        self.proc: subprocess.Popen[bytes] | None = None

    def write_conf(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.conf_text is not None:
            self.conf.write_text(self.conf_text)
            return
        anonymous = "true" if self.anonymous else "false"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {anonymous}\n"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + KEEP_USER + self.extra_conf
        )

    def start(self) -> None:
        self.write_conf()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=10)

    def kill(self) -> None:
        """SIGKILL: no chance to save queued messages."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def wipe_persistence(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self, wipe: bool = False) -> None:
        self.kill()
        if wipe:
            self.wipe_persistence()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

"""`takt demo` as a child process on free ports, and the processes it starts, found through /proc."""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import ROOT

READY_LINE = "takt demo: ready"


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every live process below `root` (walks /proc parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        start = proc_start_time(pid)
        if start is not None:
            found[pid] = start
        todo.extend(children.get(pid, []))
    return found


def survivors(pids: dict[int, int]) -> list[int]:
    """The pids of `pids` still running (same start time: not a reused pid)."""
    return [pid for pid, start in pids.items() if proc_start_time(pid) == start]


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment contains `text` (say, a test's data folder)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in blob and proc_start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


class DemoProcess:
    def __init__(
        self, data_dir: Path, accel: float = 20.0, extra: list[str] | None = None, log_name: str = "demo.out"
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.admin_token = secrets.token_urlsafe(24)
        self.sim_http_port = free_port()
        self.args = [
            "demo", "--port", str(self.port), "--data-dir", str(data_dir), "--accel", str(accel),
            "--broker-port", str(free_port()), "--modbus-port", str(free_port()),
            "--opcua-port", str(free_port()), "--sim-http-port", str(self.sim_http_port), *(extra or []),
        ]  # fmt: skip
        self.log_path = data_dir.parent / log_name
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TAKT_ADMIN_TOKEN": self.admin_token}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "takt.cli", *self.args], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 120) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"takt demo exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"takt demo not ready within {timeout} s:\n{self.output()}")

    def interrupt(self, timeout: float = 60) -> int:
        """SIGINT to `takt demo` alone (as Ctrl-C in its terminal) and its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill_all(self) -> None:
        """Last resort after a failed test: SIGKILL the demo's group, every process below it, and every
        process naming its data folder (orphans of a demo that died)."""
        if self.proc is None:
            return
        for pid in {*descendants(self.proc.pid), *processes_mentioning(str(self.data_dir))}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

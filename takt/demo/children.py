"""Child processes of the demo, each in its own process group with its log in the data folder.

Their own group means the terminal's Ctrl-C reaches only `takt demo`, which then stops the children in
order (edge first, broker last) and kills whatever is left of each group, so nothing outlives the demo.
Each starts through `takt.demo.launch`, which asks Linux to SIGTERM it if the demo itself dies (SIGKILL).
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from takt.demo.errors import ChildFailed

log = logging.getLogger(__name__)


class Child:
    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGINT,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_reported = False

    @classmethod
    def takt(cls, name: str, args: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> "Child":
        """`python -m takt.cli ARGS` with this interpreter."""
        return cls(name, [sys.executable, "-m", "takt.cli", *args], log_path, env, cwd)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"\n--- takt demo: starting {self.name}: {' '.join(self.argv)}\n".encode())
            out.flush()
            launcher = [sys.executable, "-m", "takt.demo.launch", str(os.getpid())]
            self.proc = subprocess.Popen(
                [*launcher, *self.argv], cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        log.info("%s started (pid %d), log %s", self.name, self.proc.pid, self.log_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait_ready(self, ready: Callable[[], bool], timeout: float, stopping: Callable[[], bool]) -> None:
        """Poll `ready()` until true; ChildFailed if the child exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping():
            if not self.alive():
                raise ChildFailed(f"{self.name} exited with code {self.returncode()}; see {self.log_path}")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.1)
        if not stopping():
            raise ChildFailed(f"{self.name} was not ready within {timeout:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 15.0) -> None:
        """Signal the group, wait for the child, then kill whatever is left of its group."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(proc.pid, self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s: killing it", self.name, timeout)
        self._signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        log.info("%s stopped (exit code %s)", self.name, proc.returncode)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

"""Run a `takt` subcommand as a child process that a test owns."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class TaktProcess:
    """`python -m takt.cli ARGS` with output captured to a log file; stop() never leaves orphans."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.args = args
        self.log_path = log
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "takt.cli", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a power cut would."""
        self._signal(signal.SIGKILL)

    def stop(self, timeout: float = 15, sig: int = signal.SIGINT) -> None:
        """Ctrl-C (or `sig`, e.g. SIGTERM as systemd stops a service), then SIGKILL after `timeout`."""
        if not self.alive():
            self.proc = None
            return
        self._signal(sig)
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
        self.proc = None

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            if sig == signal.SIGKILL:
                self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def edge_agent(config: Path, log: Path) -> Iterator[TaktProcess]:
    """`takt edge --config CONFIG` running for the block, its output in `log`; stopped after it (killed if it
    lingers)."""
    edge = TaktProcess(["edge", "--config", str(config)], log)
    edge.start()
    try:
        yield edge
    finally:
        edge.stop()
        if edge.alive():
            edge.kill()

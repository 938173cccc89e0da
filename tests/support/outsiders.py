"""PLC servers not built on asyncua or pymodbus (node-opcua, modbus-serial: tests/outsiders/), each
playing a machine with a known count, driven by one-line commands (tests/outsiders/machine.js)."""

import fcntl
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.processes import ROOT

OUTSIDERS = ROOT / "tests" / "outsiders"


def install() -> None:
    """`npm ci` of tests/outsiders/package-lock.json once (make outsiders does the same)."""
    stamp = OUTSIDERS / "node_modules" / ".installed"
    lock = OUTSIDERS / "package-lock.json"
    with (OUTSIDERS / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
            return
        command = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(command, cwd=OUTSIDERS, check=True, timeout=600)
        stamp.touch()


class OutsiderPlc:
    """`node SCRIPT ARGS...` on a free port; `send("run 50")` returns the machine's JSON answer."""

    def __init__(self, script: str, args: list[str], log: Path) -> None:
        install()
        self.log = log.open("w")
        self.process = subprocess.Popen(
            ["node", str(OUTSIDERS / script), *args], cwd=OUTSIDERS, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
        )  # fmt: skip
        ready = self._line()
        if "ready" not in ready:
            raise RuntimeError(f"{script} did not start: {ready}")

    def _line(self) -> dict[str, Any]:
        """The next JSON answer (the library's own chatter on stdout goes to the log)."""
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"outsider PLC exited: {self.process.poll()}, see {self.log.name}")
            if line.startswith("{"):
                answer: dict[str, Any] = json.loads(line)
                return answer
            self.log.write(line)

    def send(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._line()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

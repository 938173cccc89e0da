"""deploy/pi/install.sh run for real into a temporary prefix (a real venv, a real pip install of
'.[edge]' from this repository), and the systemd units checked with systemd-analyze verify.

Not exercised here: useradd and systemctl (the test machine is not a Pi and systemd is not PID 1; the
script's CREATE_USER=no and SYSTEMCTL=no switches skip them).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import SlowInstalls
from tests.deploy.installs import PiInstall, clean_env
from tests.support.processes import ROOT

SERVER_UNIT = ROOT / "deploy" / "systemd" / "takt-server.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")  # Debian package `systemd` (deploy/debian-deps.sh)


@pytest.fixture(scope="module")
def pi(slow_installs: SlowInstalls) -> PiInstall:
    """install.sh into a temporary prefix (started in the background by conftest.py)."""
    done = slow_installs.start_pi().result()
    assert done.returncode == 0, done.output
    return done


def venv_run(pi: PiInstall, *args: str) -> subprocess.CompletedProcess[str]:
    """Run in the install's root, not in the repository: `import edge` must not find the checkout."""
    return subprocess.run(
        list(args), cwd=pi.root, env=clean_env(), capture_output=True, text=True, check=False
    )


def venv_python(pi: PiInstall, code: str) -> subprocess.CompletedProcess[str]:
    return venv_run(pi, str(pi.venv / "bin" / "python"), "-c", code)


def test_venv_has_the_edge_and_not_the_server(pi: PiInstall) -> None:
    assert (
        venv_python(
            pi, "import edge.agent, edge.cli, shared.messages, asyncua, pymodbus, paho.mqtt"
        ).returncode
        == 0
    )
    missing = (
        "import importlib.util as u; print([m for m in ('fastapi', 'sqlmodel', 'uvicorn') if u.find_spec(m)])"
    )
    assert venv_python(pi, missing).stdout.strip() == "[]"
    # installed, not linked to the repository: the Pi has no checkout
    where = venv_python(pi, "import edge; print(edge.__file__)").stdout
    assert str(pi.venv) in where


def test_takt_edge_help_runs_from_the_venv(pi: PiInstall) -> None:
    done = venv_run(pi, str(pi.venv / "bin" / "takt"), "edge", "--help")
    assert done.returncode == 0, done.stderr
    assert "takt edge" in done.stdout


def test_config_unit_and_journald_limits_are_written(pi: PiInstall) -> None:
    assert (pi.etc / "edge.yaml").read_text() == (ROOT / "deploy" / "edge" / "demo.yaml").read_text()
    env_file = (pi.etc / "edge.env").read_text()
    assert f"TAKT_EDGE_STATE={pi.root / 'state'}/edge" in env_file
    unit = (pi.root / "systemd" / "takt-edge.service").read_text()
    assert str(pi.venv / "bin" / "takt") in unit  # the prefix was substituted
    assert "/opt/takt" not in unit
    assert f"ReadWritePaths={pi.root / 'state'}" in unit  # the state folder stays writable when moved
    journald = (pi.root / "journald" / "takt.conf").read_text()
    assert "[Journal]" in journald
    assert "SystemMaxUse=200M" in journald


def test_rerun_keeps_the_sites_config(pi: PiInstall) -> None:
    edited = "# the site's own config\n" + (pi.etc / "edge.yaml").read_text()
    (pi.etc / "edge.yaml").write_text(edited)
    done = pi.run(SKIP_VENV="1", JOURNAL_MAX="100M")
    assert done.returncode == 0, done.stderr
    assert (pi.etc / "edge.yaml").read_text() == edited
    assert "SystemMaxUse=100M" in (pi.root / "journald" / "takt.conf").read_text()


def test_missing_interpreter_is_a_clear_error(pi: PiInstall) -> None:
    done = pi.run(PYTHON="/nonexistent/python3", SKIP_VENV="1")
    assert done.returncode != 0
    assert "3.11" in done.stderr


def _verify(unit: Path) -> str:
    assert SYSTEMD_ANALYZE, "systemd-analyze missing: run deploy/debian-deps.sh test"
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    # verify exits 0 even for unknown keys or bad values (it ignores them): any output is a finding.
    return f"rc={done.returncode} {done.stdout}{done.stderr}".strip()


def test_installed_edge_unit_passes_systemd_analyze(pi: PiInstall) -> None:
    assert _verify(pi.root / "systemd" / "takt-edge.service") == "rc=0"


def test_server_unit_passes_systemd_analyze(pi: PiInstall, tmp_path: Path) -> None:
    takt = str(pi.venv / "bin" / "takt")  # an executable at the unit's path, as after an install
    unit = tmp_path / "takt-server.service"
    unit.write_text(SERVER_UNIT.read_text().replace("/opt/takt/venv/bin/takt", takt))
    assert _verify(unit) == "rc=0"


def test_systemd_analyze_does_report_a_broken_unit(tmp_path: Path) -> None:
    unit = tmp_path / "broken.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nRestart=sometimes\nNoSuchKey=1\n")
    assert _verify(unit) != "rc=0"  # the check above can fail


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def test_server_unit_runs_confined_as_its_own_user() -> None:
    service = dict(parse_unit(SERVER_UNIT.read_text())["Service"])
    assert service["User"] == "takt"
    assert service["EnvironmentFile"] == "/etc/takt/server.env"
    assert service["StateDirectory"] == "takt"
    assert service["Restart"] == "always"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/takt"
    assert service["ExecStart"].startswith("/opt/takt/venv/bin/takt server")

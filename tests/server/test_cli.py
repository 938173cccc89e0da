"""`takt server migrate` and `takt server import-edge FILE` against a real database."""

from pathlib import Path

import pytest
from sqlmodel import Session, select

from server import cli
from server.core.db import make_engine
from server.models.plant import Machine, Tag

EDGE = Path(__file__).resolve().parents[2] / "deploy" / "edge" / "demo.yaml"


def test_migrate_and_import_edge(empty_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("TAKT_DATABASE_URL", empty_db_url)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["import-edge", str(EDGE)]) == 0
    first = capsys.readouterr().out
    assert "edge line-a (site demo)" in first and " 0 tags created" not in first
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        cnc1 = session.exec(select(Machine).where(Machine.code == "cnc1")).one()
        roles = {
            t.name: (t.role, t.width) for t in session.exec(select(Tag).where(Tag.machine_id == cnc1.id))
        }
    assert (
        cnc1.edge_id == "line-a" and roles["good_count"] == ("counter", 16) and roles["running"][0] == "run"
    )
    assert cli.main(["import-edge", str(EDGE)]) == 0  # again: nothing new
    assert "0 machines created, 0 tags created, 0 updated" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: demo\nedge_id: x\ndevices: [{name: d, protocol: carrier-pigeon}]\n")
    assert cli.main(["import-edge", str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err


def test_takt_server_serves(tmp_path: Path, port: int) -> None:
    """`takt server` in a subprocess: migrates, serves /healthz and the API, stops cleanly on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    env = os.environ | {
        "TAKT_DATABASE_URL": f"sqlite:///{tmp_path / 'takt.db'}", "TAKT_SECRET_KEY": "s" * 32,
        "TAKT_ADMIN_TOKEN": "a" * 32, "TAKT_MQTT_ENABLED": "false", "TAKT_DEMO_MODE": "false",
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "takt.cli", "server", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health == {"ok": True, "site": "demo"}
        listing = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/work-orders", headers={"Authorization": "Bearer " + "a" * 32}
        )
        assert listing.json()["total"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0 and "Traceback" not in output, output
    assert "Shutting down" in output and "a" * 32 not in output


def test_import_edge_makes_machines_only_from_the_tags_machine_fields(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A gateway device serving two machines: the machines its tags name, no phantom machine per device."""
    monkeypatch.setenv("TAKT_DATABASE_URL", empty_db_url)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "site: demo\nedge_id: gw\nbroker: {host: 127.0.0.1, port: 1883}\nbuffer: {path: outbox.db}\n"
        "devices:\n"
        "  - {name: plc-gateway, protocol: modbus_tcp, host: 127.0.0.1, port: 5020, tags: [\n"
        "      {name: shots, table: holding, address: 0, type: uint32, role: cycle_counter, width: 32,"
        " machine: press-1, parts_per_cycle: 4},\n"
        "      {name: good_count, table: holding, address: 10, type: uint16, role: counter, width: 16,"
        " machine: press-2, direction: down, reset_value: 500}]}\n"
    )
    assert cli.main(["migrate"]) == 0
    assert cli.main(["import-edge", str(config)]) == 0
    with Session(make_engine(empty_db_url)) as session:
        codes = sorted(m.code for m in session.exec(select(Machine)))
        tags = {
            t.name: (t.role, t.direction, t.reset_value, t.parts_per_cycle) for t in session.exec(select(Tag))
        }
    assert codes == ["press-1", "press-2"]
    assert tags == {"shots": ("cycle_counter", "up", 0, 4), "good_count": ("counter", "down", 500, None)}

"""`takt demo` end to end: a subprocess on free ports, machine counts reaching the started orders through
the real simulator, edge agent, mosquitto and server, the pages, then Ctrl-C leaving no process behind."""

import json
import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.support import DemoProcess, descendants, processes_mentioning, survivors
from tests.support.waiting import wait_until

# (order, step, machine) of every operation the demo data starts
RUNS = [("WO-2311-042", 1, "press1"), ("WO-2311-042", 2, "pack1"), ("WO-2311-043", 1, "cnc1"),
        ("WO-2311-044", 1, "cnc2"), ("WO-2311-045", 1, "mold1"), ("WO-2311-046", 1, "mold2")]  # fmt: skip
STARTED = {"WO-2311-042": ["press1", "pack1"], "WO-2311-043": ["cnc1"], "WO-2311-044": ["cnc2"],
           "WO-2311-045": ["mold1"], "WO-2311-046": ["mold2"]}  # fmt: skip
NOT_STARTED = ["WO-2311-047", "WO-2311-048"]


@pytest.fixture
def demos(tmp_path: Path) -> Iterator[list[DemoProcess]]:
    """Two runs of the demo on one data folder (the second started by the test)."""
    runs = [DemoProcess(tmp_path / "var", accel=20.0, log_name=f"demo{i}.out") for i in (1, 2)]
    yield runs
    for run in runs:
        run.kill_all()


def machine_good(api: httpx.Client, number: str) -> dict[str, int]:
    progress = api.get(f"/api/v1/work-orders/{number}/progress").raise_for_status().json()
    return {op["machine"]: op["machine_counts"]["good"] for op in progress["operations"] if op["machine"]}


wait_for = partial(wait_until, interval=0.5)  # each check asks the demo's HTTP API


def api_client(demo: DemoProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {demo.admin_token}"}
    return httpx.Client(base_url=demo.base_url, headers=headers, timeout=10)


def check_counts_flow(demo: DemoProcess) -> None:
    with api_client(demo) as api:
        first = wait_for(
            lambda: machine_good(api, "WO-2311-042")["press1"], 60, "press1 counts in WO-2311-042"
        )
        wait_for(lambda: machine_good(api, "WO-2311-042")["press1"] > first, 60, "press1 counts rising")
        for number, machines in STARTED.items():
            counts = wait_for(lambda n=number: all(machine_good(api, n).values()) and machine_good(api, n),
                              60, f"machine counts in {number}")  # fmt: skip
            assert sorted(counts) == sorted(machines)
        for number in NOT_STARTED:  # never started: no machine count may land in them
            order = api.get(f"/api/v1/work-orders/{number}").raise_for_status().json()
            assert all(op["machine_good"] == 0 for op in order["operations"])


def check_pages(demo: DemoProcess, share_url: str, enroll_url: str) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as tablet:
        enrolled = tablet.get(enroll_url)
        assert enrolled.status_code == 303 and enrolled.headers["location"] == "/station/press1"
        assert tablet.get("/station/press1").status_code == 200  # the badge + PIN page of an enrolled tablet
    with httpx.Client(base_url=demo.base_url, timeout=10) as web:
        signed_in = web.post("/login", data={"username": "boss", "password": "takt-boss"},
                             headers={"Origin": demo.base_url})  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        boss = web.get("/boss")
        assert boss.status_code == 200
        assert "press1" in boss.text.lower()
        share = httpx.get(share_url, timeout=10)
        assert share.status_code == 200
        assert "BRKT-417" in share.text and "First article" in share.text  # the seeded inspection
        assert "SHAFT-D40" not in share.text  # another order's product
        assert "王芳" not in share.text and "Acme" not in share.text  # no operators, no customer names
        view = httpx.get(share_url + ".json", timeout=10).raise_for_status().json()
        assert view["good"] > 0  # the machine counts reach the customer's page


def check_reports_have_data(demo: DemoProcess) -> None:
    """Every report shows data within two minutes of the start (the demo's shift calendar and its patrol
    inspections' history): OEE on the daily report for the shift now running, SPC with a chart, production."""
    with api_client(demo) as api:

        def daily() -> dict[str, list[dict[str, Any]]] | None:
            tables = api.get("/api/v1/reports/daily").raise_for_status().json()["tables"]
            found = {t["name"]: t["rows"] for t in tables}
            oee = [r for r in found.get("oee", []) if isinstance(r.get("oee"), int | float) and r["oee"] > 0]
            good = sum(r["good"] for r in found.get("production", []))
            return found if oee and good > 0 else None

        wait_for(daily, 120, "the daily report with production and OEE for the shift now running")
        plans = api.get("/api/v1/inspection-plans").raise_for_status().json()
        patrol = next(c for p in plans if p["name"].startswith("巡检") for c in p["characteristics"])
        chart = api.get(f"/api/v1/reports/spc/{patrol['id']}").raise_for_status().json()["chart"]
        assert chart is not None and len(chart["centre"]) >= 20  # SPC has enough subgroups from the start


def start_and_collect(demo: DemoProcess) -> tuple[dict[str, Any], dict[int, int]]:
    demo.start()
    demo.wait_ready()
    out = demo.output()
    assert "MQTT broker: mosquitto" in out
    assert "MISSING" not in out, out
    status = json.loads((demo.data_dir / "demo-status.json").read_text())
    assert status["share_url"] in out and "/boss" in out and "/station/press1" in out
    children = descendants(demo.proc.pid if demo.proc else 0)
    assert len(children) >= 4  # mosquitto, simulator, server, edge (and anything they started)
    assert len(processes_mentioning(str(demo.data_dir))) >= 5  # those and the demo: the check below can see
    return status, children


def stop_clean(demo: DemoProcess, children: dict[int, int]) -> None:
    assert demo.interrupt() == 0
    assert survivors(children) == []
    assert processes_mentioning(str(demo.data_dir)) == []  # nothing started for this folder lives on
    assert "stopped" in demo.output()


def stored_counts(db: Path) -> dict[str, int]:
    """{machine: machine_good of its operation} read from the stopped demo's database."""
    found = {}
    with sqlite3.connect(db) as conn:
        for number, step, machine in RUNS:
            row = conn.execute(
                "SELECT o.machine_good FROM operation o JOIN workorder w ON w.id = o.work_order_id "
                "WHERE w.number = ? AND o.step_no = ?",
                (number, step),
            ).fetchone()
            found[machine] = int(row[0])
    return found


def check_resumed_counts(demo: DemoProcess, before: dict[str, int]) -> None:
    """After a restart each order gains what its machine made since, never more (no counter-restart leap)."""
    with api_client(demo) as api:
        for number, _step, machine in RUNS:
            gained = wait_for(lambda n=number, m=machine: machine_good(api, n)[m] - before[m], 60,
                              f"{machine} counting again into {number}")  # fmt: skip
            made = httpx.get(f"http://127.0.0.1:{demo.sim_http_port}/ground-truth", timeout=10).json()
            assert 0 < gained <= made["machines"][machine]["good"], (
                machine,
                gained,
                made["machines"][machine],
            )


def test_demo_runs_counts_pages_stops_clean_and_restarts(demos: list[DemoProcess]) -> None:
    first, second = demos
    status, children = start_and_collect(first)
    assert "demo data created" in first.output()
    check_counts_flow(first)
    check_reports_have_data(first)
    check_pages(first, status["share_url"], status["stations"]["press1"])
    stop_clean(first, children)
    before = stored_counts(first.data_dir / "takt.db")

    status2, children = start_and_collect(second)  # same folder: the state and the links persist
    assert "demo data already in" in second.output()
    assert status2["share_url"].rsplit("/", 1)[1] == status["share_url"].rsplit("/", 1)[1]
    assert (second.data_dir / "sim" / "plant.yaml").exists()  # the machines resume their counters
    check_resumed_counts(second, before)
    stop_clean(second, children)


def test_ctrl_c_while_starting_stops_what_was_started(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path / "var", accel=20.0)
    demo.start()
    try:
        wait_for(lambda: (demo.data_dir / "logs" / "simulator.log").exists(), 60, "the simulator starting")
        assert len(processes_mentioning(str(demo.data_dir))) >= 3  # the demo, mosquitto, the simulator
        assert demo.interrupt() == 0
        out = demo.output()
        assert "SIGINT: stopping everything" in out and "takt demo: ready" not in out
        assert processes_mentioning(str(demo.data_dir)) == []
    finally:
        demo.kill_all()


def test_a_killed_demo_takes_its_children_with_it(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path / "var", accel=20.0)
    demo.start()
    try:
        wait_for(lambda: (demo.data_dir / "logs" / "simulator.log").exists(), 60, "the simulator starting")
        wait_for(
            lambda: len(processes_mentioning(str(demo.data_dir))) >= 3, 30, "mosquitto and the simulator"
        )
        assert demo.proc is not None
        demo.proc.kill()  # SIGKILL: no chance to clean up; the children's parent-death signal must do it
        demo.proc.wait(timeout=10)
        wait_for(lambda: not processes_mentioning(str(demo.data_dir)), 30, "every child gone")
    finally:
        demo.kill_all()

"""A dead edge is seen (docs/ingest.md, "Edge status"): `kill -9` of a real `takt edge` while its machines
run, and a network blackhole between edge and broker through the fault proxy (the broker's keepalive fires
the will), each make the edge offline and its machines show "no data since <time>" within keepalive x 1.5,
on the API and on the boss page in Chromium; the next birth brings them back.

The waits below are bounds, not measurements: keepalive x 1.5 plus the time the server needs to take the
will or the silence in."""

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import sync_playwright
from sqlmodel import Session

from server.models.ingest import EdgeStatus
from tests.faults.plant import ADMIN_TOKEN, MACHINES, Plant
from tests.support.waiting import wait_until

KEEPALIVE_S = 5  # the plant's edge config
# A kill closes the socket: the broker sends the will at once. A cut is seen by the server's heartbeat
# watchdog (server/ingest/liveness.py) keepalive x 1.5 after the edge's last heartbeat, at most that after
# the cut (the broker's own will comes up to ~7 s later: mosquitto 2.0 sweeps keepalives every 6 s). The
# bound is checked on when the server marked the edge offline (`received_ms`), plus 1 s for the worker's
# pass and this test's clock reading; the API wait is longer, as this test's polling lags on a loaded box.
BOUND_S = KEEPALIVE_S * 1.5 + 1
API_WAIT_S = 60
PASSWORD = "liveness-boss-pw-1234"
SITE_ZONE, TABLET_ZONE = "Asia/Shanghai", "America/New_York"  # the tablet's own zone must not show


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    running = Plant(tmp_path_factory.mktemp("liveness"))
    try:
        running.start()
        body = {"username": "boss", "display_name": "Boss", "role": "supervisor", "password": PASSWORD}
        created = httpx.post(f"{running.base}/api/v1/users", json=body,
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
        assert created.status_code == 201, created.text
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tablet_link(plant: Plant) -> str:
    return tablet_for(plant, MACHINES[0])


def tablet_for(plant: Plant, machine: str) -> str:
    """A station on `machine` with an enrolled tablet and an operator (badge B-live, PIN 4321); the site's
    zone set to SITE_ZONE. Returns the path of the tablet's one-time enrollment link."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def call(method: str, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.request(method, f"{plant.base}/api/v1{path}", json=body, headers=admin)
        assert answer.is_success, answer.text
        return answer.json()

    site = plant.api("/sites")["items"][0]
    call("PATCH", f"/sites/{site['code']}", {"timezone": SITE_ZONE})
    line = call("POST", "/lines", {"site_id": site["id"], "code": "live", "name": "Liveness"})
    found = plant.api(f"/machines/{machine}")
    call("POST", "/stations", {"code": f"st-{machine}", "name": machine, "line_id": line["id"],
                               "machine_id": found["id"]})  # fmt: skip
    operator = {"username": "live-op", "display_name": "Op", "role": "operator", "badge": "B-live",
                "pin": "4321"}  # fmt: skip
    call("POST", "/users", operator)
    link = str(call("POST", "/tablets", {"station": f"st-{machine}", "name": "tab-live"})["enroll_url"])
    return "/station/" + link.split("/station/", 1)[1]


def tablet_no_data_line(plant: Plant, link: str) -> str:
    """The station page in Chromium (the tablet in another zone than the site): its "no data since" line."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="en", timezone_id=TABLET_ZONE,
                                          extra_http_headers={"Accept-Language": "en"})  # fmt: skip
            page = context.new_page()
            page.goto(f"{plant.base}{link}")
            page.fill("#badge", "B-live")
            page.fill("#pin", "4321")
            page.click("#signin")
            page.wait_for_selector("#job")
            page.wait_for_selector("#no-data:not([hidden])")
            return page.locator("#no-data").inner_text()
        finally:
            browser.close()


def offline_ms(plant: Plant) -> int:
    """When the server marked the edge offline: its will taken in, or its silence seen."""
    with Session(plant.engine) as session:
        status = session.get(EdgeStatus, "plant-edge")
        assert status is not None and not status.online
        return status.received_ms


def dead(plant: Plant) -> dict[str, Any] | None:
    """The edge and every machine's live view, once the edge is offline and every machine shows no data."""
    edge = plant.api("/edges/plant-edge")
    lives = {m: plant.api(f"/machines/{m}/live") for m in MACHINES}
    if edge["online"] or any(live["state"] != "offline" or live["no_data_since_ms"] is None
                             for live in lives.values()):  # fmt: skip
        return None
    return {"edge": edge, "machines": lives}


def alive(plant: Plant) -> bool:
    edge = plant.api("/edges/plant-edge")
    return bool(edge["online"]) and all(
        plant.api(f"/machines/{m}/live")["state"] == "running" for m in MACHINES
    )


def boss_tiles_without_data(plant: Plant) -> dict[str, str]:
    """The boss page in Chromium: each machine tile's "no data since" line (empty when it has none)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="en", extra_http_headers={"Accept-Language": "en"})
            page.goto(f"{plant.base}/login?next=/boss")
            page.fill("input[name=username]", "boss")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/boss")
            found = {}
            for machine in MACHINES:
                tile = page.locator(f'#tiles [data-machine="{machine}"]')
                line = tile.locator("[data-no-data]")
                found[machine] = line.inner_text() if line.count() else ""
            return found
        finally:
            browser.close()


@pytest.mark.faults
def test_an_edge_killed_while_its_machines_run_is_offline_and_they_show_no_data(
    plant: Plant, tablet_link: str
) -> None:
    with plant.production():
        wait_until(lambda: alive(plant), 60, "the edge online and its machines running")
        killed_ms = int(time.time() * 1000)
        plant.edge.kill()
        seen = wait_until(
            lambda: dead(plant), API_WAIT_S, "the edge offline and its machines without data", 0.5
        )
        assert offline_ms(plant) - killed_ms <= BOUND_S * 1000
        for live in seen["machines"].values():
            assert live["no_data_since_ms"] <= killed_ms + 1000  # its last sample, not a later state
        tiles = boss_tiles_without_data(plant)
        assert all(line.startswith("No data since ") for line in tiles.values()), tiles
        since_ms = seen["machines"][MACHINES[0]]["no_data_since_ms"]
        local = datetime.fromtimestamp(since_ms / 1000, ZoneInfo(SITE_ZONE)).strftime("%H:%M:%S")
        assert tiles[MACHINES[0]] == f"No data since {local}"
        assert (
            tablet_no_data_line(plant, tablet_link) == f"No data since {local}"
        )  # the site's time, not the tablet's
        plant.ensure_running()  # the next birth brings them back
        wait_until(lambda: alive(plant), 60, "the edge back online and its machines running")
    assert not any(boss_tiles_without_data(plant).values())


@pytest.mark.faults
def test_an_edge_cut_from_the_broker_is_offline_by_the_brokers_keepalive(plant: Plant) -> None:
    with plant.production():
        wait_until(lambda: alive(plant), 60, "the edge online and its machines running")
        cut_ms = int(time.time() * 1000)
        plant.proxy.drop(True)  # a blackhole: no FIN, no RST; only the keepalive can tell
        try:
            wait_until(
                lambda: dead(plant), API_WAIT_S, "the edge offline through the broker's keepalive", 0.5
            )
            assert offline_ms(plant) - cut_ms <= BOUND_S * 1000
            assert all(line for line in boss_tiles_without_data(plant).values())
        finally:
            plant.proxy.drop(False)
        wait_until(lambda: alive(plant), 60, "the edge back online after the network came back")

"""Web fixtures: the real app under uvicorn in a thread (SQLite in tmp, a private mosquitto so ingestion runs
for real), a seeded plant, headless Debian chromium via Playwright, screenshots to `test-artifacts/`.

    def test_x(live: LiveServer, new_page: PageFactory) -> None:
        page = new_page("phone", "zh-CN")          # 390x844; "tablet" is 1280x800
        page.goto(live.url("/boss"))

`live` is one server per test module (state is shared by that module's tests: use fresh order numbers).
A screenshot named after the test is saved on failure.
"""

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import Engine

from server.core.db import init_db, make_engine
from server.core.services import Services, services_of
from server.core.settings import Settings
from server.main import create_app
from shared import topics
from shared.messages import BufferStatus, DataBatch, Sample, Status, encode
from tests.server.factory import Plant, build_plant, make_order, ok
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.waiting import wait_until as wait_until  # re-exported for the page tests

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SIZES = {"phone": {"width": 390, "height": 844}, "tablet": {"width": 1280, "height": 800}}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
EDGE = "edge-a"
SHARE_BURST = 40
MACHINE_TAGS = [("good_count", "counter", 16), ("scrap_count", "scrap_counter", 16), ("state", "state", None),
                ("running", "run", None), ("temperature", "analog", None)]  # fmt: skip


@dataclass
class LiveServer:
    base: str
    engine: Engine
    settings: Settings
    http: httpx.Client
    plant: Plant
    broker: Mosquitto
    app: Any = None
    device_tokens: dict[str, str] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def services(self) -> Services:
        return services_of(self.app)

    def edge(self) -> "Edge":
        """The one simulated edge of this server (its `seq` must keep rising across tests)."""
        if "edge" not in self.shared:
            self.shared["edge"] = Edge(self.broker.port)
        return self.shared["edge"]  # type: ignore[no-any-return]

    def reset_share_limiter(self) -> None:
        self.services.share_limiter.reset()


def core_settings(db_url: str, mqtt_port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "admin_token": ADMIN_TOKEN, "secret_key": "test-secret-key-0123456789abcdef",
        "mqtt_enabled": True, "mqtt_port": mqtt_port, "mqtt_client_id": f"takt-web-{mqtt_port}",
        "argon2_time_cost": 1, "argon2_memory_kib": 1024,
        "signin_max_failures": 3, "signin_lockout_s": 60, "_env_file": None,
        # one address signs every test's users in here (the limit itself: tests/server/test_signin.py)
        "signin_rate_burst": 10_000, "signin_rate_per_minute": 10_000,
    }  # fmt: skip
    return Settings(**(values | overrides))


class ThreadServer:
    """uvicorn serving `app` in a daemon thread on 127.0.0.1:`port` (signal handlers off)."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{port}", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn thread died during start"
            assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seed(live: LiveServer) -> None:
    """The factory plant (tests/server/factory.py) plus tags on lathe-1 for ingestion and a tablet."""
    http = live.http
    ok(http.patch("/api/v1/machines/lathe-1", json={"edge_id": EDGE}, headers=ADMIN))
    for name, role, width in MACHINE_TAGS:
        ok(http.post("/api/v1/machines/lathe-1/tags", json={"name": name, "role": role, "width": width},
                     headers=ADMIN), 201)  # fmt: skip
    tablet = ok(
        http.post("/api/v1/tablets", json={"station": "st-lathe-1", "name": "tab-1"}, headers=ADMIN), 201
    )
    live.device_tokens["st-lathe-1"] = tablet["device_token"]
    # Machines and tags made through the API after ingestion started: tell its registry to reload now
    # (it would by itself only when a sample names an unknown machine, at most every 2 s).
    ingestor = live.services.ingestor
    assert ingestor is not None
    ingestor.registry.invalidate()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("web")
    broker = Mosquitto(tmp / "mosquitto")
    broker.start()
    db_url = f"sqlite:///{tmp / 'takt.db'}"
    settings = core_settings(
        db_url, broker.port, data_dir=tmp / "data", share_rate_burst=SHARE_BURST, alert_down_minutes=0.05,
        live_refresh_s=2, sparkplug_groups=["plant"],
    )  # fmt: skip
    engine = make_engine(db_url)
    init_db(engine)
    port = free_port()
    app = create_app(settings, engine=engine)
    server = ThreadServer(app, port)
    server.start()
    ingestor = services_of(app).ingestor
    # tests publish once: a message sent before the subscription would be lost
    assert ingestor is not None and ingestor.link.connected.wait(10), "ingestor did not subscribe"
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=20)
    try:
        live = LiveServer(base, engine, settings, http, build_plant(http), broker, app)  # type: ignore[arg-type]
        seed(live)
        yield live
    finally:
        if "live" in locals() and "edge" in live.shared:
            live.shared["edge"].close()
        http.close()
        server.stop()
        engine.dispose()
        broker.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PageFactory = Callable[..., Page]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# assertions wait as long as actions do: 5 s (Playwright's default) is short on a loaded 2-core CI box, where
# a station's complete waited behind other tests' writes and the dialog's text came late
expect.set_options(timeout=10_000)


@pytest.fixture
def new_page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[PageFactory]:
    """Factory: new_page(size="phone"|"tablet", locale="zh-CN"|"en") -> a Page in a fresh context."""
    contexts: list[tuple[BrowserContext, Page]] = []

    def make(size: str = "phone", locale: str = "zh-CN") -> Page:
        context = browser.new_context(viewport=SIZES[size], locale=locale, extra_http_headers={
            "Accept-Language": locale})  # fmt: skip
        context.set_default_timeout(10_000)
        page = context.new_page()
        contexts.append((context, page))
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    for i, (context, page) in enumerate(contexts):
        if failed is not None and failed.failed:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}-{i}.png"), full_page=True)
        context.close()


def shot(page: Page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def enroll_path(live: LiveServer, station: str = "st-lathe-1") -> str:
    """The one-time enrollment link (its path) of a new tablet at `station`: links work once, and enrolling
    an existing tablet again would rotate the device token other tests hold."""
    body = {"station": station, "name": f"tab-{uuid.uuid4().hex[:8]}"}
    answer = ok(live.http.post("/api/v1/tablets", json=body, headers=ADMIN), 201)
    return "/station/" + str(answer["enroll_url"]).split("/station/", 1)[1]


def enroll_and_sign_in(page: Page, live: LiveServer, station: str = "st-lathe-1", badge: str = "B-operator1",
                       pin: str = "4321", link: str | None = None) -> None:  # fmt: skip
    """Open a tablet's enrollment link (a new tablet's unless `link`), then sign in with badge + PIN."""
    page.goto(live.url(link or enroll_path(live, station)))
    page.fill("#badge", badge)
    page.fill("#pin", pin)
    page.click("#signin")
    page.wait_for_selector("#job")
    page.wait_for_function(
        "() => window.taktStation !== undefined"
    )  # the deferred script has bound its buttons


def offline_ready(page: Page, path: str = "/station/st-lathe-1") -> None:
    """Wait until the station's service worker controls `page` and keeps its signed-in page for offline
    (polled from here: the page's CSP refuses the eval that wait_for_function polls with)."""
    wait_until(
        lambda: page.evaluate("navigator.serviceWorker.controller !== null"), what="the worker in control"
    )
    kept = f"caches.match({path!r}).then(r => !!r && r.headers.has('X-Takt-Offline-Page'))"
    wait_until(lambda: page.evaluate(kept), what="the page kept for offline")


def login(page: Page, live: LiveServer, username: str, next_path: str = "") -> None:
    page.goto(live.url(f"/login?next={next_path}" if next_path else "/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", live.plant.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_load_state()


def start_order(live: LiveServer, number: str, quantity: int = 100, **extra: object) -> None:
    """A released order whose first step runs on lathe-1 (via the API, as the planner and an operator)."""
    make_order(live.plant, number, quantity, **extra)
    ok(live.http.post(f"/api/v1/work-orders/{number}/release", headers=live.plant.as_("planner")))
    body = {"step_no": 10, "machine": "lathe-1"}
    ok(live.http.post(f"/api/v1/work-orders/{number}/start", json=body, headers=live.plant.as_("operator")))


class Edge:
    """Publishes sample batches for `EDGE` to the live server's broker, like an edge agent would."""

    def __init__(self, port: int) -> None:
        self.seq = self.last_ms = 0
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"web-edge-{port}-{time.monotonic_ns()}"
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, machine: str, **values: float) -> None:
        self.seq += 1
        now = self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)  # sample times strictly increase
        samples = [Sample(machine, tag, now, value) for tag, value in values.items()]
        payload = encode(DataBatch(edge_id=EDGE, seq=self.seq, sent_ms=now, samples=samples))
        self.client.publish(topics.data("demo", EDGE), payload, qos=1).wait_for_publish(5)

    def status(self, dropped: dict[str, int], span: tuple[int, int] | None = None) -> None:
        """A status message whose outbox has dropped `dropped` samples (role -> total) past its quota,
        stamped `span` (ms, ms) of sample time."""
        buffer = BufferStatus(depth=100, bytes=60_000, oldest_ms=None, dropped_samples=dropped,
                              dropped_from_ms=span and span[0], dropped_to_ms=span and span[1])  # fmt: skip
        status = Status(
            edge_id=EDGE, online=True, ts_ms=int(time.time() * 1000), version="test", buffer=buffer
        )
        self.client.publish(topics.status("demo", EDGE), encode(status), qos=1, retain=True).wait_for_publish(
            5
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""X-Forwarded-For is believed only from configured reverse proxies (docs/reliability.md, case H8): the
share-link rate limit cannot be dodged by rotating the header. Real uvicorn, configured as `takt server`
configures it (`server.cli.uvicorn_config`)."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import Engine

from server.cli import uvicorn_config
from server.core.settings import Settings
from server.main import create_app
from tests.server.factory import ADMIN, build_plant, ok
from tests.support.ports import free_port

BURST = 5


@contextmanager
def _serving(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    app = create_app(
        settings.model_copy(update={"share_rate_burst": BURST, "share_rate_per_minute": 1}), engine=engine
    )
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port, "warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _rotating(http: httpx.Client, token: str) -> list[int]:
    """The share link fetched BURST * 3 times, each from a 'new' address in X-Forwarded-For."""
    return [
        http.get(f"/s/{token}.json", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(BURST * 3)
    ]


def test_rotating_x_forwarded_for_does_not_dodge_the_share_rate_limit(
    settings: Settings, engine: Engine
) -> None:
    assert Settings(_env_file=None).forwarded_allow_ips is None  # type: ignore[call-arg]  # off by default
    with _serving(settings, engine) as http:
        build_plant(http)  # type: ignore[arg-type]
        make_order_http(http)
        token = ok(http.post("/api/v1/work-orders/WO-XFF/share-links", headers=ADMIN), 201)["token"]
        codes = _rotating(http, token)
        assert codes[:BURST] == [200] * BURST and codes[-1] == 429, codes
    # behind a configured reverse proxy the header names the client: each address has its own budget
    proxied = settings.model_copy(update={"forwarded_allow_ips": "127.0.0.1"})
    with _serving(proxied, engine) as http:
        assert _rotating(http, token) == [200] * (BURST * 3)


def make_order_http(http: httpx.Client) -> None:
    ok(http.post("/api/v1/work-orders", json={"number": "WO-XFF", "product": "PIN-7", "quantity": 5},
                 headers=ADMIN), 201)  # fmt: skip

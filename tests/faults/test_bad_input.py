"""Fault suite, bad input (issue 8, cases 11-15), against real parts: mosquitto + the Ingestor, a real
`takt server` process spoken to over raw sockets and HTTP, and the real `takt` commands as subprocesses.

Cases proven elsewhere and marked `faults` there: tests/server/ingest/test_ingestor.py (11),
tests/server/test_hardening.py (12, 14), tests/server/test_work_reports.py (13), tests/web/test_security.py
(14: upload names), tests/edge/test_config.py and tests/simulators/test_config.py (15).
"""

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.ingest import Ingestor
from server.models.ingest import DeadLetter
from tests.edge.support import MINIMAL_CONFIG
from tests.faults.realserver import MAX_BODY_BYTES, RealServer, enroll_tablet, real_server
from tests.server.conftest import db_url, engine, pg_template, sqlite_template
from tests.server.factory import make_order, ok
from tests.server.ingest.conftest import broker, connected_ingestors, ingest_settings
from tests.server.ingest.support import EDGE, T0, Broker, counts, cursor, machine_counts, make_plant, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import ROOT
from tests.support.together import together

__all__ = ["broker", "db_url", "engine", "pg_template", "real_server", "sqlite_template"]  # fixtures

# -- 11 + 12 (MQTT): malformed and oversized payloads ------------------------------------------------------

MQTT_LIMIT = 4096


def _raw(seq: object, sample: str, v: object = 1) -> bytes:
    return (
        f'{{"v":{v},"edge_id":"{EDGE}","seq":{seq},"sent_ms":{T0},"samples":[["m1",{sample},"good"]]}}'
    ).encode()


MALFORMED = {
    "not utf-8 at all": b"\xff\xfe\xfd garbage",
    "invalid utf-8 in a string": _raw(2, f'"program",{T0},"XX"').replace(b'"XX"', b'"\xff\xfe"'),
    "NaN": _raw(2, f'"good_count",{T0},NaN'),
    "Infinity": _raw(2, f'"good_count",{T0},-Infinity'),
    "number out of range": _raw(2, f'"good_count",{T0},1e999'),
    "seq of the wrong type": _raw('"2"', f'"good_count",{T0},5'),
    "value of the wrong type": _raw(2, f'"good_count",{T0},{{"n":5}}'),
    "timestamp of the wrong type": _raw(2, '"good_count","yesterday",5'),
    "unknown version": _raw(2, f'"good_count",{T0},5', v=2),
    "not json": b"<xml>5</xml>",
}


def _oversized_valid_batch(seq: int) -> bytes:
    """A well-formed batch that would count 1000 parts if it were decoded: it must not be."""
    samples = ",".join(f'["m1","temperature",{T0 + i},{20 + i % 7},"good"]' for i in range(200))
    payload = (
        f'{{"v":1,"edge_id":"{EDGE}","seq":{seq},"sent_ms":{T0},'
        f'"samples":[["m1","good_count",{T0 + 5000},1000,"good"],{samples}]}}'
    ).encode()
    assert len(payload) > MQTT_LIMIT
    return payload


def _dead_letters(engine: Engine) -> list[DeadLetter]:
    with Session(engine) as session:
        return list(session.exec(select(DeadLetter).order_by(DeadLetter.id)).all())


@pytest.fixture
def settings_ingestor(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[Callable[[], Ingestor]]:
    """Ingestors built as `takt server` builds them: options from Settings (mqtt_max_payload_bytes)."""
    client_id = f"takt-faults-{uuid.uuid4().hex[:8]}"  # the same persistent session for every restart
    settings = ingest_settings(db_url, mosquitto.port, client_id=client_id, mqtt_max_payload_bytes=MQTT_LIMIT)
    with connected_ingestors(engine) as start:
        yield lambda: start(settings, None)


def test_malformed_and_oversized_mqtt_payloads_are_dead_lettered_acked_and_later_batches_flow(
    engine: Engine, settings_ingestor: Callable[[], Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    first = settings_ingestor()
    broker.publish(counts(1, good=100))  # baseline
    bad = [*MALFORMED.values(), _oversized_valid_batch(2)]
    for payload in bad:
        broker.publish(payload)
    broker.publish(counts(2, good=103))
    broker.publish(counts(3, good=110))
    wait_for(lambda: cursor(engine) == 3, what="the good batches after the bad ones")
    wait_for(lambda: broker.acks.get(EDGE) == 3, what="ack of seq 3")
    good, _ = machine_counts(engine, plant.operation_id)
    assert good == 10  # the oversized batch's 1000 parts never counted
    letters = _dead_letters(engine)
    assert len(letters) == len(bad), [letter.reason for letter in letters]
    reasons = dict(zip([*MALFORMED, "oversized"], [letter.reason for letter in letters], strict=True))
    assert all(reason for reason in reasons.values()), reasons
    oversized = letters[-1]
    assert f"exceeds {MQTT_LIMIT}" in oversized.reason and oversized.size == len(bad[-1])
    assert first.metrics.snapshot()["dead_letters"] == len(bad)
    # Acked: a restart on the same persistent session gets none of them again, and the next batch flows.
    first.stop()
    second = settings_ingestor()
    broker.publish(counts(4, good=111))
    wait_for(lambda: cursor(engine) == 4, what="seq 4 after the restart")
    assert second.metrics.snapshot()["dead_letters"] == 0
    assert len(_dead_letters(engine)) == len(bad)
    assert machine_counts(engine, plant.operation_id)[0] == 11


# -- 12 (HTTP): oversized bodies refused with 413 before they are read -------------------------------------


def _request(server: RealServer, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\r\n", 1)[0]
    return int(line.split()[1]), data


def test_oversized_http_bodies_get_413_before_they_are_read(real_server: RealServer) -> None:
    admin = real_server.plant.as_("admin")["Authorization"]
    endpoints = [("/api/v1/work-orders", "application/json"),
                 ("/api/v1/work-orders/import", "multipart/form-data; boundary=xyz")]  # fmt: skip
    for path, content_type in endpoints:
        # Content-Length far over the limit and not one body byte sent: the answer comes anyway.
        start = (
            f"POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: {admin}\r\nContent-Type: {content_type}\r\n"
        )
        head = start + f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
        with _request(real_server, head) as sock:
            status, raw = _status(sock)
        assert status == 413, raw
        # Chunked, no Content-Length: refused once the bytes read pass the limit, the rest never read.
        head = start + "Transfer-Encoding: chunked\r\n\r\n"
        with _request(real_server, head) as sock:
            chunk = b"x" * 1024
            for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            status, raw = _status(sock)  # no terminating chunk: the server must not wait for the end
        assert status == 413, raw
    # under the limit the same endpoint parses the body; the server kept running
    small = real_server.http.post(
        "/api/v1/work-orders", json={"number": "WO-SMALL", "product": "NOPE", "quantity": 1},
        headers=real_server.plant.as_("admin"),
    )  # fmt: skip
    assert small.status_code == 404, small.text  # parsed: product NOPE does not exist
    assert real_server.process.alive()


# -- 13: Idempotency-Key and two tablets racing for the last parts -----------------------------------------


def _tablet_session(server: RealServer, name: str, badge: str) -> dict[str, str]:
    device = enroll_tablet(server, name=name)
    signed = ok(server.http.post("/api/v1/stations/st-lathe-1/sign-in", json={"badge": badge, "pin": "4321"},
                                 headers={"X-Device-Token": device}))  # fmt: skip
    return {"Authorization": f"Bearer {signed['token']}"}


def test_two_tablets_resending_reports_never_exceed_the_order_quantity(real_server: RealServer) -> None:
    from tests.server.factory import add_user

    plant = real_server.plant
    add_user(plant, "operator", "op-tab2")
    make_order(plant, "WO-TWO-TABS", 100)  # tolerance 5 %: at most 105 good
    ok(real_server.http.post("/api/v1/work-orders/WO-TWO-TABS/release", headers=plant.as_("planner")))
    start = {"step_no": 10, "machine": "lathe-1"}
    ok(
        real_server.http.post(
            "/api/v1/work-orders/WO-TWO-TABS/start", json=start, headers=plant.as_("operator")
        )
    )
    tablets = [_tablet_session(real_server, "tab-a", "B-operator1"),
               _tablet_session(real_server, "tab-b", "B-op-tab2")]  # fmt: skip
    url = "/api/v1/work-orders/WO-TWO-TABS/reports"

    def report(tablet: int, key: str, good: int) -> Callable[[], httpx.Response]:
        headers = tablets[tablet] | {"Idempotency-Key": key}
        return lambda: httpx.post(real_server.base + url, json={"good": good}, headers=headers, timeout=30)

    # each tablet reports 60, twice (its Wi-Fi lost the first answer): 120 > 105, so exactly one report wins
    first = together(report(0, "a-1", 60), report(1, "b-1", 60), report(0, "a-1", 60), report(1, "b-1", 60))
    resent = [report(0, "a-1", 60)(), report(1, "b-1", 60)()]
    winners = [r for r in resent if r.status_code == 201]
    losers = [r for r in resent if r.status_code == 409]
    assert len(winners) == 1 and len(losers) == 1, [(r.status_code, r.text) for r in resent]
    assert "limit of 105" in losers[0].json()["detail"]
    for answer in first:  # racing copies of one key: the stored answer, or 409 "in progress"
        assert answer.status_code in (201, 409), answer.text
        if answer.status_code == 201:
            assert answer.json() == winners[0].json()
    changed = report(0, "a-1", 61)()
    assert changed.status_code == 422  # same key, different body
    progress = ok(
        real_server.http.get("/api/v1/work-orders/WO-TWO-TABS/progress", headers=plant.as_("admin"))
    )
    assert progress["operations"][0]["manual"]["good"] == 60


# -- 14: SQL injection in every query parameter of the API (from the OpenAPI schema) -----------------------

NASTY = [
    "' OR '1'='1",
    "x' OR 1=1 --",
    "'; DROP TABLE workorder; --",
    '" OR ""="',
    '\' UNION SELECT username, password_hash FROM "user" --',
    "1); DELETE FROM operation; --",
    "%' OR 'a' LIKE '%",
    "\\' OR 1=1 #",
]
HARMLESS = "zz-matches-nothing"
REQUIRED = {"day": "2026-01-05", "tag": "good_count", "work_order": "WO-CANARY-7", "direction": "forward",
            "format": "json", "name": "daily", "characteristic_id": "1"}  # fmt: skip


def _string_typed(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "string" and "format" not in option for option in options)


def _get_operations(server: RealServer) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    spec = ok(server.http.get("/openapi.json"))
    for path, operations in spec["paths"].items():
        if "get" in operations and path.startswith("/api/"):
            yield path, operations["get"].get("parameters", [])


def _fill(path: str, params: list[dict[str, Any]], target: str, value: str) -> tuple[str, dict[str, str]]:
    query: dict[str, str] = {}
    for param in params:
        name = param["name"]
        text = value if name == target else REQUIRED.get(name, "x" if param["in"] == "path" else "")
        if param["in"] == "path":
            path = path.replace("{" + name + "}", quote(text, safe=""))
        elif name == target or param.get("required"):
            query[name] = text
    return path, query


def _without(text: str, value: str) -> str:
    """The answer's text with the value itself (echoed, JSON-escaped or not) taken out."""
    return text.replace(json.dumps(value)[1:-1], "<v>").replace(value, "<v>")


def test_injection_strings_in_every_api_query_parameter_match_nothing(real_server: RealServer) -> None:
    """Each hostile string must answer exactly as a harmless value that matches nothing does."""
    http, admin = real_server.http, real_server.plant.as_("admin")
    make_order(real_server.plant, "WO-CANARY-7", 10)
    before = ok(http.get("/api/v1/work-orders", headers=admin))["total"]
    checked = 0
    for path, params in _get_operations(real_server):
        for param in params:
            if param["in"] != "query" or param["name"] in ("limit", "offset"):
                continue
            url, query = _fill(path, params, param["name"], HARMLESS)
            harmless = http.get(url, params=query, headers=admin)
            for text in NASTY:
                url, query = _fill(path, params, param["name"], text)
                answer = http.get(url, params=query, headers=admin)
                checked += 1
                where = (path, param["name"], text, answer.status_code, answer.text[:300])
                if not _string_typed(param["schema"]):
                    assert answer.status_code == 422, where  # typed parameters refuse text outright
                    continue
                assert answer.status_code in (200, 400, 404, 422), where
                assert answer.status_code == harmless.status_code, (*where, harmless.text[:300])
                if answer.status_code == 200:
                    assert _without(answer.text, text) == _without(harmless.text, HARMLESS), where
                    body = answer.json() if "json" in answer.headers.get("content-type", "") else None
                    if isinstance(body, dict) and "items" in body:
                        assert body["items"] == [] and body["total"] == 0, where
    assert checked > 100
    assert ok(http.get("/api/v1/work-orders", headers=admin))["total"] == before
    assert ok(http.get("/api/v1/work-orders", params={"q": "CANARY"}, headers=admin))["total"] == 1
    assert real_server.process.alive()


# -- 15: invalid configs: the real commands exit non-zero naming the file and the field --------------------

EDGE_YAML = MINIMAL_CONFIG


def _takt(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "takt.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})}, check=False)  # fmt: skip


def test_invalid_configs_exit_non_zero_naming_the_file_and_the_field(tmp_path: Path) -> None:
    edge = tmp_path / "edge.yaml"
    edge.write_text(EDGE_YAML.replace("address: 0,", "address: 70000,"))
    plant = tmp_path / "plant.yaml"
    demo = (ROOT / "simulators" / "plants" / "demo.yaml").read_text()
    assert "counter_width: 16" in demo
    plant.write_text(demo.replace("counter_width: 16", "counter_width: 24", 1))
    cases = [
        (["edge", "--config", str(edge)], {}, [str(edge), "devices[0].tags[0].address"]),
        (["edge", "check", "--config", str(edge)], {}, [str(edge), "devices[0].tags[0].address"]),
        (["sim", "--config", str(plant)], {}, [str(plant), ".counter_width"]),
    ]
    (tmp_path / ".env").write_text(
        "TAKT_SECRET_KEY=long-enough-secret-key-0123456789\nTAKT_MQTT_PORT=eighteen\n"
    )
    cases.append((["server", "--port", "1"], {}, [str(tmp_path / ".env"), "TAKT_MQTT_PORT"]))
    cases.append(
        (["server", "--port", "1"], {"TAKT_RETENTION_DAYS": "0"}, ["environment", "TAKT_RETENTION_DAYS"])
    )
    for args, env, expected in cases:
        done = _takt(args, tmp_path, env)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        for text in expected:
            assert text in done.stderr, (args, text, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr

"""Fault suite, security (issue 8, cases 16-20), against a real `takt server` (its debug log captured).

Cases proven elsewhere and marked `faults` there: tests/web/test_share.py (16), tests/server/test_auth.py
(17: PIN throttle and lockout; 20: default secrets), tests/deploy/test_mosquitto_acl.py and
test_mosquitto_tls.py (18), tests/edge/test_opcua.py (19).
"""

import asyncio
import contextlib
import inspect
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from argon2 import PasswordHasher
from asyncua import Server, ua
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from edge import config as edge_config
from edge.cli import main as edge_main
from edge.config import Device
from edge.errors import ConfigError as EdgeConfigError
from edge.sources.base import Health, TagPoint
from edge.sources.opcua import OpcUaSource
from server.core.settings import Settings
from server.domain.security import token_hash
from server.main import create_app
from tests.faults.realserver import RealServer, enroll_link, enroll_tablet, real_server
from tests.server.factory import add_user, make_order, ok
from tests.support.ports import free_port
from tests.support.tls import CertFiles, Pki

__all__ = ["real_server"]  # fixture

# -- 16: share-token brute force -----------------------------------------------------------------------


def test_share_token_brute_force_gets_one_404_then_429(real_server: RealServer) -> None:
    """Guessing tokens: every miss looks the same, then the client is rate limited (burst 30 here). The
    guesser comes from its own loopback address, so the limit it earns is its own."""
    transport = httpx.HTTPTransport(local_address="127.0.0.5")
    with httpx.Client(base_url=real_server.base, transport=transport, timeout=30) as guesser:
        misses = [guesser.get(f"/s/{'g' * 40}{n:03d}.json") for n in range(45)]
        codes = [r.status_code for r in misses]
        assert codes[0] == 404 and codes[-1] == 429 and set(codes) == {404, 429}, codes
        assert codes.index(429) <= 32, codes  # the burst, plus what refills while the guesses run
        assert len({r.content for r in misses if r.status_code == 404}) == 1
        limited = misses[-1]
        assert int(limited.headers["retry-after"]) >= 1
        for answer in (misses[0], limited):
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert (
                answer.headers["x-robots-tag"] == "noindex" and answer.headers["cache-control"] == "no-store"
            )
    assert real_server.http.get(f"/s/{'g' * 43}.json").status_code == 404  # other clients are not limited


# -- 17: an operator against every endpoint it may not use, from the route table ------------------------


def _role_check(call: Any) -> tuple[str, ...] | None:
    if getattr(call, "__qualname__", "") in ("require.<locals>.check", "page_role.<locals>.check"):
        roles: tuple[str, ...] = inspect.getclosurevars(call).nonlocals["roles"]
        return roles
    return None


def _roles(dependant: Dependant) -> tuple[str, ...] | None:
    """The roles a route's `require(...)` / `page_role(...)` dependency admits (admin always), if any."""
    for dep in dependant.dependencies:
        found = _role_check(dep.call)
        if found is None:
            found = _roles(dep)
        if found is not None:
            return found
    return None


def _api_routes(
    routes: list[Any], prefix: str = ""
) -> Iterator[tuple[str, APIRoute, tuple[str, ...] | None]]:
    """Every APIRoute with its full path prefix and any role check its router adds (FastAPI >= 0.16x keeps
    included routers as `_IncludedRouter` entries holding `original_router` and `include_context`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route, None
            continue
        router, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
        if router is None or context is None:
            continue
        checks = [_role_check(d.dependency) for d in context.dependencies]
        router_roles = next((r for r in checks if r is not None), None)
        for sub_prefix, sub, roles in _api_routes(router.routes, prefix + context.prefix):
            yield sub_prefix, sub, router_roles if roles is None else roles


def _forbidden_to_operators(tmp_path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}", secret_key="s" * 32,  # type: ignore[arg-type]
                        mqtt_enabled=False, _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    found = []
    for prefix, route, router_roles in _api_routes(create_app(settings).routes):
        roles = _roles(route.dependant)
        roles = router_roles if roles is None else roles
        if roles is not None and "operator" not in roles:
            found.extend((method, prefix + route.path, roles) for method in sorted(route.methods))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_an_operator_gets_403_on_every_route_it_may_not_use(real_server: RealServer, tmp_path: Path) -> None:
    plant = real_server.plant
    add_user(plant, "operator", "op-403")
    tablet = {"X-Device-Token": enroll_tablet(real_server, name="tab-403")}
    badge = {"badge": "B-op-403", "pin": "4321"}
    signed = ok(real_server.http.post("/api/v1/stations/st-lathe-1/sign-in", json=badge, headers=tablet))
    station_session = {"Authorization": f"Bearer {signed['token']}"}
    routes = _forbidden_to_operators(tmp_path)
    kinds = {roles for _, path, roles in routes}
    assert {(), ("planner",), ("inspector",), ("planner", "supervisor")} <= kinds, kinds  # admin..inspector
    pages = httpx.Client(base_url=real_server.base, headers={"Origin": real_server.base}, timeout=30)
    with pages:
        login = pages.post("/login", data={"username": "op-403", "password": plant.passwords["op-403"]})
        assert login.status_code == 303
        checked = 0
        for method, path, roles in routes:
            url = _concrete(path)
            if path.startswith("/api/"):
                for headers in (plant.as_("op-403"), station_session):
                    answer = real_server.http.request(method, url, headers=headers)
                    assert answer.status_code == 403, (
                        method,
                        path,
                        roles,
                        answer.status_code,
                        answer.text[:200],
                    )
            else:
                answer = pages.request(method, url)
                assert answer.status_code == 403, (method, path, roles, answer.status_code, answer.text[:200])
            checked += 1
    assert checked > 40, checked
    assert (
        ok(real_server.http.get("/api/v1/work-orders", headers=station_session))["total"] >= 0
    )  # still valid


# -- 17: one customer's link never reveals another order (IDOR) ------------------------------------------


def test_a_share_token_never_reveals_another_order(real_server: RealServer) -> None:
    plant = real_server.plant
    make_order(plant, "WO-IDOR-A", 41)
    make_order(plant, "WO-IDOR-B", 777, product="PIN-7", customer="ningbo")
    links = {}
    for number in ("WO-IDOR-A", "WO-IDOR-B"):
        url = f"/api/v1/work-orders/{number}/share-links"
        links[number] = ok(real_server.http.post(url, headers=plant.as_("planner")), 201)
    mine, other = links["WO-IDOR-A"], links["WO-IDOR-B"]
    real_server.secrets |= {"share-a": mine["token"], "share-b": other["token"]}
    other_ids = {"WO-IDOR-B", other["token"], "Ningbo"}
    tampering: list[dict[str, str]] = [
        {},
        {"number": "WO-IDOR-B"},
        {"order": "WO-IDOR-B"},
        {"id": str(other["id"])},
        {"token": other["token"]},
        {"work_order": "WO-IDOR-B"},
    ]
    for suffix in ("", ".json"):
        for params in tampering:
            answer = real_server.http.get(f"/s/{mine['token']}{suffix}", params=params,
                                          headers={"Accept-Language": "en"})  # fmt: skip
            assert answer.status_code == 200, answer.text[:200]
            assert "777" not in answer.text and ">Pin<" not in answer.text and '"Pin"' not in answer.text
            assert not any(value in answer.text for value in other_ids if value not in str(params))
    data = real_server.http.get(f"/s/{mine['token']}.json").json()
    assert data.get("quantity", 41) == 41
    # a share token is no key to the API
    bearer = {"Authorization": f"Bearer {mine['token']}"}
    assert real_server.http.get("/api/v1/work-orders/WO-IDOR-B", headers=bearer).status_code == 401


# -- 20: secrets: refused defaults, slow hashes, nothing secret in logs ---------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TAKT_SECRET_KEY": "changeme"}, "TAKT_SECRET_KEY"),
        ({"TAKT_SECRET_KEY": ""}, "TAKT_SECRET_KEY"),
        ({"TAKT_SECRET_KEY": "x" * 40, "TAKT_ADMIN_TOKEN": "admin"}, "TAKT_ADMIN_TOKEN"),
    ],
)
def test_takt_server_refuses_default_secrets_outside_demo_mode(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAKT_")}
    done = subprocess.run([sys.executable, "-m", "takt.cli", "server", "--port", "1"], cwd=tmp_path,
                          env=base | {"TAKT_DEMO_MODE": "false", "TAKT_MQTT_ENABLED": "false"} | env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and named in done.stderr, (done.returncode, done.stderr)
    assert not (tmp_path / "var").exists()  # stopped before touching anything


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _exercise_secrets(server: RealServer) -> None:
    """Every way a secret reaches the server: passwords, PINs (right and wrong), tokens, links, enrollment."""
    plant = server.plant
    pin = "907162534819"  # 12 digits: never an accident in a log line
    password = "Pw-Secret-" + "q7Zx" * 4
    body = {"username": "op-secret", "display_name": "S", "role": "operator", "password": password,
            "badge": "B-secret", "pin": pin}  # fmt: skip
    ok(server.http.post("/api/v1/users", json=body, headers=plant.as_("admin")), 201)
    token = ok(server.http.post("/api/v1/auth/token", json={"username": "op-secret", "password": password}))
    assert server.http.post("/api/v1/auth/token", json={"username": "op-secret", "password": password + "x"}
                            ).status_code == 401  # fmt: skip
    link = enroll_link(server, name="tab-secret")
    with httpx.Client(base_url=server.base, headers={"Origin": server.base}) as tablet:
        assert tablet.get(link).status_code in (200, 303)
        device = server.secrets["device:tab-secret"] = tablet.cookies["takt_device"]  # the rotated device key
        wrong = tablet.post("/station/st-lathe-1/sign-in", data={"badge": "B-secret", "pin": pin[:-1] + "0"})
        assert wrong.status_code in (200, 401, 403)
        assert (
            tablet.post("/station/st-lathe-1/sign-in", data={"badge": "B-secret", "pin": pin}).status_code
            == 303
        )
    badge = {"badge": "B-secret", "pin": pin}
    session = ok(
        server.http.post(
            "/api/v1/stations/st-lathe-1/sign-in", json=badge, headers={"X-Device-Token": device}
        )
    )
    with httpx.Client(base_url=server.base, headers={"Origin": server.base}) as browser:
        assert browser.post("/login", data={"username": "op-secret", "password": password}).status_code == 303
    make_order(plant, "WO-SECRET-LOG", 5)
    link = ok(
        server.http.post("/api/v1/work-orders/WO-SECRET-LOG/share-links", headers=plant.as_("planner")), 201
    )
    server.http.get(f"/s/{link['token']}")
    server.http.get(f"/s/{link['token']}/qr.svg")
    server.secrets |= {"pin": pin, "password": password, "api-token": token["token"],
                       "session": session["token"], "share": link["token"]}  # fmt: skip


def test_passwords_pins_and_tokens_are_stored_slow_hashed_and_never_logged(real_server: RealServer) -> None:
    _exercise_secrets(real_server)
    db = Path(real_server.process.env["TAKT_DATABASE_URL"].removeprefix("sqlite:///"))
    hasher = PasswordHasher()
    ((password_hash, pin_hash),) = _rows(
        db, "SELECT password_hash, pin_hash FROM user WHERE username = 'op-secret'"
    )
    assert password_hash.startswith("$argon2id$") and pin_hash.startswith("$argon2id$")
    assert hasher.verify(password_hash, real_server.secrets["password"])
    assert hasher.verify(pin_hash, real_server.secrets["pin"])
    every_hash = [h for row in _rows(db, "SELECT password_hash, pin_hash FROM user") for h in row if h]
    assert every_hash and all(h.startswith("$argon2") for h in every_hash)
    queries = ["SELECT token_hash FROM apitoken", "SELECT device_token_hash FROM tablet",
               "SELECT token_hash FROM sharelink"]  # fmt: skip
    stored = {row[0] for query in queries for row in _rows(db, query)}
    for name in ("api-token", "session", "share", "device:tab-secret"):
        assert token_hash(real_server.secrets[name]) in stored, name
    dump = b"".join(path.read_bytes() for path in db.parent.glob("takt.db*"))
    log = real_server.log()
    assert "GET /s/***" in log and "/station/enroll?token=***" in log  # the requests were logged, redacted
    for name, secret in real_server.secrets.items():
        assert secret not in log, f"{name} appears in the server's log"
        assert secret.encode() not in dump, f"{name} stored in clear in the database"


# -- 19: the OPC UA edge refuses an untrusted or expired server certificate -------------------------------

SERVER_URI = "urn:takt:faults:opcua"


def _server_certificate(folder: Path, name: str, expired: bool = False) -> tuple[Path, Path]:
    """A self-signed RSA 2048 OPC UA server certificate (DER) and key (PEM); `expired` ended yesterday."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    start, end = (
        (now - timedelta(days=30), now - timedelta(days=1)) if expired else (now, now + timedelta(days=30))
    )
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                          data_encipherment=True, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SERVER_URI),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())  # fmt: skip
    key_path.write_bytes(pem)
    return cert_path, key_path


@contextlib.asynccontextmanager
async def _secure_server(cert: Path, key: Path) -> AsyncIterator[str]:
    """A real OPC UA server on a free port offering only Basic256Sha256 SignAndEncrypt, with one counter."""
    server = Server()
    await server.init()
    await server.set_application_uri(SERVER_URI)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    idx = await server.register_namespace("urn:faults")
    await server.nodes.objects.add_variable(
        ua.NodeId("count", idx), "count", ua.Variant(7, ua.VariantType.UInt32)
    )
    async with server:
        yield endpoint


def _secure_source(
    endpoint: str, client: tuple[Path, Path], trusted: Path | None = None, **extra: Any
) -> OpcUaSource:
    """The edge's source for `_secure_server`: `trusted` pins a certificate, `trust={...}` is a CA list."""
    raw = {"name": "m", "protocol": "opcua", "machine": "m", "endpoint": endpoint, "watchdog_s": 2.0,
           "security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
           "certificate": str(client[0]), "private_key": str(client[1]),
           "tags": [{"name": "good_count", "address": "nsu=urn:faults;s=count", "role": "counter",
                     "width": 32}]}  # fmt: skip
    raw |= ({"server_certificate": str(trusted)} if trusted else {}) | extra
    device = msgspec.convert(raw, Device)
    points = [TagPoint(device, t, lambda _row: None) for t in device.tags]
    return OpcUaSource(device, points, Health(device.name))


async def test_opcua_edge_refuses_an_untrusted_or_expired_server_certificate(tmp_path: Path) -> None:
    assert await asyncio.to_thread(edge_main, ["cert", "--out", str(tmp_path / "edge")]) == 0
    client = (tmp_path / "edge" / "edge-cert.der", tmp_path / "edge" / "edge-key.pem")
    good = _server_certificate(tmp_path / "pki", "good")
    stranger = _server_certificate(tmp_path / "pki", "stranger")  # valid, but not the one the edge trusts
    expired = _server_certificate(tmp_path / "pki", "expired", expired=True)
    async with _secure_server(*good) as endpoint:
        read = await _secure_source(endpoint, client, trusted=good[0]).read_once()
        assert read["m/good_count"][:2] == (7, "good"), read  # the control: a trusted, current certificate
        read = await _secure_source(endpoint, client, trusted=stranger[0]).read_once()
        assert read["m/good_count"][1] == "bad" and "cannot connect" in str(read["m/good_count"][2]), read
    async with _secure_server(*expired) as endpoint:
        read = await _secure_source(endpoint, client, trusted=expired[0]).read_once()  # pinned, yet expired
        value, quality, error = read["m/good_count"]
        assert (value, quality) == (None, "bad") and "BadCertificateTimeInvalid" in str(error), read
    with pytest.raises(EdgeConfigError, match=r"devices\[0\]\.server_certificate"):
        edge_config.parse(EDGE_SECURE_YAML.format(cert=client[0], key=client[1]), "edge.yaml")


async def test_opcua_edge_trusts_servers_by_ca_list_and_crl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`trust: {certificates: [CA], crls: [CRL]}`: a server certificate is trusted when the CA signed it,
    it is current and the CA's CRL does not list it; each refusal names the certificate and the reason,
    and `takt edge check` prints it."""
    assert await asyncio.to_thread(edge_main, ["cert", "--out", str(tmp_path / "edge")]) == 0
    client = (tmp_path / "edge" / "edge-cert.der", tmp_path / "edge" / "edge-key.pem")
    ca, other = Pki(tmp_path / "ca", "Integrator CA"), Pki(tmp_path / "other", "Other CA")
    good, revoked = ca.opcua_server("plc-good", SERVER_URI), ca.opcua_server("plc-revoked", SERVER_URI)
    expired = ca.opcua_server("plc-expired", SERVER_URI, expired=True)
    stranger = other.opcua_server("plc-stranger", SERVER_URI)  # valid, from a CA the edge does not trust
    ca.revoke(revoked)
    trust = {"certificates": [str(ca.ca_cert)], "crls": [str(ca.crl)]}

    async def read(server: CertFiles, trust: dict[str, list[str]]) -> tuple[Any, str, str | None]:
        async with _secure_server(server.cert, server.key) as endpoint:
            return (await _secure_source(endpoint, client, trust=trust).read_once())["m/good_count"]

    assert (await read(good, trust))[:2] == (7, "good")  # the control: signed by the CA, current, not revoked
    assert (await read(revoked, {"certificates": trust["certificates"]}))[:2] == (7, "good")  # no CRL given
    refusals = {
        "BadCertificateRevoked": await read(revoked, trust),
        "BadCertificateUntrusted": await read(stranger, trust),
        "BadCertificateTimeInvalid": await read(expired, trust),
    }
    for code, (value, quality, error) in refusals.items():
        assert (value, quality) == (None, "bad"), (code, error)
        assert "server certificate CN=plc-" in str(error) and f"refused: {code}" in str(error), error
    assert "revoked" in str(refusals["BadCertificateRevoked"][2])
    assert "by the CRL of CN=Integrator CA" in str(refusals["BadCertificateRevoked"][2])
    assert "no chain to a trusted certificate" in str(refusals["BadCertificateUntrusted"][2])
    async with _secure_server(revoked.cert, revoked.key) as endpoint:
        text = EDGE_SECURE_YAML.format(cert=client[0], key=client[1]).replace(
            "opc.tcp://127.0.0.1:4840", endpoint
        )
        text += f"    trust: {{certificates: [{ca.ca_cert}], crls: [{ca.crl}]}}\n"
        (tmp_path / "edge.yaml").write_text(text)
        capsys.readouterr()
        assert await asyncio.to_thread(edge_main, ["check", "--config", str(tmp_path / "edge.yaml")]) == 1
    printed = capsys.readouterr().out
    assert "refused: BadCertificateRevoked: revoked" in printed, printed
    assert "0 good, 1 with problems" in printed, printed
    self_signed = _server_certificate(tmp_path / "pki", "self-signed")  # a self-signed server in the list
    only_itself = {"certificates": [str(self_signed[0])]}
    assert (await read(CertFiles(*self_signed, 0), only_itself))[:2] == (7, "good")


async def test_opcua_refused_server_is_retried_and_the_trust_list_is_read_again(tmp_path: Path) -> None:
    """A refused device reports why, keeps retrying with backoff while another device reads on, and
    connects once its trust folder holds the right CA (read again for every session, no restart)."""
    assert await asyncio.to_thread(edge_main, ["cert", "--out", str(tmp_path / "edge")]) == 0
    client = (tmp_path / "edge" / "edge-cert.der", tmp_path / "edge" / "edge-key.pem")
    ca, other = Pki(tmp_path / "ca", "Integrator CA"), Pki(tmp_path / "other", "Other CA")
    server = ca.opcua_server("plc", SERVER_URI)
    folder = tmp_path / "trusted"
    folder.mkdir()
    shutil.copy(other.ca_cert, folder / "other.crt")
    async with _secure_server(server.cert, server.key) as endpoint:
        refused = _secure_source(endpoint, client, name="refused", backoff_max_s=0.5,
                                 trust={"certificates": [str(folder)]})  # fmt: skip
        trusting = _secure_source(
            endpoint, client, name="trusting", trust={"certificates": [str(ca.ca_cert)]}
        )
        tasks = [asyncio.create_task(source.run()) for source in (refused, trusting)]
        try:
            async with asyncio.timeout(30):
                while not (trusting.points[0].value == 7 and refused.health.error):
                    await asyncio.sleep(0.05)
            assert "BadCertificateUntrusted" in refused.health.error and not refused.health.connected
            shutil.copy(ca.ca_cert, folder / "integrator.crt")
            async with asyncio.timeout(30):
                while refused.points[0].value != 7:
                    await asyncio.sleep(0.05)
            assert refused.health.connected and trusting.health.connected
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


EDGE_SECURE_YAML = """site: s
edge_id: e
devices:
  - name: m
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840
    machine: m
    security_policy: Basic256Sha256
    security_mode: SignAndEncrypt
    certificate: {cert}
    private_key: {key}
    tags:
      - {{name: good_count, address: "ns=2;s=count", role: counter, width: 32}}
"""

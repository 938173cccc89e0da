"""OPC UA server (asyncua): Objects/Machines/{id}/{tag}, NodeId ns=idx;s={id}.{tag} (docs/contracts.md).

Values are written server-side with write_attribute_value, only when they changed, with the tick's
wall-clock time as SourceTimestamp. restart() rebuilds the same address space on the same port.
"""

import asyncio
import contextlib
import fcntl
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.server.server import Server
from cryptography.x509.oid import ExtendedKeyUsageOID

from simulators.config import MachineConfig
from simulators.errors import SimError

log = logging.getLogger(__name__)
NAMESPACE = "urn:takt:simulator"
APP_URI = "urn:takt:simulator:server"
WriteHandler = Callable[[str, str, Any], None]
VT = ua.VariantType
_TYPES: dict[str, ua.VariantType] = {
    "state": VT.Int32, "running": VT.Boolean, "fault": VT.Boolean, "fault_code": VT.UInt16,
    "status_bits": VT.UInt16, "ambient": VT.Int16, "total_cycles": VT.Int64, "temperature": VT.Double,
    "pressure": VT.Double, "power": VT.Double, "energy": VT.Double, "program": VT.String,
    "work_order": VT.String, "setpoint": VT.Double, "plc_state": VT.Int16, "plc_mode": VT.String,
}  # fmt: skip
WRITABLE = ("work_order", "setpoint")


def variant_types(cfg: MachineConfig) -> dict[str, ua.VariantType]:
    counter = VT.UInt16 if cfg.counter_width == 16 else VT.UInt32
    return {
        "good_count": counter,
        "scrap_count": counter,
        "part_count": counter,
        "shot_count": counter,
        **_TYPES,
    }


def node_name(cfg: MachineConfig, tag: str | None = None) -> str:
    """The string id of a machine's object or tag: `m1.tag`, or Siemens-style `"m1"."tag"`."""
    if cfg.opcua_ids == "siemens":
        return f'"{cfg.id}"' if tag is None else f'"{cfg.id}"."{tag}"'
    return cfg.id if tag is None else f"{cfg.id}.{tag}"


async def ensure_certificate(state_dir: Path) -> tuple[Path, Path]:
    """A self-signed server certificate (DER) and key (PEM) in state_dir, made once and reused."""
    state_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, at start)
    cert, key = state_dir / "opcua-server-cert.der", state_dir / "opcua-server-key.pem"
    with (state_dir / ".cert.lock").open("w") as lock:  # simulators may share a state dir
        fcntl.flock(lock, fcntl.LOCK_EX)
        await setup_self_signed_certificate(
            key, cert, APP_URI, socket.gethostname(), [ExtendedKeyUsageOID.SERVER_AUTH],
            {"countryName": "DE", "organizationName": "Takt", "commonName": "Takt plant simulator"},
        )  # fmt: skip
    return cert, key


class OpcuaPlant:
    def __init__(self, machines: list[MachineConfig], port: int, host: str, state_dir: Path,
                 on_write: WriteHandler, namespaces_before: list[str] | None = None) -> None:  # fmt: skip
        self.machines = [m for m in machines if m.protocol == "opcua"]
        self.namespaces_before = namespaces_before or []
        self.port, self.host, self.state_dir = port, host, state_dir
        self.on_write = on_write
        self.server: Server | None = None
        self.starts = 0  # how many times the server started (restarts = starts - 1)
        self.idx = 2
        self.nodes: dict[str, dict[str, tuple[ua.NodeId, ua.VariantType]]] = {}
        self.last: dict[str, dict[str, Any]] = {}  # what the address space holds, per machine and tag

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def start(self) -> None:
        cert, key = await ensure_certificate(self.state_dir)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint + "/")
        server.set_server_name("Takt plant simulator")
        await server.set_application_uri(APP_URI)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity,
                                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])  # fmt: skip
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        for uri in self.namespaces_before:
            await server.register_namespace(uri)
        self.idx = await server.register_namespace(NAMESPACE)
        await self._build(server)
        await self._serve(server, "listen")
        log.info("OPC UA serving %d machines on %s", len(self.machines), self.endpoint)

    async def _build(self, server: Server) -> None:
        folder = await server.nodes.objects.add_folder(_nid("Machines", self.idx), f"{self.idx}:Machines")
        self.nodes, self.last = {}, {}
        for cfg in self.machines:
            obj = await folder.add_object(_nid(node_name(cfg), self.idx), f"{self.idx}:{cfg.id}")
            nodes: dict[str, tuple[ua.NodeId, ua.VariantType]] = {}
            for tag, vtype in variant_types(cfg).items():
                nid = _nid(node_name(cfg, tag), self.idx)
                var = await obj.add_variable(nid, f"{self.idx}:{tag}", _initial(vtype), varianttype=vtype)
                if tag in WRITABLE:
                    await var.set_writable()
                nodes[tag] = (nid, vtype)
            self.nodes[cfg.id] = nodes
            self.last[cfg.id] = {}

    async def _serve(self, server: Server, doing: str) -> None:
        try:
            await server.start()
        except OSError as err:
            raise SimError(f"OPC UA cannot {doing} on {self.endpoint}: {err}") from err
        self.server = server
        self.starts += 1

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await _stop_clock(server)
            await server.stop()
            log.info("OPC UA server stopped")

    async def restart(self, down_s: float = 0.0, renumber: bool = False) -> None:
        """Stop serving (sessions end, clients must reconnect), wait, serve the same address space again.
        `renumber`: a new server with one more namespace before ours, so our index moves (as a PLC's may
        after a download): clients must resolve it by URI again."""
        server, self.server = self.server, None
        if renumber:
            if server is not None:
                await _stop_clock(server)
                await server.stop()
            await asyncio.sleep(down_s)
            self.namespaces_before = [*self.namespaces_before, f"urn:takt:renumbered:{self.starts}"]
            await self.start()
            return
        if server is None:
            await self.start()
            return
        await _stop_clock(server)
        await server.stop()
        log.info("OPC UA server stopped for a restart (%.1f s down)", down_s)
        await asyncio.sleep(down_s)
        await self._serve(server, "listen again")
        log.info("OPC UA server restarted on %s", self.endpoint)

    def drop_connections(self) -> int:
        bserver = self.server.bserver if self.server is not None else None
        clients = list(bserver.clients) if bserver is not None else []
        for proto in clients:
            if proto.transport is not None:
                proto.transport.close()
        log.info("OPC UA: dropped %d connections", len(clients))
        return len(clients)

    async def publish(self, machine_id: str, tags: dict[str, Any], ts: datetime) -> int:
        """Write the tags that changed since the last publish; returns how many were written."""
        server = self.server
        if server is None:
            return 0
        last, nodes, written = self.last[machine_id], self.nodes[machine_id], 0
        for tag, value in tags.items():
            if last.get(tag) == value:
                continue
            nid, vtype = nodes[tag]
            if vtype == VT.Double:
                value = float(value)
            dv = ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=ts, ServerTimestamp=ts)  # type: ignore[arg-type]
            await server.write_attribute_value(nid, dv)
            last[tag] = value
            written += 1
        return written

    def poll_writes(self) -> None:
        """Hand values that clients wrote to writable nodes over to on_write."""
        server = self.server
        if server is None:
            return
        for machine_id, nodes in self.nodes.items():
            for tag in WRITABLE:
                variant = server.read_attribute_value(nodes[tag][0]).Value
                value = variant.Value if variant is not None else None
                if value != self.last[machine_id].get(tag):
                    self.last[machine_id][tag] = value
                    self.on_write(machine_id, tag, value)


async def _stop_clock(server: Server) -> None:
    """Cancel asyncua's once-a-second clock task: its own stop waits up to a second for it to notice
    (and a stopped clock would not tick again after a restart)."""
    task, server.iserver.time_task = server.iserver.time_task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _nid(ident: str, idx: int) -> ua.NodeId:
    return ua.NodeId(ident, idx)  # type: ignore[arg-type]


def now_utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _initial(vtype: ua.VariantType) -> Any:
    if vtype == VT.String:
        return ""
    if vtype == VT.Boolean:
        return False
    return 0.0 if vtype == VT.Double else 0

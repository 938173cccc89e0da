"""`takt edge browse`: walk an OPC UA server level by level and print a tag config to edit.

Each level is browsed with one Browse request per `CHUNK` nodes (never one call per node), and the
variables' data types and access levels are read in batches too. Namespace 0 (the server's own
diagnostics) is not descended into. Node ids are printed with their namespace URI (`nsu=`), which
survives a server that renumbers its namespaces; names stay as the server spells them. It connects with
the agent's own session code, so the same security options apply (policy, mode, certificate and key, a
pinned server certificate or a trust list, user and password). Roles, counter widths and state value
maps are proposed from names and types (docs/edge.md, "Browse"): a starting point to check, not a guess
to trust.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import msgspec
import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError

from edge.config import Device
from edge.errors import EdgeError
from edge.sources.base import Health

CHUNK = 500
_TYPES = {
    ObjectIds.Boolean: "bool", ObjectIds.Int16: "int16", ObjectIds.UInt16: "uint16",
    ObjectIds.Int32: "int32", ObjectIds.UInt32: "uint32", ObjectIds.Int64: "int64",
    ObjectIds.UInt64: "uint64", ObjectIds.Float: "float32", ObjectIds.Double: "float64",
    ObjectIds.String: "string(128)",
}  # fmt: skip
# names -> a proposed role (case-insensitive, first match wins); the technician checks them
_ROLE_RULES: tuple[tuple[str, str, frozenset[str]], ...] = (
    (r"scrap|reject|ng_?(count|qty)|bad_?(count|parts)|ausschuss", "scrap_counter", frozenset({"int"})),
    (r"good|ok_?(count|qty)|gutteil", "counter", frozenset({"int"})),
    (r"shot|cycle_?count|stroke|cycles$", "cycle_counter", frozenset({"int"})),
    (r"part_?count|total|produced|piece|count$|qty$", "total_counter", frozenset({"int"})),
    (r"fault|alarm|error|stoer", "fault", frozenset({"bool"})),
    (r"^run|running|in_?auto|automatic", "run", frozenset({"bool"})),
    (r"state|status|mode", "state", frozenset({"int", "string"})),
)
# a proposed value map for a state in the PLC's own numbering or words (most PLCs: 0 stopped, 1 running,
# 2 fault); Takt's own `state` tag (the simulator's) needs none
_PROPOSED_INT_STATES = {0: "idle", 1: "running", 2: "fault", 3: "setup"}
_PROPOSED_TEXT_STATES = {"STOP": "idle", "IDLE": "idle", "RUN": "running", "RUNNING": "running",
                         "AUTO": "running", "ALARM": "fault", "FAULT": "fault", "ERROR": "fault",
                         "SETUP": "setup", "MANUAL": "setup", "OFF": "off"}  # fmt: skip
_WIDTHS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}


@dataclass
class Found:
    node_id: ua.NodeId
    name: str
    parent: str
    type: str = "float64"
    writable: bool = False


def machine_id(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_")
    return cleaned[:64] or "machine"


async def walk(client: Client, start: ua.NodeId, depth: int) -> list[Found]:
    """Breadth-first, one batched Browse per level (chunked), down to `depth` levels."""
    level: list[tuple[ua.NodeId, str]] = [(start, "")]
    found: list[Found] = []
    for _ in range(depth):
        children: list[tuple[ua.NodeId, str]] = []
        for offset in range(0, len(level), CHUNK):
            chunk = level[offset : offset + CHUNK]
            results = await client.uaclient.browse(_browse_params([node for node, _ in chunk]))
            for (_node, name), result in zip(chunk, results, strict=True):
                for ref in result.References or []:
                    child = ref.NodeId
                    if child.NamespaceIndex == 0:
                        continue
                    label = ref.BrowseName.Name
                    if ref.NodeClass == ua.NodeClass.Variable:
                        found.append(Found(child, label, name))
                    elif ref.NodeClass == ua.NodeClass.Object:
                        children.append((child, label))
        if not children:
            break
        level = children
    await _describe(client, found)
    return found


def _browse_params(nodes: list[ua.NodeId]) -> ua.BrowseParameters:
    params = ua.BrowseParameters()
    params.View = ua.ViewDescription()
    params.RequestedMaxReferencesPerNode = 0
    for node in nodes:
        desc = ua.BrowseDescription()
        desc.NodeId = node
        desc.BrowseDirection = ua.BrowseDirection.Forward
        desc.ReferenceTypeId = ua.NodeId.from_string(f"i={ObjectIds.HierarchicalReferences}")
        desc.IncludeSubtypes = True
        desc.NodeClassMask = int(ua.NodeClass.Object) | int(ua.NodeClass.Variable)
        desc.ResultMask = int(ua.BrowseResultMask.All)
        params.NodesToBrowse.append(desc)
    return params


async def _describe(client: Client, found: list[Found]) -> None:
    """Data type and access level of every variable, CHUNK nodes per Read request."""
    for offset in range(0, len(found), CHUNK):
        chunk = found[offset : offset + CHUNK]
        nodes = [client.get_node(f.node_id) for f in chunk]
        types = await client.read_attributes(nodes, AttributeIds.DataType)
        access = await client.read_attributes(nodes, AttributeIds.UserAccessLevel)
        for item, type_value, access_value in zip(chunk, types, access, strict=True):
            data_type = type_value.Value.Value if type_value.Value is not None else None
            if isinstance(data_type, ua.NodeId) and data_type.NamespaceIndex == 0:
                item.type = _TYPES.get(int(data_type.Identifier), "float64")  # type: ignore[arg-type]
            level = access_value.Value.Value if access_value.Value is not None else 0
            item.writable = bool(int(level or 0) & int(ua.AccessLevel.CurrentWrite.mask))


def tag_name(name: str) -> str:
    """The server's name as it spells it; only characters a tag name cannot hold become `_`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]+", "_", name).strip("_")[:128]
    return cleaned or "tag"


def propose(name: str, type_: str) -> dict[str, object]:
    """Role (and for counters the width, for states a value map) from a variable's name and type."""
    kind = "bool" if type_ == "bool" else "int" if type_ in _WIDTHS else "string" if "string" in type_ else ""
    if name == "state" and kind == "int":
        return {"role": "state"}  # Takt's own numbering (the simulator)
    for pattern, role, kinds in _ROLE_RULES:
        if kind in kinds and re.search(pattern, name, re.IGNORECASE):
            proposal: dict[str, object] = {"role": role}
            if role.endswith("counter"):
                proposal["width"] = _WIDTHS[type_]
            elif role == "state":
                proposal["states"] = dict(_PROPOSED_INT_STATES if kind == "int" else _PROPOSED_TEXT_STATES)
            return proposal
    return {}


def to_config(
    endpoint: str, found: list[Found], namespaces: list[str], machine: str | None,
    security: dict[str, object] | None = None,
) -> str:  # fmt: skip
    """A whole edge config (site and edge id to fill in) that `takt edge check` reads as it is."""
    tags = []
    seen: set[tuple[str, str]] = set()
    for item in found:
        uri = namespaces[item.node_id.NamespaceIndex]
        address = item.node_id.to_string().replace(f"ns={item.node_id.NamespaceIndex};", f"nsu={uri};", 1)
        owner = machine or machine_id(item.parent)
        name = tag_name(item.name)
        if (owner, name) in seen:
            continue  # the same name twice under one machine (another folder): the first one is kept
        seen.add((owner, name))
        tag: dict[str, object] = {"machine": owner, "name": name, "address": address, "type": item.type}
        tag.update(propose(item.name, item.type))
        if item.writable:
            tag["writable"] = True
        tags.append(tag)
    _one_counter_each(tags)
    host = re.sub(r"[^a-z0-9_-]+", "-", endpoint.lower().removeprefix("opc.tcp://")).strip("-")[:60]
    device = {"name": f"opcua-{host}", "protocol": "opcua", "endpoint": endpoint, **(security or {}),
              "sampling_ms": 100, "tags": tags}  # fmt: skip
    config = {"site": "plant", "edge_id": "edge1", "devices": [device]}
    header = (
        f"# generated by `takt edge browse {endpoint}`: {len(tags)} variables.\n"
        "# Set site and edge_id; check each proposed role, width and value map (states: the PLC's values ->\n"
        "# Takt's states) with the PLC's documentation, then run `takt edge check --config THIS_FILE`.\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def _one_counter_each(tags: list[dict[str, object]]) -> None:
    """A machine counts from one production counter and one scrap counter (the config refuses more):
    keep the best proposal (good, then total, then cycles; the first of equals), the others stay analog."""
    rank = {"counter": 0, "total_counter": 1, "cycle_counter": 2, "scrap_counter": 0}
    best: dict[tuple[object, str], dict[str, object]] = {}
    for tag in tags:
        role = str(tag.get("role", ""))
        if role in rank:
            key = (tag["machine"], "scrap" if role == "scrap_counter" else "production")
            if key not in best or rank[role] < rank[str(best[key]["role"])]:
                best[key] = tag
    keep = {id(tag) for tag in best.values()}
    for tag in tags:
        if str(tag.get("role", "")) in rank and id(tag) not in keep:
            del tag["role"], tag["width"]


async def browse(
    endpoint: str,
    depth: int,
    machine: str | None,
    start: str = "i=85",
    security: dict[str, object] | None = None,
) -> str:
    """Connect like the agent does (the same security options), walk, and make the config."""
    from edge.sources.opcua import OpcUaSource

    device = msgspec.convert(
        {"name": "browse", "protocol": "opcua", "endpoint": endpoint, "watchdog_s": 5.0, **(security or {})},
        Device,
    )
    source = OpcUaSource(device, [], Health(device.name))
    async with source.session() as client:
        found = await walk(client, ua.NodeId.from_string(start), depth)
        namespaces = await client.get_namespace_array()
    shown = dict(security or {})
    if shown.get("password"):
        shown["password"] = "${TAKT_OPCUA_PASSWORD}"  # never written into the file
    return to_config(endpoint, found, namespaces, machine, shown)


def make_certificate(folder: str | Path, uri: str = "urn:takt:edge") -> tuple[Path, Path]:
    """A self-signed OPC UA client certificate (DER) and key (PEM), made once and reused."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    certificate, key = out / "edge-cert.der", out / "edge-key.pem"
    subject = {"commonName": f"Takt edge {socket.gethostname()}", "organizationName": "Takt"}
    previous = os.umask(0o077)  # the key is never readable by others, not even for a moment
    try:
        asyncio.run(setup_self_signed_certificate(
            key, certificate, uri, socket.gethostname(), [ExtendedKeyUsageOID.CLIENT_AUTH], subject
        ))  # fmt: skip
    finally:
        os.umask(previous)
    key.chmod(0o600)  # also a key made by an earlier version (0644)
    certificate.chmod(0o644)
    return certificate, key


def browse_main(
    endpoint: str, depth: int, machine: str | None, start: str, security: dict[str, object], out: str | None
) -> int:
    try:
        text = asyncio.run(browse(endpoint, depth, machine, start, security))
    except (OSError, TimeoutError, UaError, EdgeError, msgspec.ValidationError) as err:
        print(f"takt edge browse: cannot browse {endpoint}: {err}", file=sys.stderr)
        return 1
    if out is None:
        sys.stdout.write(text)
        return 0
    Path(out).write_text(text, encoding="utf-8")
    print(f"wrote {out}: check it, then `takt edge check --config {out}`", file=sys.stderr)
    return 0

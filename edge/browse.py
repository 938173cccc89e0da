"""`takt edge browse`: walk an OPC UA server level by level and print a tag config to edit.

Each level is browsed with one Browse request per `CHUNK` nodes (never one call per node), and the
variables' data types and access levels are read in batches too. Namespace 0 (the server's own
diagnostics) is not descended into. Node ids are printed with their namespace URI (`nsu=`), which
survives a server that renumbers its namespaces.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError

CHUNK = 500
_TYPES = {
    ObjectIds.Boolean: "bool", ObjectIds.Int16: "int16", ObjectIds.UInt16: "uint16",
    ObjectIds.Int32: "int32", ObjectIds.UInt32: "uint32", ObjectIds.Int64: "int64",
    ObjectIds.UInt64: "uint64", ObjectIds.Float: "float32", ObjectIds.Double: "float64",
    ObjectIds.String: "string",
}  # fmt: skip
_ROLES = {"good_count": "counter", "scrap_count": "scrap_counter", "state": "state", "running": "run"}
_ROLES["fault"] = "fault"


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


def to_config(endpoint: str, found: list[Found], namespaces: list[str], machine: str | None) -> str:
    tags = []
    for item in found:
        uri = namespaces[item.node_id.NamespaceIndex]
        address = item.node_id.to_string().replace(f"ns={item.node_id.NamespaceIndex};", f"nsu={uri};", 1)
        tag: dict[str, object] = {"machine": machine or machine_id(item.parent), "name": item.name,
                                  "address": address}  # fmt: skip
        role = _ROLES.get(item.name, "analog")
        if role != "analog":
            tag["role"] = role
        if role in {"counter", "scrap_counter"}:
            tag["width"] = 32 if item.type in {"uint32", "int32"} else 16
        if item.writable:
            tag["writable"] = True
        tags.append(tag)
    host = re.sub(r"[^a-z0-9_-]+", "-", endpoint.lower().removeprefix("opc.tcp://")).strip("-")[:60]
    device = {"name": f"opcua-{host}", "protocol": "opcua", "endpoint": endpoint, "sampling_ms": 100,
              "tags": tags}  # fmt: skip
    header = f"# generated by `takt edge browse {endpoint}`: {len(tags)} variables; check roles and names\n"
    return header + yaml.safe_dump({"devices": [device]}, sort_keys=False, allow_unicode=True)


async def browse(endpoint: str, depth: int, machine: str | None, start: str = "i=85") -> str:
    client = Client(endpoint, timeout=10)
    await client.connect()
    try:
        found = await walk(client, ua.NodeId.from_string(start), depth)
        namespaces = await client.get_namespace_array()
    finally:
        await client.disconnect()
    return to_config(endpoint, found, namespaces, machine)


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


def browse_main(endpoint: str, depth: int, machine: str | None, start: str) -> int:
    try:
        text = asyncio.run(browse(endpoint, depth, machine, start))
    except (OSError, TimeoutError, UaError) as err:
        print(f"takt edge browse: cannot browse {endpoint}: {err!r}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0

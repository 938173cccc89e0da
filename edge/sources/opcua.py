"""OPC UA source: one session per device, monitored items created in batches, a polling fallback.

A watchdog (asyncua's session supervisor plus our own probe of the server state every `watchdog_s`)
detects a dead session; the source then reports every tag `stale`, backs off, reconnects and creates
its subscription again by itself. Status codes become quality (good / uncertain / bad); source
timestamps are used when the server sends them, server timestamps otherwise, arrival time last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent, Subscription
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.validator import CertificateValidatorOptions
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography.hazmat.primitives import serialization
from tenacity import AttemptManager

from edge.codec import Value
from edge.config import PROTECTED_ROLES, Device
from edge.errors import CommandError, SourceError
from edge.retry import retry_forever, start_over
from edge.sources import opcua_trust
from edge.sources.base import Health, TagPoint, now_ms
from edge.sources.opcua_trust import ServerValidator

log = logging.getLogger(__name__)
_NODE_ID_PREFIXES = ("ns=", "nsu=", "i=", "s=", "g=", "b=")
QUEUE_PROTECTED = 100  # server-side queue of counter/state items between two publishes


def quality_of(status: ua.StatusCode | None) -> str:
    """OPC UA severity (top two bits of the status code) -> sample quality."""
    if status is None:
        return "good"
    severity = int(status.value) >> 30
    return "good" if severity == 0 else "uncertain" if severity == 1 else "bad"


def timestamp_of(data_value: ua.DataValue | None) -> int:
    stamp = None if data_value is None else data_value.SourceTimestamp or data_value.ServerTimestamp
    if stamp is None:
        return now_ms()
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def plain(value: Any) -> Value:
    """OPC UA values -> the JSON types a sample may carry."""
    if value is None or isinstance(value, bool | int | str):
        return value  # type: ignore[no-any-return]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, ua.LocalizedText):
        return value.Text
    return str(value)


class OpcUaSource:
    def __init__(self, device: Device, points: list[TagPoint], health: Health) -> None:
        self.device = device
        self.points = points
        self.health = health
        self.client: Client | None = None
        self.nodes: list[Node | None] = [None] * len(points)
        self.by_node: dict[ua.NodeId, int] = {}
        self.errors: dict[int, str] = {}  # last bad status per tag (for `takt edge check`)

    # -- session ----------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Client]:
        device = self.device
        client = Client(
            device.endpoint or "", timeout=max(device.watchdog_s, 2.0), watchdog_intervall=device.watchdog_s
        )
        client.application_uri = device.application_uri
        if device.username:
            client.set_user(device.username)
            client.set_password(device.password or "")
        validator: ServerValidator | None = None
        try:
            if device.security_policy == "Basic256Sha256":
                validator = await self._validator()
                await self._secure(client, validator)
            await client.connect()
        except (asyncio.CancelledError, SourceError):
            raise
        except Exception as err:  # asyncua raises OSError, TimeoutError, UaError and more on connect
            reason = validator.refusal if validator is not None and validator.refusal else repr(err)
            raise SourceError(f"cannot connect to {device.endpoint}: {reason}") from err
        self.client = client
        try:
            yield client
        finally:
            self.client = None
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await client.disconnect()

    async def _validator(self) -> ServerValidator:
        device = self.device
        if device.trust is not None:
            try:
                return await opcua_trust.load(device.trust)
            except SourceError as err:
                raise SourceError(f"{device.endpoint}: {err}") from err
        if not device.server_certificate:  # else asyncua would trust whatever certificate the server shows
            raise SourceError(f"{device.endpoint}: security requires a server_certificate or a trust list")
        # the pinned certificate must be the one the server presents (asyncua checks), and current
        options = CertificateValidatorOptions.TIME_RANGE | CertificateValidatorOptions.PEER_SERVER
        return ServerValidator(options)

    async def _secure(self, client: Client, validator: ServerValidator) -> None:
        """Basic256Sha256 with the server certificate pinned, or checked against the `trust` list.

        With `trust` the certificate comes from the server's endpoint list (GetEndpoints, unsecured) and
        is checked before the secure channel opens; asyncua then checks the session's certificate is the
        same one, that the server holds its key, and runs the validator on it again."""
        device = self.device
        mode = getattr(ua.MessageSecurityMode, device.security_mode)
        policy = SecurityPolicyBasic256Sha256
        server_certificate: str | bytes = device.server_certificate or ""
        if device.trust is None:
            await self._check_pinned(client, mode, policy.URI)
        else:
            endpoint = Client.find_endpoint(await client.connect_and_get_server_endpoints(), mode, policy.URI)
            if not endpoint.ServerCertificate:
                raise UaError(f"the {device.security_mode} {policy.URI} endpoint shows no certificate")
            cert = opcua_trust.first_certificate(endpoint.ServerCertificate)
            await validator.validate(cert, endpoint.Server)
            server_certificate = cert.public_bytes(serialization.Encoding.DER)
        client.certificate_validator = validator
        await client.set_security(
            policy, device.certificate or "", device.private_key or "",
            server_certificate=server_certificate, mode=mode,
        )  # fmt: skip

    async def _check_pinned(self, client: Client, mode: ua.MessageSecurityMode, policy_uri: str) -> None:
        """Compare the certificate the server shows (GetEndpoints, unsecured) with the pinned one before
        the secure channel opens: a mismatch is refused naming both, not left to a channel the server
        cannot decrypt (BadTcpInternalError)."""
        device = self.device
        path = device.server_certificate or ""
        pinned = (await asyncio.to_thread(opcua_trust.read_certificates, [path]))[0]
        endpoint = Client.find_endpoint(await client.connect_and_get_server_endpoints(), mode, policy_uri)
        if not endpoint.ServerCertificate:
            return  # nothing to compare: asyncua's own check of the session's certificate applies
        shown = opcua_trust.first_certificate(endpoint.ServerCertificate)
        if opcua_trust.thumbprint(shown) == opcua_trust.thumbprint(pinned):
            return
        presents, pins = opcua_trust.fingerprint(shown), opcua_trust.fingerprint(pinned)
        raise SourceError(
            f"cannot connect to {device.endpoint}: server certificate mismatch: the server presents "
            f"{presents}, but server_certificate {path} pins {pins}. If the server's certificate was "
            f"renewed, put the new one in {path} (or trust its CA with `trust:`); otherwise this is not "
            "the server you expect"
        )

    async def resolve(self, client: Client) -> None:
        """Node ids and browse paths -> nodes (browse paths in one TranslateBrowsePaths call). A namespace
        URI (`nsu=`) is looked up in the server's namespace array at every connect: indexes may change
        when a server restarts. An unknown URI or a malformed id makes that tag bad, not the device."""
        namespaces: list[str] | None = None
        paths: list[tuple[int, str]] = []
        for index, point in enumerate(self.points):
            address = str(point.tag.address)
            if address.startswith("nsu=") and namespaces is None:
                namespaces = list(await client.get_namespace_array())
            if address.startswith(_NODE_ID_PREFIXES):
                try:
                    self.nodes[index] = client.get_node(
                        ua.NodeId.from_string(_with_index(address, namespaces))
                    )
                except (ValueError, UaError) as err:
                    self._bad(index, str(err))
            else:
                parts = [p if ":" in p else f"0:{p}" for p in address.strip("/").split("/")]
                paths.append((index, "/" + "/".join(parts)))
        if paths:
            root = ua.NodeId.from_string(f"i={ObjectIds.RootFolder}")
            results = await client.translate_browsepaths(root, [p for _, p in paths])
            for (index, path), result in zip(paths, results, strict=True):
                if result.StatusCode.is_good() and result.Targets:
                    self.nodes[index] = client.get_node(result.Targets[0].TargetId)
                else:
                    self._bad(index, f"browse path {path} not found ({result.StatusCode.name})")
        self.by_node = {node.nodeid: i for i, node in enumerate(self.nodes) if node is not None}

    def _bad(self, index: int, error: str) -> None:
        point = self.points[index]
        log.error("device %s: tag %s/%s: %s", self.device.name, point.machine, point.name, error)
        self.errors[index] = error
        self.nodes[index] = None
        point.report(None, "bad", now_ms())

    # -- run --------------------------------------------------------------------------------------------

    async def run(self) -> None:
        # not asyncua's auto_reconnect: it restores items on node ids a restarted server may number anew
        async for attempt in retry_forever(SourceError, 0.5, self.device.backoff_max_s):
            with attempt:
                try:
                    async with self.session() as client:
                        await self._guarded(self.resolve(client))
                        if self.device.mode == "subscribe":
                            await self._subscribe(client, attempt)
                        else:
                            await self._poll(client, attempt)
                except SourceError as err:
                    self.health.set(False, str(err))
                    ts = now_ms()
                    for point in self.points:
                        point.stale(ts)
                    raise

    async def _guarded(self, work: Any) -> Any:
        try:
            return await work
        except (asyncio.CancelledError, SourceError):
            raise
        except Exception as err:  # any asyncua failure inside a session means the session is gone
            raise SourceError(f"{self.device.endpoint}: {err!r}") from err

    async def _subscribe(self, client: Client, attempt: AttemptManager) -> None:
        lost = asyncio.Event()

        async def on_lost(_exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            sub = await client.create_subscription(self.device.publishing_ms, None, queue_maxsize=0)
            await self._monitor(sub)
        except UaStatusCodeError as err:  # a server without (enough) subscriptions: poll it instead
            log.warning("device %s: subscription refused (%s): polling every %d ms", self.device.name, err,
                        self.device.poll_ms)  # fmt: skip
            await self._poll(client, attempt)
            return
        except (OSError, TimeoutError, UaError) as err:
            raise SourceError(f"{self.device.endpoint}: {err!r}") from err
        self.health.set(True)
        start_over(attempt)
        consumer = asyncio.create_task(self._consume(sub), name=f"opcua-{self.device.name}-consume")
        watchdog = asyncio.create_task(
            self._watchdog(client, lost), name=f"opcua-{self.device.name}-watchdog"
        )
        try:
            done, _ = await asyncio.wait({consumer, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise SourceError(f"{self.device.endpoint}: subscription ended")
        finally:
            consumer.cancel()
            watchdog.cancel()
            await asyncio.gather(consumer, watchdog, return_exceptions=True)

    async def _monitor(self, sub: Subscription) -> None:
        """Create the monitored items, `batch_size` per CreateMonitoredItems request.

        Counter, state, run and fault items get a server-side queue, so changes faster than the
        publishing interval all arrive; analog items keep only the latest value."""
        live = [i for i, node in enumerate(self.nodes) if node is not None]
        protected = [i for i in live if self.points[i].tag.role in PROTECTED_ROLES]
        analog = [i for i in live if self.points[i].tag.role not in PROTECTED_ROLES]
        size = self.device.batch_size
        for indexes, queue in ((protected, QUEUE_PROTECTED), (analog, 1)):
            for start in range(0, len(indexes), size):
                await self._monitor_chunk(sub, indexes[start : start + size], queue)

    async def _monitor_chunk(self, sub: Subscription, chunk: list[int], queue: int) -> None:
        nodes = [n for n in (self.nodes[i] for i in chunk) if n is not None]
        interval = ua.Double(self.device.sampling_ms)
        results = await sub.subscribe_data_change(nodes, queuesize=queue, sampling_interval=interval)
        for index, result in zip(chunk, results if isinstance(results, list) else [results], strict=True):
            if isinstance(result, ua.StatusCode):
                self._bad(index, f"cannot monitor: {result.name}")

    async def _consume(self, sub: Subscription) -> None:
        points, by_node = self.points, self.by_node
        async for event in sub:
            if isinstance(event, DataChangeEvent):
                index = by_node.get(event.node.nodeid)
                if index is not None:
                    self._report(points[index], event.value, event.data.monitored_item.Value)
            elif isinstance(event, StatusChangeEvent):
                raise SourceError(f"{self.device.endpoint}: subscription status {event.notification.Status}")

    def _report(self, point: TagPoint, value: Any, data_value: ua.DataValue | None) -> None:
        quality = quality_of(data_value.StatusCode if data_value is not None else None)
        result = plain(value)
        if quality == "bad":
            result = None
        elif isinstance(result, int | float) and not isinstance(result, bool):
            tag = point.tag
            if tag.scale != 1.0 or tag.offset != 0.0:
                result = round(result * tag.scale + tag.offset, 9)
        point.report(result, quality, timestamp_of(data_value))

    async def _watchdog(self, client: Client, lost: asyncio.Event) -> None:
        state_node = client.get_node(f"i={ObjectIds.Server_ServerStatus_State}")
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.device.watchdog_s):
                    await lost.wait()
            if lost.is_set():
                break
            try:
                async with asyncio.timeout(self.device.watchdog_s):
                    await state_node.read_value()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any failure of the probe means the session is gone
                raise SourceError(f"{self.device.endpoint}: watchdog probe failed: {err!r}") from err
        raise SourceError(f"{self.device.endpoint}: connection lost")

    async def _poll(self, client: Client, attempt: AttemptManager) -> None:
        indexes = [i for i, node in enumerate(self.nodes) if node is not None]
        while True:
            await self._read_batch(client, indexes)
            self.health.set(True)
            start_over(attempt)
            await asyncio.sleep(self.device.poll_ms / 1000)

    async def _read_batch(self, client: Client, indexes: Sequence[int]) -> None:
        size = self.device.batch_size
        for start in range(0, len(indexes), size):
            chunk = indexes[start : start + size]
            nodes = [n for n in (self.nodes[i] for i in chunk) if n is not None]
            values = await self._guarded(client.read_attributes(nodes))
            for index, data_value in zip(chunk, values, strict=True):
                inner = data_value.Value.Value if data_value.Value is not None else None
                if data_value.Value is not None:
                    self.points[index].wire = f"{data_value.Value.VariantType.name} {inner!r}"[:60]
                status = data_value.StatusCode
                if status is not None and not status.is_good():
                    self.errors[index] = f"status {status.name}"
                self._report(self.points[index], inner, data_value)

    # -- commands and check -----------------------------------------------------------------------------

    async def write(self, point: TagPoint, value: Value) -> None:
        node = self.nodes[self.points.index(point)]
        if self.client is None or node is None:
            raise CommandError(f"{point.machine}/{point.name}: device {self.device.name} is not connected")
        tag = point.tag
        if isinstance(value, int | float) and not isinstance(value, bool) and (tag.scale != 1 or tag.offset):
            value = (value - tag.offset) / tag.scale
        try:
            variant_type = await node.read_data_type_as_variant_type()
            if isinstance(value, float) and value.is_integer() and variant_type not in _FLOAT_TYPES:
                value = int(value)
            await node.write_value(ua.DataValue(ua.Variant(value, variant_type)))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # asyncua: UaStatusCodeError, struct.error, ValueError...
            raise CommandError(f"cannot write {point.machine}/{point.name}: {err}") from err

    async def read_once(self) -> dict[str, tuple[Value, str, str | None]]:
        results: dict[str, tuple[Value, str, str | None]] = {}
        names = [f"{p.machine}/{p.name}" for p in self.points]
        try:
            async with self.session() as client:
                await self._guarded(self.resolve(client))
                indexes = [i for i, node in enumerate(self.nodes) if node is not None]
                await self._read_batch(client, indexes)
        except SourceError as err:
            return {name: (None, "bad", str(err)) for name in names}
        for index, (name, point) in enumerate(zip(names, self.points, strict=True)):
            error = (
                self.errors.get(index)
                if self.nodes[index] is not None
                else self.errors.get(index, "node not found")
            )
            results[name] = (point.raw, point.reporter.last_quality or "bad", error)
        return results


_FLOAT_TYPES = (ua.VariantType.Float, ua.VariantType.Double)


def _with_index(address: str, namespaces: list[str] | None) -> str:
    """`nsu=URI;s=x` -> `ns=N;s=x` by the server's namespace array (other ids unchanged)."""
    if not address.startswith("nsu="):
        return address
    uri, _, rest = address[4:].partition(";")
    if namespaces is None or uri not in namespaces:
        known = ", ".join(namespaces or [])
        raise ValueError(
            f"namespace {uri} is not on the server (it has: {known}); check the URI with takt edge browse"
        )
    return f"ns={namespaces.index(uri)};{rest}"

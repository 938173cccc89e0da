"""`Ingestor(settings, engine)`: MQTT -> durable inbox -> ack -> apply in seq order -> ack topic.

One worker thread takes what paho received, in passes of up to `max_messages_per_pass` messages:
  1. decode and validate; bad ones become dead letters (oversized ones undecoded); so do messages of edges
     that are not approved (a new edge id becomes "pending approval") and the samples, tag definitions
     and device states an edge sends for machines it does not own (server/domain/edges.py);
  2. commit batches (UNIQUE(edge_id, seq)) and dead letters in one transaction, then ack every message;
     if the database refuses the pass for the data's sake, the messages are stored one by one and the
     refused ones dead-lettered (server/ingest/errors.py); a database error keeps the pass unacked and
     retries it with a backoff capped at `retry_max_s`;
  3. handle status and command-result messages;
  4. apply the touched edges (server/ingest/apply.py), publish each edge's highest contiguous stored seq
     on its retained `ack` topic, write external historians, publish live events.
Between passes a tick records gaps held longer than `gap_grace_s`, retries edges with held or failed
batches (other replicas, operator skips), retries historian writes and applies retention.
`health()` says why ingestion is stuck or late (GET /healthz, /readyz; docs/reliability.md).
"""

import gc
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.core.events import Event, bus
from server.core.settings import Settings
from server.domain.edges import Refusals, note_refusals
from server.historian import Historian, make_historian
from server.ingest import apply as applier
from server.ingest import future
from server.ingest.clock import ClockWatch
from server.ingest.errors import is_bad_data
from server.ingest.historian_buffer import HistorianBuffer
from server.ingest.inbox import Rejected, StoredBatch, prune_dead_letters, store, store_each
from server.ingest.liveness import Liveness, mark_back, mark_silent
from server.ingest.metrics import Metrics
from server.ingest.mqtt import Incoming, MqttLink
from server.ingest.options import IngestOptions
from server.ingest.registry import Registry
from server.ingest.sparkplug import SparkplugHost
from server.ingest.sparkplug_apply import Target
from server.ingest.status import handle_status
from server.models.ingest import InboxBatch
from shared import topics
from shared.errors import PayloadError, TopicError
from shared.messages import Ack, Alive, CommandResult, DataBatch, Status, decode, encode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    """Ingestion's health as /healthz and /readyz report it; `reasons` is empty when healthy."""

    ok: bool
    connected: bool
    lag_s: float  # age of the oldest message received and not yet stored
    store_failing_s: float | None  # how long storing has failed (database errors), None when it works
    reasons: list[str] = field(default_factory=list)


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        options: IngestOptions | None = None,
        historian: Historian | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.options = options or IngestOptions.from_settings(settings)
        self.metrics = Metrics()
        self.registry = Registry(engine)
        self.historian = historian or make_historian(settings, engine)
        self.buffer = HistorianBuffer(self.historian, self.options.historian_retry_points, self.metrics)
        self.clock = ClockWatch(self.metrics, self.options.future_tolerance_ms)
        self.ctx = applier.ApplyContext(
            engine, self.registry, self.historian, self.options, self.metrics, self.clock
        )
        self.link = MqttLink(settings, self.options)
        self.liveness = Liveness()
        self.link.on_alive, self.link.on_listening = self._alive, self.liveness.listening_again
        target = Target(engine, self.registry, self.historian, self.options, self.metrics, settings.site)
        self.sparkplug = (
            SparkplugHost(settings, target, self.buffer.write, self._emit)
            if settings.sparkplug_groups
            else None
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known_edges: set[str] = set()
        self._acked: dict[str, int] = {}
        self._gaps: dict[str, tuple[int, int, float]] = {}  # edge -> (from, to, first seen)
        self._errors: dict[str, str] = {}  # edge -> last apply error (logged once)
        self._kicked: set[str] = set()
        self._kick_lock = threading.Lock()
        self._next_retention = time.monotonic() + 60.0
        self._dead_logged: set[str] = set()
        self._store_failing_since: float | None = None
        self._store_error = ""
        self._oldest_pending: float | None = None
        self._error_since: dict[str, float] = {}  # edge -> when applying started failing
        self._refusals = Refusals()
        self._now = applier.now_ms()

    # lifecycle

    def start(self) -> None:
        # Objects alive now (modules, the app) leave the garbage collector's scans: ingestion allocates
        # millions of short-lived objects, and full collections over the whole heap halved its speed.
        gc.freeze()
        self.registry.reload()
        self._thread = threading.Thread(target=self._run, name="takt-ingest", daemon=True)
        self._thread.start()
        self.link.start()
        if self.sparkplug is not None:
            self.sparkplug.start()

    def stop(self) -> None:
        if self.sparkplug is not None:
            self.sparkplug.stop()
        self.link.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.historian.close()

    def kick(self, edge_id: str) -> None:
        """Ask the worker to (re)apply an edge soon (after an operator released a gap)."""
        with self._kick_lock:
            self._kicked.add(edge_id)

    def apply_errors(self) -> dict[str, str]:
        return dict(self._errors)

    # the worker

    def health(self) -> Health:
        """Healthy unless the worker died, messages wait longer than `max_lag_s` (the database is down,
        or ingestion cannot keep up) or an edge's batches fail to apply for that long."""
        now, bound = time.monotonic(), self.options.max_lag_s
        waiting = [t for t in (self._oldest_pending, self.link.oldest_waiting()) if t is not None]
        lag = now - min(waiting) if waiting else 0.0
        failing = None if self._store_failing_since is None else now - self._store_failing_since
        reasons = []
        if self._thread is None or not self._thread.is_alive():
            reasons.append("the ingestion worker is not running")
        if lag > bound:
            why = f": storing fails ({self._store_error})" if failing is not None else ""
            reasons.append(f"ingestion is {lag:.0f} s behind (bound {bound:.0f} s){why}")
        for edge_id, since in sorted(self._error_since.items()):
            if now - since > bound:
                reasons.append(f"edge {edge_id}: applying fails for {now - since:.0f} s: "
                               f"{self._errors.get(edge_id, '')[:300]}")  # fmt: skip
        connected = self.link.connected.is_set()
        return Health(not reasons, connected, round(lag, 3), failing, reasons)

    def _run(self) -> None:
        pending: list[Incoming] = []
        next_tick = 0.0
        wait = self.options.retry_min_s
        while not self._stop.is_set():
            pending.extend(self._drain(pending))
            if pending:
                self._oldest_pending = min(m.received for m in pending)
                try:
                    self._process(pending)
                    pending = []
                    self._oldest_pending = None
                except Exception as err:  # the database (or a bug), never the data: keep unacked, retry
                    self.metrics.add("store_errors")
                    self._store_error = f"{type(err).__name__}: {str(err)[:300]}"
                    if self._store_failing_since is None:
                        self._store_failing_since = time.monotonic()
                        log.exception("storing %d messages failed; retrying with backoff up to %.0f s",
                                      len(pending), self.options.retry_max_s)  # fmt: skip
                    self._stop.wait(wait)
                    # doubling by hand: the loop drains and ticks between tries, no retry wrapper fits
                    wait = min(wait * 2, self.options.retry_max_s)
                    continue
                wait = self.options.retry_min_s
                if self._store_failing_since is not None:
                    log.info("storing messages works again (after %.1f s)",
                             time.monotonic() - self._store_failing_since)  # fmt: skip
                    self._store_failing_since = None
            if self.link.connected.is_set():
                self._judge_liveness()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.options.tick_s
                self._tick()

    def _drain(self, pending: list[Incoming]) -> list[Incoming]:
        limit = self.options.max_messages_per_pass - len(pending)
        got: list[Incoming] = []
        if limit <= 0:
            return got
        try:
            got.append(self.link.inbox.get(timeout=0 if pending else min(0.2, self.options.tick_s)))
        except queue.Empty:
            return got
        while len(got) < limit:
            try:
                got.append(self.link.inbox.get_nowait())
            except queue.Empty:
                break
        return got

    def _process(self, messages: Sequence[Incoming]) -> None:
        now = applier.now_ms()
        batches: list[StoredBatch] = []
        rejected: list[Rejected] = []
        statuses: list[tuple[str, Status]] = []
        self._refusals = Refusals()
        self._now = now
        for message in messages:
            self._classify(message, batches, rejected, statuses)
        note_refusals(self.engine, self._refusals, now)
        inserted: set[tuple[str, int]] = set()
        try:
            new = store(self.engine, batches, rejected, self._known_edges, now, inserted)
        except Exception as err:
            if not is_bad_data(err):
                raise
            log.warning("the database refused a pass of %d messages (%s): storing them one by one",
                        len(messages), err)  # fmt: skip
            new, refused = store_each(self.engine, batches, rejected, self._known_edges, now, inserted)
            for key, letter in refused.items():
                self._reject(letter.topic, letter.reason, letter.payload, letter.size)
                self.ctx.decoded.pop(key, None)
            batches = [b for b in batches if (b.edge_id, b.seq) not in refused]
            rejected = [*rejected, *refused.values()]
        for b in batches:
            if b.held is not None and (b.edge_id, b.seq) in inserted:  # once, not per resend
                self.metrics.add("held_future_samples", b.held.samples)
                self.clock.note_held(b.edge_id, b.held.samples, b.held.newest_ts_ms)
        for message in messages:
            self.link.ack(message)
        self.metrics.add("messages", len(messages))
        self.metrics.add("batches_stored", new)
        self.metrics.add("duplicates", len(batches) - new)
        self.metrics.add("dead_letters", len(rejected))
        for site, status in statuses:
            self._status(site, status, now)
        edges = {(b.site, b.edge_id) for b in batches}
        for _site, edge in sorted(edges):
            self._apply(edge)
        self.ctx.decoded.clear()

    def _classify(
        self,
        message: Incoming,
        batches: list[StoredBatch],
        rejected: list[Rejected],
        statuses: list[tuple[str, Status]],
    ) -> None:
        size = len(message.payload)
        if size > self.options.max_payload_bytes:
            keep = message.payload[: self.options.dead_letter_keep_bytes]
            reason = (
                f"payload of {size} bytes exceeds {self.options.max_payload_bytes} (first {len(keep)} kept)"
            )
            rejected.append(self._reject(message.topic, reason, keep, size))
            return
        try:
            topic = topics.parse(message.topic)
            if topic.kind == "data":
                batch = decode(DataBatch, message.payload)
                _same_edge(topic.edge_id, batch.edge_id)
                self._trusted(topic.site, batch.edge_id, {s.machine for s in batch.samples})
                payload, batch = self._own_samples(
                    message.topic, topic.site, batch, message.payload, rejected
                )
                batch, held = future.split(batch, self._now, self.options.future_skew_ms)
                release = 0
                if held is not None:
                    payload = encode(batch)
                    release = future.release_ms(held, self._now, self.options.future_skew_ms,
                                                self.options.future_hold_max_s)  # fmt: skip
                stored = StoredBatch(
                    topic.site, batch.edge_id, batch.seq, len(batch.samples), payload, held, release
                )
                batches.append(stored)
                self.ctx.decoded[(batch.edge_id, batch.seq)] = batch
            elif topic.kind == "status":
                status = decode(Status, message.payload)
                _same_edge(topic.edge_id, status.edge_id)
                self._trusted(topic.site, status.edge_id, {t.machine for t in status.tags})
                status = self._own_status(message.topic, topic.site, status, message.payload, rejected)
                statuses.append((topic.site, status))
            elif topic.kind == "alive":  # only refused ones come this way (`_alive`)
                alive = decode(Alive, message.payload)
                _same_edge(topic.edge_id, alive.edge_id)
            elif topic.kind == "result":
                result = decode(CommandResult, message.payload)
                self.metrics.add("command_results")
                log.info(
                    "edge %s: command %s %s", result.edge_id, result.id, "ok" if result.ok else result.error
                )
        except (PayloadError, TopicError) as err:
            rejected.append(self._reject(message.topic, str(err), message.payload, size))

    def _alive(self, topic: str, payload: bytes) -> bool:
        """A heartbeat, in paho's thread: noted; a malformed one goes to the worker to be dead-lettered."""
        try:
            parsed = topics.parse(topic)
            alive = decode(Alive, payload)
            _same_edge(parsed.edge_id, alive.edge_id)
        except (PayloadError, TopicError):
            return False
        self.liveness.heard(parsed.site, alive)
        return True

    def _judge_liveness(self) -> None:
        silent, back = self.liveness.changes()
        for edge_id, heard in [*silent, *back]:
            mark, what = (mark_silent, "silent") if heard.silent else (mark_back, "heard again")
            try:
                self._emit(mark(self.ctx, edge_id, heard, applier.now_ms()))
            except Exception:  # the database: judged again on the next pass
                heard.silent = not heard.silent
                self.metrics.add("liveness_errors")
                log.exception("edge %s: marking it %s failed", edge_id, what)

    def _trusted(self, site: str, edge_id: str, machines: set[str]) -> None:
        """Raise PayloadError (a dead letter) unless `edge_id` is approved; a new edge id becomes pending."""
        state = self.registry.edge_state(edge_id)
        if state == "approved":
            return
        self._refusals.add(edge_id, site, machines)
        self.metrics.add("refused_messages")
        why = "revoked" if state == "revoked" else "not approved (pending approval on /admin/edges)"
        raise PayloadError("edge", f"edge {edge_id!r} is {why}: its messages are refused")

    def _foreign(self, site: str, edge_id: str, code: str) -> bool:
        """True for a known machine that `edge_id` does not own (an unknown one stays unknown)."""
        machine = self.registry.machine(site, code)
        return machine is not None and machine.edge_id != edge_id

    def _own_samples(
        self, topic: str, site: str, batch: DataBatch, payload: bytes, rejected: list[Rejected]
    ) -> tuple[bytes, DataBatch]:
        """Split off the samples of machines the edge does not own: dead-lettered (as a batch of their
        own, same edge and seq); the rest is stored, so the edge's seqs stay contiguous."""
        codes = {s.machine for s in batch.samples}
        foreign = {c for c in codes if self._foreign(site, batch.edge_id, c)}
        if not foreign:
            return payload, batch
        kept = [s for s in batch.samples if s.machine not in foreign]
        refused = msgspec.structs.replace(batch, samples=[s for s in batch.samples if s.machine in foreign])
        raw = encode(refused)
        self.metrics.add("refused_samples", len(refused.samples))
        reason = (f"edge {batch.edge_id!r} does not own machine(s) {', '.join(sorted(foreign))}: "
                  f"{len(refused.samples)} samples of seq {batch.seq} refused")  # fmt: skip
        rejected.append(self._reject(topic, reason, raw, len(raw)))
        batch = msgspec.structs.replace(batch, samples=kept)
        return encode(batch), batch

    def _own_status(
        self, topic: str, site: str, status: Status, payload: bytes, rejected: list[Rejected]
    ) -> Status:
        """Drop the tag definitions and device states of machines the edge does not own (dead-lettered)."""
        foreign = {t.machine for t in status.tags if self._foreign(site, status.edge_id, t.machine)}
        foreign |= {d.name for d in status.devices if self._foreign(site, status.edge_id, d.name)}
        if not foreign:
            return status
        self.metrics.add("refused_tags", sum(t.machine in foreign for t in status.tags))
        reason = (f"edge {status.edge_id!r} does not own machine(s) {', '.join(sorted(foreign))}: "
                  "their tag definitions and device states refused")  # fmt: skip
        rejected.append(self._reject(topic, reason, payload, len(payload)))
        return msgspec.structs.replace(
            status,
            tags=[t for t in status.tags if t.machine not in foreign],
            devices=[d for d in status.devices if d.name not in foreign],
        )

    def _reject(self, topic: str, reason: str, payload: bytes, size: int) -> Rejected:
        if topic not in self._dead_logged:
            self._dead_logged.add(topic)
            log.warning(
                "dead letter from %s: %s (more from this topic: counted, not logged)", topic, reason[:300]
            )
        return Rejected(topic, reason, payload, size)

    def _status(self, site: str, status: Status, now: int) -> None:
        try:
            self._emit(handle_status(self.engine, self.registry, site, status, now))
        except Exception:
            log.exception("edge %s: status message could not be stored", status.edge_id)
        self.metrics.add("status_messages")

    def _apply(self, edge_id: str) -> None:
        result = applier.apply_edge(self.ctx, edge_id)
        if result.error is not None:
            if self._errors.get(edge_id) != result.error:
                log.error("edge %s: applying batches after seq %d failed: %s", edge_id, result.last_applied,
                          result.error)  # fmt: skip
            self._errors[edge_id] = result.error
            self._error_since.setdefault(edge_id, time.monotonic())
        elif self._errors.pop(edge_id, None) is not None:
            self._error_since.pop(edge_id, None)
            log.info("edge %s: applying batches works again", edge_id)
        self.buffer.write(result.points)
        self._emit(result.events)
        self._publish_ack(edge_id)

    def _publish_ack(self, edge_id: str) -> None:
        prog = applier.progress(self.engine, edge_id)
        if prog is None:
            return
        self._watch_gap(prog)
        if self._acked.get(edge_id) == prog.contiguous:
            return
        self.link.publish(
            topics.ack(prog.site, edge_id), encode(Ack(edge_id=edge_id, seq=prog.contiguous)), True
        )
        self._acked[edge_id] = prog.contiguous
        self.metrics.add("acks_published")

    def _watch_gap(self, prog: applier.Progress) -> None:
        if prog.first_held is None:
            if self._gaps.pop(prog.edge_id, None) is not None:
                log.info("edge %s: gap closed, applied up to seq %d", prog.edge_id, prog.last_applied)
            return
        hole = (prog.contiguous + 1, prog.first_held - 1)
        seen = self._gaps.get(prog.edge_id)
        if seen is None or seen[:2] != hole:
            self._gaps[prog.edge_id] = (*hole, time.monotonic())

    def _emit(self, events: Sequence[Event]) -> None:
        for event in events:
            bus.publish(event)

    # housekeeping

    def _tick(self) -> None:
        try:
            self.registry.refresh(self.options.registry_refresh_s)
            self._record_gaps()
            for edge_id in self._edges_to_retry():
                self._apply(edge_id)
            self.buffer.retry()
            if time.monotonic() >= self._next_retention:
                self._next_retention = time.monotonic() + self.options.retention_every_s
                self.historian.apply_retention(applier.now_ms())
                prune_dead_letters(self.engine, applier.now_ms())
            future.release_due(self.engine, applier.now_ms(), self.options.future_skew_ms)
        except Exception:
            log.exception("ingest housekeeping failed")

    def _edges_to_retry(self) -> set[str]:
        with self._kick_lock:
            edges, self._kicked = self._kicked, set()
        with Session(self.engine) as session:
            edges.update(session.exec(select(InboxBatch.edge_id).distinct()).all())
        return edges

    def _record_gaps(self) -> None:
        now = time.monotonic()
        for edge_id, (first, last, since) in list(self._gaps.items()):
            if now - since < self.options.gap_grace_s or since < 0:
                continue
            if applier.record_gap(self.engine, edge_id, first, last):
                self.metrics.add("gaps_detected")
                log.warning("edge %s: seq %d..%d missing; later batches are held (see /api/v1/edges/%s)",
                            edge_id, first, last, edge_id)  # fmt: skip
            self._gaps[edge_id] = (first, last, -1.0)  # recorded: not again


def _same_edge(topic_edge: str, payload_edge: str) -> None:
    if topic_edge != payload_edge:
        raise PayloadError(
            "data", f"edge id {payload_edge!r} in the payload differs from the topic's {topic_edge!r}"
        )

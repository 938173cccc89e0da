"""The effects of applied batches inside one transaction: counts, machine states, historian points.

`Effects` accumulates the samples of one or more batches of ONE edge (applied in seq order) and
`flush()` writes everything in the caller's session: counter/signal state, the count ledger, operation
machine counts, counter anomalies, state segments and downtime, and (sql historian) the points.
Points for external historians and live events are handed back to run after the commit.
"""

import dataclasses
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from server.core.events import CountsChanged, Event, MachineStateChanged
from server.domain import backflush, counting, counts, machine_state
from server.historian.base import Historian, Point
from server.ingest.activity import MachineActivity
from server.ingest.metrics import Metrics
from server.ingest.options import IngestOptions
from server.ingest.registry import COUNTER_ROLES, STATE_ROLES, MachineInfo, Registry, TagInfo
from server.models.ingest import CounterAnomaly, CountEvent, SignalState
from server.models.production import OperationRun
from shared.messages import DataBatch, Sample

log = logging.getLogger(__name__)

HISTORIAN_QUALITIES = frozenset({"good", "uncertain"})
_SIGNAL_TYPES = {"machine_id": "integer", "tag": "varchar", "value": "bigint", "ts_ms": "bigint",
                 "suspect_value": "bigint", "suspect_ts_ms": "bigint", "rate": "float8",
                 "window_ms": "bigint", "window_parts": "bigint"}  # fmt: skip
_SIGNAL_UPDATE = ", ".join(f"{name} = excluded.{name}" for name in list(_SIGNAL_TYPES)[2:])
# SQLite: an executemany (its loop is in C). PostgreSQL: one statement over one array per column (an
# executemany is a statement per row through psycopg's pipeline, which cost more CPU than the database).
_SIGNALS_UPSERT_SQLITE = text(
    f"INSERT INTO ingest_signal_state ({', '.join(_SIGNAL_TYPES)}) "
    f"VALUES ({', '.join(':' + name for name in _SIGNAL_TYPES)}) "
    f"ON CONFLICT (machine_id, tag) DO UPDATE SET {_SIGNAL_UPDATE}"
)
_SIGNALS_UPSERT_POSTGRESQL = text(
    f"INSERT INTO ingest_signal_state ({', '.join(_SIGNAL_TYPES)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _SIGNAL_TYPES.items())
    + f") ON CONFLICT (machine_id, tag) DO UPDATE SET {_SIGNAL_UPDATE}"
)


@dataclass(frozen=True, slots=True)
class Increment:
    machine: MachineInfo
    ts_ms: int
    good: int
    scrap: int
    kind: str
    seq: int
    received_ms: int  # the server's time of receipt: kept beside the edge's ts_ms (its clock may be off)
    cycles: int = 0  # a cycle counter's cycles: x parts per cycle (the tag's, else the product's) -> good
    parts_per_cycle: int | None = None


@dataclass
class Effects:
    session: Session
    edge_id: str
    site: str
    registry: Registry
    historian: Historian
    options: IngestOptions
    metrics: Metrics
    points: list[Point] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    _signals: dict[int, dict[str, counting.CounterState]] = field(default_factory=dict)
    _dirty: set[tuple[int, str]] = field(default_factory=set)
    _increments: list[Increment] = field(default_factory=list)
    _anomalies: list[dict[str, Any]] = field(default_factory=list)
    _dismiss: list[tuple[int, str, int, int]] = field(default_factory=list)  # (machine, tag, after, upto)
    # counter samples are counted at flush, once every state sample of the transaction is known
    _counter_samples: list[tuple[MachineInfo, TagInfo, Sample, int, int]] = field(default_factory=list)
    _activities: dict[int, MachineActivity] = field(default_factory=dict)
    # state samples, and (tag None) a machine's first good sample after the start or a stale state sample:
    # the time it may be back from offline. Processed in sample order at flush.
    _state_samples: list[tuple[MachineInfo, TagInfo | None, Sample]] = field(default_factory=list)
    _watch: dict[int, bool] = field(default_factory=dict)
    _limits: dict[int, counting.Limits] = field(default_factory=dict)
    _spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    _run_cache: dict[int, list[tuple[int, int, int | None]]] = field(default_factory=dict)

    def add(self, batch: DataBatch, received_ms: int) -> None:
        """Take one batch's samples, received at `received_ms` (batches must come in seq order)."""
        site, registry, points, watch = self.site, self.registry, self.points, self._watch
        machines = {code: registry.machine(site, code) for code in {s.machine for s in batch.samples}}
        self._load_signals({m.id for m in machines.values() if m is not None and m.edge_id == self.edge_id})
        for sample in batch.samples:
            code = sample.machine
            machine = machines[code]
            if machine is None:
                self._unknown_machine(sample)
                continue
            if machine.edge_id != self.edge_id:  # given to another edge after the batch was stored
                self.metrics.add("refused_samples")
                continue
            if sample.quality == "good" and watch.get(machine.id, True):
                watch[machine.id] = False
                self._state_samples.append((machine, None, sample))
                self._span(machine.id, sample.ts_ms)
            tag = machine.tags.get(sample.tag) or registry.missing_tag(site, code, sample.tag)
            if tag is None:
                self._unknown_tag(machine, sample)
            elif tag.role in COUNTER_ROLES:
                self._counter_samples.append((machine, tag, sample, batch.seq, received_ms))
                self._span(machine.id, sample.ts_ms)
            elif tag.role in STATE_ROLES:
                self._state_samples.append((machine, tag, sample))
                self._span(machine.id, sample.ts_ms)
                if sample.quality == "stale":
                    watch[machine.id] = True
                elif sample.quality == "good" and isinstance(sample.value, int | float):
                    self._activity_of(machine).signal(tag.role, int(sample.value), sample.ts_ms)
            value = sample.value
            if sample.quality in HISTORIAN_QUALITIES and isinstance(value, int | float):
                points.append(Point(site, code, sample.tag, sample.ts_ms, float(value)))
        self.metrics.add("samples_applied", len(batch.samples))

    def _unknown_machine(self, sample: Sample) -> None:
        self.metrics.add("unknown_machine_samples")
        if self.registry.first_unknown(self.site, sample.machine):
            log.warning(
                "edge %s: unknown machine %s/%s (samples ignored)", self.edge_id, self.site, sample.machine
            )

    def _unknown_tag(self, machine: MachineInfo, sample: Sample) -> None:
        self.metrics.add("unknown_tag_samples")
        if self.registry.first_unknown(self.site, machine.code, sample.tag):
            log.warning(
                "machine %s: unknown tag %s (kept in the historian as analog)", machine.code, sample.tag
            )

    # counters

    def _signal_map(self, machine_id: int) -> dict[str, counting.CounterState]:
        states = self._signals.get(machine_id)
        if states is None:
            self._load_signals({machine_id})
            states = self._signals[machine_id]
        return states

    def _load_signals(self, machine_ids: set[int]) -> None:
        """Read the signal states of these machines in one query (a batch holds most of an edge's
        machines: one query per transaction rather than one per machine)."""
        wanted = machine_ids - self._signals.keys()
        if not wanted:
            return
        s = SignalState  # plain rows, not ORM objects: this runs every transaction
        columns = (s.machine_id, s.tag, s.value, s.ts_ms, s.suspect_value, s.suspect_ts_ms, s.rate,
                   s.window_ms, s.window_parts)  # fmt: skip
        rows: list[Any] = list(
            self.session.connection().execute(
                sa_select(*(col(c) for c in columns)).where(col(s.machine_id).in_(wanted))
            )
        )
        for machine_id in wanted:
            self._signals[machine_id] = {}
        for row in rows:
            self._signals[row[0]][row[1]] = counting.CounterState(*row[2:])

    def _count(
        self, machine: MachineInfo, tag: TagInfo, sample: Sample, seq: int, received_ms: int
    ) -> None:  # fmt: skip
        states = self._signal_map(machine.id)
        limits = self._limits.get(machine.id)
        if limits is None:
            limits = dataclasses.replace(self.options.counter_limits, ideal_cycle_s=machine.ideal_cycle_s)
            self._limits[machine.id] = limits
        spec = tag.counter
        old = states.get(tag.name)
        if old is not None and sample.ts_ms <= old.ts_ms and sample.quality == "good":
            value = counting.as_count(sample.value, tag.width)
            if value is not None and spec.up(value) >= spec.up(old.value):
                self.metrics.add("clock_steps_back")
                old = counting.clock_stepped_back(old, sample.ts_ms)
        activity = self._activity_of(machine).at(sample.ts_ms)
        step = counting.step(
            old, sample.value, sample.ts_ms, sample.quality, limits=limits, counter=spec, activity=activity
        )
        if step.state is not None and step.state is not old:
            states[tag.name] = step.state
            self._dirty.add((machine.id, tag.name))
        if step.settled is not None and old is not None and old.suspect_ts_ms is not None:
            upto = sample.ts_ms if step.settled == "glitch" else old.suspect_ts_ms - 1  # keep the jump
            self._dismiss.append((machine.id, tag.name, old.ts_ms, upto))
        if step.held > 0:
            self._hold(machine, tag, sample, old, step, seq)
        if step.increment > 0:
            good, scrap, cycles = counts.book(tag.role, step.increment, machine.counts_total)
            self._increments.append(
                Increment(machine, sample.ts_ms, good, scrap, step.kind.value, seq, received_ms, cycles,
                          tag.parts_per_cycle)
            )  # fmt: skip

    def _activity_of(self, machine: MachineInfo) -> MachineActivity:
        found = self._activities.get(machine.id)
        if found is None:
            signals = self._signal_map(machine.id)
            roles = {
                info.role: signals[name].value
                for name, info in machine.tags.items()
                if info.role in STATE_ROLES and name in signals
            }
            found = self._activities[machine.id] = MachineActivity(roles)
        return found

    def _hold(
        self, machine: MachineInfo, tag: TagInfo, sample: Sample, old: counting.CounterState | None,
        step: counting.Step, seq: int,
    ) -> None:  # fmt: skip
        self.metrics.add("quarantined" if step.kind is counting.Kind.QUARANTINE else "held_ambiguous")
        log.warning("machine %s tag %s: %d held for a supervisor: %s", machine.code, tag.name, step.held,
                    step.reason)  # fmt: skip
        new_value = counting.as_count(sample.value, tag.width) or 0
        self._anomalies.append(
            {"machine_id": machine.id, "tag": tag.name, "ts_ms": sample.ts_ms,
             "old_value": old.value if old else None, "new_value": new_value, "reason": step.reason[:500],
             "edge_id": self.edge_id, "seq": seq, "kind": step.kind.value, "role": tag.role,
             "held": step.held, "status": "open"}
        )  # fmt: skip

    # flushing

    def flush(self) -> None:
        """Write every effect in the session (call once, before commit)."""
        for machine, tag, sample, seq, received_ms in self._counter_samples:
            self._count(machine, tag, sample, seq, received_ms)
        self._counter_samples.clear()
        self._activities.clear()
        self._apply_states()
        self._write_counts()
        self._write_anomalies()
        self._write_signals()
        if self.points and getattr(self.historian, "transactional", False):
            self.historian.write_in(self.session.connection(), self.points)  # type: ignore[attr-defined]
            self.metrics.add("historian_points", len(self.points))
            self.points = []

    def _write_anomalies(self) -> None:
        for machine_id, tag, after, upto in self._dismiss:
            for row in self._anomalies:  # held in this transaction
                if (row["machine_id"], row["tag"], row["kind"]) == (machine_id, tag, "quarantine") and (
                    after < row["ts_ms"] <= upto
                ):
                    row.update(status="dismissed", resolved_by="takt", resolved_ms=int(time.time() * 1000))
            counts.dismiss_glitches(self.session, machine_id, tag, after, upto)
        self._dismiss.clear()
        if self._anomalies:
            self.session.execute(insert(CounterAnomaly), self._anomalies)
            self._anomalies.clear()

    def _write_signals(self) -> None:
        if not self._dirty:
            return
        rows = []
        for machine_id, tag in sorted(self._dirty):
            state = self._signals[machine_id][tag]
            rows.append(
                {"machine_id": machine_id, "tag": tag, "value": state.value, "ts_ms": state.ts_ms,
                 "suspect_value": state.suspect_value, "suspect_ts_ms": state.suspect_ts_ms,
                 "rate": state.rate, "window_ms": state.window_ms, "window_parts": state.window_parts}
            )  # fmt: skip
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            columns = {name: [row[name] for row in rows] for name in _SIGNAL_TYPES}
            conn.execute(_SIGNALS_UPSERT_POSTGRESQL, columns)
        else:
            conn.execute(_SIGNALS_UPSERT_SQLITE, rows)
        self._dirty.clear()

    def _write_counts(self) -> None:
        if not self._increments:
            return
        by_machine: dict[int, list[Increment]] = defaultdict(list)
        for inc in self._increments:
            by_machine[inc.machine.id].append(inc)
        ledger: list[dict[str, Any]] = []
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        cavities: dict[int | None, int] | None = None
        for machine_id, incs in by_machine.items():
            runs = self._runs(machine_id)
            per_op: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
            for inc in incs:
                op = _covering(runs, inc.ts_ms)
                if inc.cycles:
                    if inc.parts_per_cycle is None and cavities is None:
                        cavities = counts.parts_per_cycle(self.session, self._operations_of(by_machine))
                    per_cycle = inc.parts_per_cycle or (cavities or {}).get(op) or 1
                    inc = dataclasses.replace(inc, good=inc.good + inc.cycles * per_cycle)
                ledger.append(
                    {"machine_id": machine_id, "operation_id": op, "ts_ms": inc.ts_ms, "good": inc.good,
                     "scrap": inc.scrap, "kind": inc.kind, "edge_id": self.edge_id, "seq": inc.seq,
                     "received_ms": inc.received_ms}
                )  # fmt: skip
                per_op[op][0] += inc.good
                per_op[op][1] += inc.scrap
            for op, (good, scrap) in per_op.items():
                if op is not None:
                    totals[op][0] += good
                    totals[op][1] += scrap
                code = incs[0].machine.code
                self.events.append(CountsChanged(machine_id, code, op, good, scrap, incs[-1].ts_ms))
        self.session.execute(insert(CountEvent), ledger)
        counts.add_to_operations(self.session, totals)
        backflush.after_counts(self.session, set(totals))
        self._increments.clear()

    def _operations_of(self, by_machine: dict[int, list[Increment]]) -> set[int]:
        return {op for machine_id in by_machine for op, _, _ in self._runs(machine_id)}

    def _runs(self, machine_id: int) -> list[tuple[int, int, int | None]]:
        """Operation runs of the machine that may cover a sample of this transaction (loaded once)."""
        runs = self._run_cache.get(machine_id)
        if runs is None:
            lo, hi = self._spans.get(machine_id, (0, 1 << 62))
            rows = self.session.exec(
                select(OperationRun.operation_id, OperationRun.start_ms, OperationRun.end_ms).where(
                    OperationRun.machine_id == machine_id,
                    OperationRun.start_ms <= hi,
                    (col(OperationRun.end_ms).is_(None)) | (col(OperationRun.end_ms) > lo),
                )
            ).all()
            runs = self._run_cache[machine_id] = sorted(((op, a, b) for op, a, b in rows), key=lambda r: r[1])
        return runs

    def _span(self, machine_id: int, ts_ms: int) -> None:
        """Widen the machine's [lo, hi] sample time span of this transaction."""
        span = self._spans.get(machine_id)
        if span is None:
            self._spans[machine_id] = (ts_ms, ts_ms)
        elif ts_ms < span[0] or ts_ms > span[1]:
            self._spans[machine_id] = (min(span[0], ts_ms), max(span[1], ts_ms))

    # machine states

    def _apply_states(self) -> None:
        timeline = machine_state.Timeline(self.session)
        timeline.load(machine.id for machine, _, _ in self._state_samples)
        for machine, tag, sample in self._state_samples:
            if tag is None:
                state = self._back_from_offline(timeline, machine)
            else:
                state = self._signal_state(machine, tag, sample)
            if state is not None:
                self._change(timeline, machine, state, sample.ts_ms)
        self._state_samples.clear()
        self._watch.clear()

    def _back_from_offline(self, timeline: machine_state.Timeline, machine: MachineInfo) -> str | None:
        """A good sample of an offline machine: it is back (or its edge was only cut off from the broker:
        then the offline stretch is retracted), in the state its last signals give."""
        segment = timeline.current(machine.id)
        if segment is None or segment.state != "offline":
            return None
        return machine_state.derive(*self._signals_by_role(machine, self._signal_map(machine.id)))

    def resume(self, machine: MachineInfo, offline_from_ms: int, ts_ms: int) -> None:
        """The machine's edge is heard again after a silence that put it offline at `offline_from_ms`:
        it is back at `ts_ms`, in the state its last signals give (an idle machine sends no sample that
        would bring it back). An offline stretch that began otherwise (its device down) stays."""
        timeline = machine_state.Timeline(self.session)
        segment = timeline.current(machine.id)
        if segment is None or segment.state != "offline" or segment.start_ms != offline_from_ms:
            return
        state = self._back_from_offline(timeline, machine)
        if state is not None:
            self._change(timeline, machine, state, ts_ms)

    def _change(self, timeline: machine_state.Timeline, machine: MachineInfo, state: str, ts_ms: int) -> None:
        change = timeline.transition(machine.id, state, ts_ms)
        if change is None:
            return
        producing = state != "running" and _covering(self._runs(machine.id), ts_ms) is not None
        machine_state.apply_downtime(self.session, change, producing)
        self.events.append(MachineStateChanged(machine.id, machine.code, state, ts_ms))

    def _signal_state(self, machine: MachineInfo, tag: TagInfo, sample: Sample) -> str | None:
        """Update the machine's signal from `sample`; return the derived machine state, if any."""
        if sample.quality == "stale":
            return "offline"
        if sample.quality != "good":
            return None
        value = sample.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):  # bool is an int
            return None
        signals = self._signal_map(machine.id)
        old = signals.get(tag.name)
        if old is None or sample.ts_ms >= old.ts_ms:  # an older sample never overwrites a newer one
            signals[tag.name] = counting.CounterState(int(value), sample.ts_ms)
            self._dirty.add((machine.id, tag.name))
        return machine_state.derive(*self._signals_by_role(machine, signals))

    @staticmethod
    def _signals_by_role(
        machine: MachineInfo, signals: dict[str, counting.CounterState]
    ) -> tuple[int | None, bool | None, bool | None]:
        found: dict[str, int] = {}
        for name, info in machine.tags.items():
            if info.role in STATE_ROLES and name in signals:
                found[info.role] = signals[name].value
        state = found.get("state")
        run = found.get("run")
        fault = found.get("fault")
        return state, None if run is None else bool(run), None if fault is None else bool(fault)


def _covering(runs: list[tuple[int, int, int | None]], ts_ms: int) -> int | None:
    """The operation whose run covers ts_ms (the latest started one if several do)."""
    found = None
    for op, start, end in runs:
        if start <= ts_ms and (end is None or ts_ms < end):
            found = op
    return found

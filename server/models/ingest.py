"""Ingestion's tables: the durable inbox, per-edge cursors and gaps, dead letters, edge status, counter and
signal state, the count ledger, counter anomalies, the machine state timeline and the SQL historian.

Machine times are epoch milliseconds (BigInteger). See docs/ingest.md and docs/historian.md.
"""

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class InboxBatch(SQLModel, table=True):
    """A stored, not yet applied data batch. Primary key = UNIQUE(edge_id, seq): duplicates are no-ops."""

    __tablename__ = "ingest_inbox"
    edge_id: str = Field(max_length=64, primary_key=True)
    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    site: str = Field(max_length=64)
    received_ms: int = Field(sa_type=BigInteger)
    samples: int = 0
    payload: bytes = Field(sa_type=LargeBinary)


class EdgeCursor(SQLModel, table=True):
    """Per edge: the last applied seq. Locked (FOR UPDATE / BEGIN IMMEDIATE) by whoever applies."""

    __tablename__ = "ingest_edge_cursor"
    edge_id: str = Field(max_length=64, primary_key=True)
    site: str = Field(max_length=64)
    last_applied_seq: int = Field(default=0, sa_type=BigInteger)
    applied_ms: int | None = Field(default=None, sa_type=BigInteger)
    batches: int = Field(default=0, sa_type=BigInteger)
    samples: int = Field(default=0, sa_type=BigInteger)


class GapEvent(SQLModel, table=True):
    """Seqs `from_seq..to_seq` missing while later batches wait; resolved "filled" or "skipped"."""

    __tablename__ = "ingest_gap"
    __table_args__ = (Index("ix_ingest_gap_edge", "edge_id", "from_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    edge_id: str = Field(max_length=64)
    from_seq: int = Field(sa_type=BigInteger)
    to_seq: int = Field(sa_type=BigInteger)
    detected_ms: int = Field(sa_type=BigInteger)
    resolved_ms: int | None = Field(default=None, sa_type=BigInteger)
    resolution: str | None = Field(default=None, max_length=16)  # filled | skipped
    resolved_by: str | None = Field(default=None, max_length=100)


class DeadLetter(SQLModel, table=True):
    """A message that could not be decoded or used, kept byte for byte with the reason."""

    __tablename__ = "ingest_dead_letter"
    id: int | None = Field(default=None, primary_key=True)
    received_ms: int = Field(sa_type=BigInteger, index=True)
    topic: str = Field(max_length=255)
    reason: str = Field(max_length=1000)
    size: int = 0
    payload: bytes = Field(sa_type=LargeBinary)


class EdgeStatus(SQLModel, table=True):
    """The last birth or will of an edge."""

    __tablename__ = "ingest_edge_status"
    edge_id: str = Field(max_length=64, primary_key=True)
    site: str = Field(max_length=64)
    online: bool = False
    status_ts_ms: int = Field(default=0, sa_type=BigInteger)
    session: int | None = Field(default=None, sa_type=BigInteger)  # the edge's connection number (ordering)
    status_n: int | None = Field(default=None, sa_type=BigInteger)  # the status's number in its connection
    received_ms: int = Field(default=0, sa_type=BigInteger)
    # when the server marked the edge offline for hearing nothing for keepalive x 1.5 (None otherwise)
    silent_ms: int | None = Field(default=None, sa_type=BigInteger)
    version: str = Field(default="", max_length=64)
    next_seq: int | None = Field(default=None, sa_type=BigInteger)
    devices: Any = Field(default=None, sa_column=Column(JSON))
    machines: Any = Field(default=None, sa_column=Column(JSON))  # machine codes named in the birth's tags
    buffer_depth: int = 0
    buffer_bytes: int = Field(default=0, sa_type=BigInteger)
    buffer_oldest_ms: int | None = Field(default=None, sa_type=BigInteger)
    dropped: Any = Field(default=None, sa_column=Column(JSON))
    disk_full_errors: int = Field(
        default=0, sa_type=BigInteger
    )  # the edge's outbox writes refused (disk full)


class SignalState(SQLModel, table=True):
    """Last good reading of a counter or state tag of a machine (the counting and timeline state)."""

    __tablename__ = "ingest_signal_state"
    machine_id: int = Field(
        foreign_key="machine.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    tag: str = Field(max_length=64, primary_key=True)
    value: int = Field(sa_type=BigInteger)
    ts_ms: int = Field(sa_type=BigInteger)
    suspect_value: int | None = Field(default=None, sa_type=BigInteger)  # quarantined, awaiting confirmation
    suspect_ts_ms: int | None = Field(default=None, sa_type=BigInteger)
    # the counter's learned rate (docs/ingest.md, "Counting"): peak per second, the current window
    rate: float | None = None
    window_ms: int | None = Field(default=None, sa_type=BigInteger)
    window_parts: int = Field(default=0, sa_type=BigInteger)


class CountEvent(SQLModel, table=True):
    """The count ledger: one row per applied increment, attributed by the sample's own timestamp."""

    __tablename__ = "ingest_count_event"
    __table_args__ = (
        Index("ix_ingest_count_machine_ts", "machine_id", "ts_ms"),
        Index("ix_ingest_count_ts", "ts_ms"),  # windows over every machine (boss, reports, wages)
        Index("ix_ingest_count_operation", "operation_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    operation_id: int | None = Field(default=None, foreign_key="operation.id")
    ts_ms: int = Field(sa_type=BigInteger)
    good: int = 0
    scrap: int = 0
    kind: str = Field(default="increment", max_length=16)  # increment | wrap | reset
    edge_id: str = Field(max_length=64)
    seq: int = Field(sa_type=BigInteger)
    received_ms: int | None = Field(
        default=None, sa_type=BigInteger
    )  # server time of receipt (None before 0004)


class CountHour(SQLModel, table=True):
    """The count ledger summed per machine, operation and hour (UTC), kept by database triggers on every
    insert, update and delete of `ingest_count_event` (migration 0023), so it always equals the ledger.
    Reports over days read whole hours here and only the spans' partial hours from the ledger."""

    __tablename__ = "ingest_count_hour"
    __table_args__ = (Index("ix_ingest_count_hour_hour", "hour_ms"),)
    machine_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hour_ms: int = Field(sa_type=BigInteger, primary_key=True)
    operation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # 0: none
    good: int = Field(default=0, sa_type=BigInteger)
    scrap: int = Field(default=0, sa_type=BigInteger)


class DataLossEpisode(SQLModel, table=True):
    """Samples an edge dropped from its full outbox (its policy: oldest analog first, never counters or
    states), as one episode while the drops go on; a pause longer than the alarm interval starts a new one."""

    __tablename__ = "ingest_data_loss"
    __table_args__ = (Index("ix_ingest_data_loss_edge_last", "edge_id", "last_ms"),)
    id: int | None = Field(default=None, primary_key=True)
    edge_id: str = Field(max_length=64)
    site: str = Field(max_length=64)
    first_ms: int = Field(sa_type=BigInteger)  # server time the drops were first reported
    last_ms: int = Field(sa_type=BigInteger)
    samples: Any = Field(default=None, sa_column=Column(JSON))  # role -> samples dropped in this episode
    # sample times (edge clock) the dropped samples span, as the edge reported them: the trends' holes
    from_ms: int | None = Field(default=None, sa_type=BigInteger)
    to_ms: int | None = Field(default=None, sa_type=BigInteger)


class CounterAnomaly(SQLModel, table=True):
    """A counter change the evidence could not decide (docs/ingest.md, "Count anomalies"): `held` counter
    units are not counted until a supervisor confirms them (booked on the operation that ran at `ts_ms`) or
    rejects them. `status`: open, confirmed, rejected, or dismissed (by Takt: the next reading showed a
    glitch; or recorded before anomalies held anything)."""

    __tablename__ = "ingest_counter_anomaly"
    __table_args__ = (Index("ix_ingest_anomaly_machine_ts", "machine_id", "ts_ms"),)
    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    tag: str = Field(max_length=64)
    ts_ms: int = Field(sa_type=BigInteger)
    old_value: int | None = Field(default=None, sa_type=BigInteger)
    new_value: int = Field(sa_type=BigInteger)
    reason: str = Field(max_length=500)
    edge_id: str = Field(max_length=64)
    seq: int = Field(sa_type=BigInteger)
    kind: str = Field(default="quarantine", max_length=16)  # quarantine (a jump) | ambiguous (wrap or reset)
    role: str | None = Field(default=None, max_length=32)  # the tag's role when it was held
    held: int | None = Field(default=None, sa_type=BigInteger)  # counter units held
    status: str = Field(default="open", max_length=16, index=True)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_ms: int | None = Field(default=None, sa_type=BigInteger)
    operation_id: int | None = Field(default=None, foreign_key="operation.id")  # booked on (confirmed)
    good: int = Field(default=0, sa_type=BigInteger)  # booked when confirmed
    scrap: int = Field(default=0, sa_type=BigInteger)


class MachineStateSegment(SQLModel, table=True):
    """One stretch of a machine in one state; the open one has end_ms None."""

    __tablename__ = "machine_state_segment"
    __table_args__ = (
        Index("ix_machine_state_segment_machine_start", "machine_id", "start_ms"),
        Index(  # the open segments: a handful of rows after years of history (ingestion reads them per batch)
            "ix_machine_state_segment_open",
            "machine_id",
            sqlite_where=text("end_ms IS NULL"),
            postgresql_where=text("end_ms IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id")
    state: str = Field(max_length=16)
    start_ms: int = Field(sa_type=BigInteger)
    end_ms: int | None = Field(default=None, sa_type=BigInteger)


class HistorianSeries(SQLModel, table=True):
    """SQL historian: one row per (site, machine, tag)."""

    __tablename__ = "historian_series"
    __table_args__ = (UniqueConstraint("site", "machine", "tag", name="uq_historian_series"),)
    id: int | None = Field(default=None, primary_key=True)
    site: str = Field(max_length=64)
    machine: str = Field(max_length=128)
    tag: str = Field(max_length=128)


class HistorianPoint(SQLModel, table=True):
    """SQL historian: raw samples, primary key (series_id, ts_ms) serves range queries."""

    __tablename__ = "historian_point"
    __table_args__ = {"sqlite_with_rowid": False}  # stored once, clustered on the key (migration 0022)
    series_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts_ms: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    value: float


class HistorianRollup(SQLModel, table=True):
    """SQL historian: 1-minute min/max/sum/count per series, kept longer than raw points."""

    __tablename__ = "historian_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    series_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    bucket_ms: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    vmin: float
    vmax: float
    vsum: float
    n: int


class EdgeRegistration(SQLModel, table=True):
    """Whether an edge id may publish: approved by an admin, pending approval (it published, nobody
    registered it) or revoked. The machines it owns are `Machine.edge_id` (server/domain/edges.py)."""

    __tablename__ = "ingest_edge_registration"
    edge_id: str = Field(max_length=64, primary_key=True)
    site: str = Field(max_length=64)
    state: str = Field(max_length=16)  # approved | pending | revoked
    first_seen_ms: int | None = Field(default=None, sa_type=BigInteger)  # first refused message
    changed_ms: int | None = Field(default=None, sa_type=BigInteger)  # last approval or revocation
    changed_by: str | None = Field(default=None, max_length=100)
    announced: Any = Field(default=None, sa_column=Column(JSON))  # machine codes it named while pending
    refused: int = Field(default=0, sa_type=BigInteger)  # messages refused while not approved
    last_refused_ms: int | None = Field(default=None, sa_type=BigInteger)


class HeldSample(SQLModel, table=True):
    """Samples of one batch stamped too far ahead of the server's clock: held apart, never applied; moved
    to the dead letters when the hold ends (server/ingest/future.py)."""

    __tablename__ = "ingest_held_sample"
    edge_id: str = Field(max_length=64, primary_key=True)
    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    site: str = Field(max_length=64)
    received_ms: int = Field(sa_type=BigInteger)
    release_ms: int = Field(sa_type=BigInteger, index=True)
    samples: int = 0
    newest_ts_ms: int = Field(sa_type=BigInteger)
    payload: bytes = Field(sa_type=LargeBinary)


class SparkplugDevice(SQLModel, table=True):
    """A Sparkplug B device mapped to a machine on /admin/sparkplug: its metrics feed that machine's tags
    (a device with no row feeds the machine whose code is its device id)."""

    __tablename__ = "sparkplug_device"
    edge_id: str = Field(max_length=64, primary_key=True)  # the edge node's Takt edge id (spb-group-node)
    device: str = Field(max_length=200, primary_key=True)
    machine_id: int = Field(foreign_key="machine.id", index=True)

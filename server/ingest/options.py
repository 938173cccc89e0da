"""Tuning knobs of ingestion: a few come from `Settings` (a site may change them), tests shorten the rest."""

from dataclasses import dataclass, field

from server.core.settings import Settings
from server.domain.counting import Limits


@dataclass(frozen=True)
class IngestOptions:
    max_payload_bytes: int = 4 * 1024 * 1024  # larger MQTT payloads are dead-lettered undecoded
    dead_letter_keep_bytes: int = 64 * 1024  # raw bytes kept of an oversized payload
    max_messages_per_pass: int = 500  # messages stored (and acked) per inbox transaction
    batches_per_apply: int = 50  # inbox batches applied per transaction
    gap_grace_s: float = 5.0  # a hole in seq held this long is recorded as a gap event
    future_tolerance_ms: int = 60_000  # a sample stamped later than its receipt + this is flagged
    tick_s: float = 0.5  # housekeeping: gaps, retries, registry refresh
    registry_refresh_s: float = 10.0  # approvals, revocations, machine owners changed elsewhere
    retention_every_s: float = 3600.0
    historian_retry_points: int = 1_000_000  # external historian: points kept for retry
    counter_limits: Limits = field(default_factory=Limits)
    keepalive_s: int = 30
    reconnect_max_s: float = 10.0
    retry_min_s: float = 0.5  # a database error: the pass is retried after this, doubling up to retry_max_s
    retry_max_s: float = 5.0
    future_skew_ms: int = 300_000  # samples stamped later than receipt + this are held (future.py)
    future_hold_max_s: float = 86_400.0  # ... and dead-lettered after this at the latest
    max_lag_s: float = 60.0  # /healthz is unhealthy when ingestion is stuck or behind longer than this

    @classmethod
    def from_settings(cls, settings: Settings) -> "IngestOptions":
        return cls(
            max_payload_bytes=settings.mqtt_max_payload_bytes,
            gap_grace_s=settings.ingest_gap_grace_s,
            retry_max_s=settings.ingest_retry_max_s,
            max_lag_s=settings.ingest_max_lag_s,
            future_skew_ms=int(settings.ingest_future_skew_s * 1000),
        )

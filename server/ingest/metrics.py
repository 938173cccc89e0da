"""Counters of this process's ingestion (GET /api/v1/ingest/stats)."""

import threading
from dataclasses import dataclass, field, fields


@dataclass
class Metrics:
    messages: int = 0
    batches_stored: int = 0
    duplicates: int = 0
    batches_applied: int = 0
    samples_applied: int = 0
    dead_letters: int = 0
    refused_messages: int = 0  # from edges not approved (dead-lettered)
    refused_samples: int = 0  # for machines the sending edge does not own (dead-lettered)
    refused_tags: int = 0  # tag definitions for machines the sending edge does not own
    status_messages: int = 0
    command_results: int = 0
    unknown_machine_samples: int = 0
    unknown_tag_samples: int = 0
    quarantined: int = 0
    held_ambiguous: int = 0  # drops read as wrap or reset: the difference held as a count anomaly
    held_future_samples: int = 0  # stamped beyond receipt + future_skew_ms: held, never applied (future.py)
    future_samples: int = 0  # stamped after their receipt + tolerance (server/ingest/clock.py)
    clock_steps_back: int = 0  # counter samples older than the previous one: counted in seq order
    gaps_detected: int = 0
    apply_errors: int = 0
    store_errors: int = 0
    historian_points: int = 0
    historian_errors: int = 0
    historian_dropped: int = 0
    acks_published: int = 0
    edges_silent: int = 0  # marked offline for hearing no heartbeat for keepalive x 1.5 (liveness.py)
    liveness_errors: int = 0  # marking an edge silent or back failed (the database): judged again
    sparkplug_messages: int = 0
    sparkplug_dead_letters: int = 0  # malformed, unknown alias, before birth (each with its reason)
    sparkplug_rebirths: int = 0  # rebirth NCMDs sent
    sparkplug_losses: int = 0  # seq gaps, out-of-order messages, sessions replaced without a death
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

"""Live events across server replicas through PostgreSQL LISTEN/NOTIFY (docs/scale-out.md).

    fanout = Fanout(conninfo, bus)      # started by the app's lifespan when the database is PostgreSQL
    fanout.start()                      # sets bus.relay; two threads, two dedicated connections
    fanout.stop()                       # flushes what is queued (one try), closes, joins

Every event published on this replica's bus still reaches its own subscribers at once (`EventBus.publish`).
The relay only puts it in a bounded queue; the sender thread packs what is queued into notifications
`{"origin", "seq", "events": [...]}` of under 8000 bytes (PostgreSQL's payload limit) and sends them with
`pg_notify('takt_events', ...)` on an autocommit connection. The listener thread LISTENs on its own
connection and hands events of other origins to `bus.deliver` (its own origin is skipped: no echo).

Live events are a refresh hint (pages also refresh on a timer), so none is retried for long: an event
is dropped and counted when the queue is full, when the sender's connection is down (one reconnect is
tried at once, then with capped, jittered exponential backoff), or when it alone exceeds the payload
limit. The listener counts the notifications of other replicas it did not get (`missed_notifications`,
one or more events each, found by each origin's `seq` gaps, e.g. while its connection was down). Each
connection logs one WARNING when it is lost and one INFO when it is back, never one line per event.
"""

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import URL
from tenacity import RetryCallState, Retrying, wait_exponential, wait_random_exponential

from server.core.events import Event, EventBus, event_from_dict

log = logging.getLogger(__name__)
CHANNEL = "takt_events"
MAX_PAYLOAD_BYTES = 7900  # PostgreSQL refuses a notification payload of 8000 bytes or more
QUEUE_SIZE = 10_000
POLL_S = 0.1  # how often the threads look at the stop flag (stop() waits this long)
STOP_WAIT_S = 10.0
# A dead peer is noticed within about 25 s: by TCP keepalive when idle, by tcp_user_timeout when busy.
CONNECT_ARGS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 25_000,
}


def conninfo_of(url: URL) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL (password included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Outage:
    """One connection's health: logs once when it is lost and once when it is back; the backoff.

    The backoff is tenacity's: min(max, min * 2**(n-1)) for the n-th failed attempt of an outage, jittered
    over its upper half. The attempts are counted here, not in a retry loop: the sender does not sleep
    through the backoff, it drops what comes meanwhile (see the module docstring)."""

    def __init__(self, role: str, backoff_min_s: float, backoff_max_s: float) -> None:
        self.role = role
        half_min, half_max = backoff_min_s / 2, backoff_max_s / 2
        self._retrying = Retrying(
            wait=wait_exponential(multiplier=half_min, max=half_max)
            + wait_random_exponential(multiplier=half_min, max=half_max)
        )
        self._attempts = RetryCallState(self._retrying, None, (), {})
        self.since: float | None = None  # monotonic time it was lost, None while healthy
        self.retry_at = 0.0

    def failed(self, err: BaseException) -> float:
        """Record a failure; the (jittered) seconds to wait before the next attempt."""
        if self.since is None:
            self.since = time.monotonic()
            self._attempts = RetryCallState(self._retrying, None, (), {})
            log.warning("live fan-out: %s connection to PostgreSQL lost (%s); retrying", self.role, err)
        wait = self._retrying.wait(self._attempts)
        self._attempts.prepare_for_next_attempt()
        self.retry_at = time.monotonic() + wait
        return wait

    def ok(self, note: str = "") -> None:
        if self.since is not None:
            log.info(
                "live fan-out: %s connection back after %.1f s%s",
                self.role,
                time.monotonic() - self.since,
                note,
            )
            self.since = None


class Fanout:
    """Relays `bus`'s events to the other replicas and theirs to `bus`; see the module docstring."""

    def __init__(
        self,
        conninfo: str,
        bus: EventBus,
        queue_size: int = QUEUE_SIZE,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.conninfo = conninfo
        self.bus = bus
        self.origin = uuid.uuid4().hex
        self.sent = 0  # events handed to PostgreSQL
        self.dropped = 0  # not sent to the others: queue full, no connection, too big
        self.received = 0  # events of other replicas delivered to this replica's bus
        self.missed_notifications = 0  # of other replicas, never arrived here (seq gaps)
        self.invalid = 0  # notifications on the channel that were not ours to read
        self.listener_pid: int | None = None  # the LISTEN connection's backend, once it listens
        self.sender_pid: int | None = None
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._seq = 0
        self._seen: dict[str, int] = {}  # origin -> last seq received
        self._sender_health = _Outage("send", backoff_min_s, backoff_max_s)
        self._listener_health = _Outage("listen", backoff_min_s, backoff_max_s)
        self._sender_conn: psycopg.Connection[Any] | None = None
        self._drop_lock = threading.Lock()  # publishers' threads drop too (queue full)
        self._dropped_in_outage = 0
        self._threads = [
            threading.Thread(target=self._send_loop, name="takt-fanout-send", daemon=True),
            threading.Thread(target=self._listen_loop, name="takt-fanout-listen", daemon=True),
        ]

    # lifecycle

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self.bus.relay = self._enqueue

    def stop(self) -> None:
        if self.bus.relay == self._enqueue:
            self.bus.relay = None
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(STOP_WAIT_S)
            if thread.is_alive():  # a connection stuck in the network; the thread is a daemon
                log.warning("live fan-out: %s did not stop within %.0f s", thread.name, STOP_WAIT_S)

    def wait_listening(self, timeout: float) -> bool:
        """True once the listener's LISTEN is in place (tests; readiness)."""
        return self._listening.wait(timeout)

    def snapshot(self) -> dict[str, Any]:
        return {
            "listening": self._listening.is_set(),
            "sending": self._sender_health.since is None,
            "sent": self.sent,
            "dropped": self.dropped,
            "received": self.received,
            "missed_notifications": self.missed_notifications,
            "invalid": self.invalid,
            "queued": self._queue.qsize(),
        }

    # sending

    def _enqueue(self, event: Event) -> None:  # the bus's relay: on the publisher's thread, never blocks
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._drop(1)

    def _drop(self, count: int) -> None:
        with self._drop_lock:
            self.dropped += count
            if self._sender_health.since is not None:
                self._dropped_in_outage += count

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._send(self._take(POLL_S))
        self._send(self._take(0))  # what was queued before stop: one try, no backoff
        if self._sender_conn is not None:
            self._sender_conn.close()

    def _take(self, timeout: float) -> list[Event]:
        """Everything queued now, after waiting up to `timeout` for the first."""
        try:
            events = [self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def _send(self, events: list[Event]) -> None:
        for payload, count in self._pack(events):
            if self._notify(payload):
                self.sent += count
            else:
                self._drop(count)

    def _pack(self, events: list[Event]) -> Iterator[tuple[str, int]]:
        """Notification payloads under MAX_PAYLOAD_BYTES, each with the number of events in it."""
        parts: list[str] = []
        size = 0
        for event in events:
            part = event.to_json()
            part_size = len(part.encode())
            if part_size + 120 > MAX_PAYLOAD_BYTES:
                log.warning(
                    "live fan-out: a %s event of %d bytes is too big to notify; dropped",
                    event.kind,
                    part_size,
                )
                self._drop(1)
                continue
            if parts and size + part_size + 120 > MAX_PAYLOAD_BYTES:
                yield self._payload(parts), len(parts)
                parts, size = [], 0
            parts.append(part)
            size += part_size + 1
        if parts:
            yield self._payload(parts), len(parts)

    def _payload(self, parts: list[str]) -> str:
        """`seq` numbers this replica's notifications: receivers count gaps, and PostgreSQL never merges
        two identical payloads (it does within one transaction)."""
        self._seq += 1
        return f'{{"origin":"{self.origin}","seq":{self._seq},"events":[{",".join(parts)}]}}'

    def _notify(self, payload: str) -> bool:
        """Send one notification: on the open connection, else (or if that fails) on a new one, unless
        a failed attempt's backoff has not run out."""
        for attempt in range(2):
            if self._sender_conn is None and time.monotonic() < self._sender_health.retry_at:
                return False
            try:
                if self._sender_conn is None:
                    self._sender_conn = psycopg.connect(
                        self.conninfo, application_name="takt live fan-out (send)", **CONNECT_ARGS
                    )
                    self.sender_pid = self._sender_conn.info.backend_pid
                self._sender_conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except psycopg.Error as err:
                self._close_sender()
                if self._sender_health.since is None and attempt == 0:
                    continue  # an idle connection that died: one immediate reconnect
                self._sender_health.failed(err)
                return False
            if self._sender_health.since is not None:
                with self._drop_lock:
                    lost, self._dropped_in_outage = self._dropped_in_outage, 0
                self._sender_health.ok(f"; {lost} events were not sent meanwhile")
            return True
        return False

    def _close_sender(self) -> None:
        if self._sender_conn is not None:
            self._sender_conn.close()
            self._sender_conn = None

    # listening

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as err:
                if not isinstance(err, psycopg.Error):
                    log.exception("live fan-out: the listener failed")
                self._listening.clear()
                self.listener_pid = None
                self._stop.wait(self._listener_health.failed(err))

    def _listen(self) -> None:
        with psycopg.connect(
            self.conninfo, application_name="takt live fan-out (listen)", **CONNECT_ARGS
        ) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listener_pid = conn.info.backend_pid
            self._listening.set()
            self._listener_health.ok()
            while not self._stop.is_set():
                for notify in conn.notifies(timeout=POLL_S):
                    self._receive(notify.payload)

    def _receive(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            origin, seq, items = message["origin"], message["seq"], message["events"]
            if origin == self.origin:
                return
            events = [event_from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError) as err:
            if self.invalid == 0:
                log.warning(
                    "live fan-out: ignored a notification on %s that is not an event list (%s)", CHANNEL, err
                )
            self.invalid += 1
            return
        last = self._seen.get(origin)
        if last is not None and seq <= last:
            return  # sent again after a connection died before PostgreSQL's answer
        if last is not None and seq > last + 1:
            self.missed_notifications += seq - last - 1
        self._seen[origin] = seq
        self.received += len(events)
        for event in events:
            self.bus.deliver(event)

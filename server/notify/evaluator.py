"""The rule evaluator: a thread that, every `TAKT_ALERT_EVAL_S` or soon after a live event that can change an
alert (`follow`: a machine's state, an edge, an inspection), takes the evaluator lease (one replica at a
time, server/domain/alert_lease.py) and evaluates every rule in the same transaction
(server/domain/alert_engine.py); then it wakes the sender so new messages go out at once."""

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from server.core.events import EventBus
from server.core.settings import Settings
from server.domain import alert_engine, alert_lease
from server.domain.alert_conditions import Context
from server.models.plant import Site
from server.models.types import now_ms

log = logging.getLogger(__name__)
LEASE = "evaluator"
MIN_GAP_S = 0.5
WAKING = frozenset({"machine_state", "edge", "inspection"})


async def follow(bus: EventBus, evaluator: "Evaluator") -> None:
    """Wake the evaluator on the live events that can open or close an episode (until cancelled)."""
    async with bus.subscribe() as events:
        async for event in events:
            if event.kind in WAKING:
                evaluator.wake()


class Evaluator:
    def __init__(
        self, settings: Settings, engine: Engine, on_messages: Callable[[], None] | None = None
    ) -> None:
        self.engine = engine
        self.site_code = settings.site
        self.base_url = settings.public_url.rstrip("/")
        self.every_s = settings.alert_eval_s
        self.brief_morning, self.brief_shift_end = settings.brief_morning or None, settings.brief_at_shift_end
        self.lease_ms = int(max(settings.alert_lease_s, 3 * settings.alert_eval_s) * 1000)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.on_messages = on_messages
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-evaluator", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)

    def wake(self) -> None:
        """Evaluate soon (a machine changed state, an edge came or went, an inspection was recorded)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every_s)
            self._wake.clear()
            if self._stop.wait(min(MIN_GAP_S, self.every_s)):  # a burst of events: one evaluation
                return
            try:
                self.run_once()
                if self._failing:
                    log.info("alert evaluator: evaluating again")
                self._failing = False
            except Exception:
                if not self._failing:
                    log.exception(
                        "alert evaluator: an evaluation failed; trying again every %.1f s", self.every_s
                    )
                self._failing = True

    def run_once(self, now: int | None = None) -> alert_engine.Outcome | None:
        """One evaluation if this replica holds the lease (else None)."""
        now = now_ms() if now is None else now
        with Session(self.engine) as session:
            if not alert_engine.has_rules(session):
                return None  # nothing to evaluate: no write lock taken
            try:
                if not alert_lease.hold(session, LEASE, self.owner, now, self.lease_ms):
                    session.rollback()
                    return None
            except IntegrityError:  # another replica made the lease at the same moment
                session.rollback()
                return None
            site = session.exec(select(Site).where(Site.code == self.site_code)).first()
            ctx = Context(site, now, self.base_url, self.brief_morning, self.brief_shift_end)
            outcome = alert_engine.evaluate(session, ctx)
        for error in outcome.errors:
            log.warning("alert evaluator: %s", error)
        if outcome.messages and self.on_messages is not None:
            self.on_messages()
        return outcome

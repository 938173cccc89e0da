"""The outbox sender: a thread that claims due messages (a lease per message, server/domain/alert_outbox.py),
sends each through its channel and records the attempt. Every replica runs one; a message is held by one
sender at a time. `wake()` after adding messages sends them now instead of at the next poll."""

import logging
import os
import socket
import threading

from sqlalchemy import Engine
from sqlmodel import Session

from server.core.settings import Settings
from server.domain import alert_outbox
from server.models.alerts import AlertChannel, AlertMessage
from server.models.types import now_ms
from server.notify import dispatch

log = logging.getLogger(__name__)
BATCH = 20


def retry_of(settings: Settings) -> alert_outbox.Retry:
    return alert_outbox.Retry(
        settings.alert_retry_base_s, settings.alert_retry_max_s, settings.alert_max_attempts
    )


class Sender:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.engine = engine
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.poll_s = settings.alert_poll_s
        self.lease_ms = int(settings.alert_lease_s * 1000)
        self.retry = retry_of(settings)
        secret = settings.secret_key
        self.secret_key = secret.get_secret_value() if secret is not None else ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.send_due()
                if self._failing:
                    log.info("alert sender: the database answers again")
                self._failing = False
            except Exception:
                if not self._failing:
                    log.exception("alert sender: a round failed; retrying every %.1f s", self.poll_s)
                self._failing, busy = True, False
            if not busy:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def send_due(self) -> bool:
        """Send what is due now; True if there was something (look again at once)."""
        with Session(self.engine) as session:
            ids = alert_outbox.due(session, now_ms(), BATCH)
        for message_id in ids:
            if self._stop.is_set():
                break
            self._send_one(message_id)
        return bool(ids)

    def _send_one(self, message_id: int) -> None:
        with Session(self.engine) as session:
            if not alert_outbox.claim(session, message_id, self.owner, now_ms(), self.lease_ms):
                return  # another sender has it, or it was sent meanwhile
            message = session.get(AlertMessage, message_id)
            assert message is not None
            channel = session.get(AlertChannel, message.channel_id)
            assert channel is not None
            answer = dispatch.send(channel, message, self.secret_key)
            if not answer.ok:
                log.warning(
                    "alert %s to channel %s not delivered: %s", message_id, channel.name, answer.text[:200]
                )
            done = alert_outbox.record(
                session, message_id, self.owner, now_ms(), (answer.ok, answer.status, answer.text), self.retry
            )
            if done.state == "failed":
                log.error(
                    "alert %s to channel %s given up after %s tries", message_id, channel.name, done.attempts
                )

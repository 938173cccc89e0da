"""Ingestion fixtures: a real mosquitto, an Ingestor on the parametrized engine (SQLite, PostgreSQL)."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from server.core.settings import Settings
from server.ingest import IngestOptions, Ingestor
from tests.server.ingest.support import Broker
from tests.support.mosquitto import Mosquitto

FAST = IngestOptions(gap_grace_s=0.3, tick_s=0.1, max_payload_bytes=64 * 1024, reconnect_max_s=1)


def ingest_settings(
    db_url: str, port: int, client_id: str | None = None, shared: bool = False, **extra: object
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        **extra,
        database_url=db_url,
        secret_key="test-secret-key-0123456789abcdef",  # type: ignore[arg-type]
        mqtt_host="127.0.0.1",
        mqtt_port=port,
        mqtt_client_id=client_id or f"takt-test-{uuid.uuid4().hex[:8]}",
        mqtt_shared=shared,
        _env_file=None,  # type: ignore[call-arg]
    )


@contextmanager
def connected_ingestors(engine: Engine) -> Iterator[Callable[[Settings, IngestOptions | None], Ingestor]]:
    """`start(settings, options)` starts an Ingestor on `engine` and returns it once connected to the
    broker; every one started is stopped at the end."""
    started: list[Ingestor] = []

    def start(settings: Settings, options: IngestOptions | None) -> Ingestor:
        ingestor = Ingestor(settings, engine, options)
        ingestor.start()
        assert ingestor.link.connected.wait(10), "ingestor did not connect"
        started.append(ingestor)
        return ingestor

    try:
        yield start
    finally:
        for ingestor in started:
            ingestor.stop()


@pytest.fixture
def start_ingestor(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[Callable[..., Ingestor]]:
    with connected_ingestors(engine) as start:

        def start_fast(options: IngestOptions = FAST, **kwargs: object) -> Ingestor:
            return start(ingest_settings(db_url, mosquitto.port, **kwargs), options)  # type: ignore[arg-type]

        yield start_fast


@pytest.fixture
def broker(mosquitto: Mosquitto) -> Iterator[Broker]:
    client = Broker(mosquitto.port)
    yield client
    client.close()

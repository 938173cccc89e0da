"""Ingestion fixtures: a real mosquitto, an Ingestor on the parametrized engine (SQLite, PostgreSQL)."""

import uuid
from collections.abc import Callable, Iterator

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


@pytest.fixture
def start_ingestor(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[Callable[..., Ingestor]]:
    started: list[Ingestor] = []

    def start(options: IngestOptions = FAST, **kwargs: object) -> Ingestor:
        ingestor = Ingestor(ingest_settings(db_url, mosquitto.port, **kwargs), engine, options)  # type: ignore[arg-type]
        ingestor.start()
        assert ingestor.link.connected.wait(10), "ingestor did not connect"
        started.append(ingestor)
        return ingestor

    yield start
    for ingestor in started:
        ingestor.stop()


@pytest.fixture
def broker(mosquitto: Mosquitto) -> Iterator[Broker]:
    client = Broker(mosquitto.port)
    yield client
    client.close()

"""Migrate the demo database and load the demo data (server.seed), in the demo's own process before the
server starts, so the server's ingestion knows every machine from its first message."""

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from takt.demo.errors import DemoError
from takt.demo.options import EDGE_CONFIG, PLANT
from takt.demo.state import DataDir, DemoSecretsFile

log = logging.getLogger(__name__)


@dataclass
class Seeded:
    stations: list[str]
    shared_order: str
    secrets: DemoSecretsFile
    enroll_codes: dict[str, str]  # station -> this start's one-time enrollment code
    created: dict[str, int] = field(default_factory=dict)


def seed_demo(dirs: DataDir, accel: float, share_days: int = 30) -> Seeded:
    from server.core.db import init_db, make_engine
    from server.core.errors import ServerError
    from server.seed import DemoSecrets, load_plant, seed

    plant = load_plant(PLANT)
    secrets = dirs.secrets([m.code for m in plant])
    engine = make_engine(dirs.database_url)
    try:
        init_db(engine)
        edge = EDGE_CONFIG if EDGE_CONFIG.is_file() else None
        result = seed(engine, DemoSecrets(secrets.tablet_tokens, secrets.share_token), plant, edge, accel,
                      share_days)  # fmt: skip
    except ServerError as err:
        raise DemoError(f"demo data: {err.message}") from err
    finally:
        engine.dispose()
    return Seeded(result.stations, result.shared_order, secrets, result.enroll_codes, result.created)


def edge_online(db: Path, edge_id: str, since_ms: int) -> bool:
    """True once the server recorded a birth of `edge_id` after `since_ms` (the edge reached it)."""
    from sqlmodel import Session

    from server.core.db import make_engine
    from server.models.ingest import EdgeStatus

    engine = make_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            row: Any = session.get(EdgeStatus, edge_id)
            return bool(row is not None and row.online and row.received_ms >= since_ms)
    finally:
        engine.dispose()


def now_ms() -> int:
    return int(time.time() * 1000)

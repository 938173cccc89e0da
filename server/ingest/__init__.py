"""Ingestion (docs/ingest.md): MQTT -> durable inbox -> exactly-once counts, machine states, historian.

`Ingestor(settings, engine)` with `start()`/`stop()` (server/ingest/service.py); live events for pages
in `server.core.events.bus`. See docs/ingest.md.
"""

from server.core.events import bus
from server.ingest.options import IngestOptions
from server.ingest.service import Ingestor

__all__ = ["IngestOptions", "Ingestor", "bus"]

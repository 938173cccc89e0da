"""Every table, imported so SQLModel.metadata (and Alembic) sees them all.

INGEST's tables live in `server/models/ingest.py` and are imported here when that module exists.
"""

import importlib
import importlib.util

from server.models import audit, auth, catalog, materials, plant, production, quality, shifts

__all__ = ["audit", "auth", "catalog", "materials", "plant", "production", "quality", "shifts"]

if importlib.util.find_spec("server.models.ingest") is not None:
    importlib.import_module("server.models.ingest")

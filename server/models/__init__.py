"""Every table, imported so SQLModel.metadata (and Alembic) sees them all."""

from server.models import audit, auth, catalog, ingest, materials, plant, production, quality, sales, shifts

__all__ = [
    "audit",
    "auth",
    "catalog",
    "ingest",
    "materials",
    "plant",
    "production",
    "quality",
    "sales",
    "shifts",
]

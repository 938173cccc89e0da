"""Every table, imported so SQLModel.metadata (and Alembic) sees them all."""

from server.models import (
    alerts,
    audit,
    auth,
    bom,
    catalog,
    ingest,
    materials,
    pay,
    plant,
    production,
    quality,
    sales,
    shifts,
    stock,
)

__all__ = [
    "alerts",
    "audit",
    "auth",
    "bom",
    "catalog",
    "ingest",
    "materials",
    "pay",
    "plant",
    "production",
    "quality",
    "sales",
    "shifts",
    "stock",
]

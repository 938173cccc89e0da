"""JSON routers under /api/v1, one per resource. `ROUTERS` is what `create_app` includes."""

from fastapi import APIRouter

from server.api import (
    alerts,
    audit,
    auth,
    catalog,
    counts,
    downtime,
    edges,
    importexport,
    ingest,
    lots,
    materials,
    plant,
    quality,
    reports,
    salesorders,
    sharelinks,
    shifts,
    stock,
    tokens,
    users,
    wages,
    workorders,
)

# importexport before workorders: its fixed paths (/work-orders/import, /export) must win over /{number}
ROUTERS: list[APIRouter] = [
    auth.router,
    plant.router,
    catalog.router,
    users.router,
    tokens.router,
    shifts.router,
    importexport.router,
    workorders.router,
    sharelinks.router,
    salesorders.router,
    wages.router,
    downtime.router,
    quality.router,
    lots.router,
    materials.router,
    stock.router,
    audit.router,
    reports.router,
    ingest.router,
    counts.router,
    edges.router,
    alerts.router,
]

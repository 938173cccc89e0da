"""Every page router, in the order `create_app` includes them."""

from fastapi import APIRouter

from server.web import (
    admin_alerts,
    admin_orders,
    admin_plant,
    admin_sales,
    admin_setup,
    admin_sparkplug,
    admin_tokens,
    boss,
    counts,
    edges,
    first_run,
    instructions,
    live,
    login,
    lots,
    materials,
    reports,
    share,
    station,
    wages,
)

PAGE_ROUTERS: list[APIRouter] = [
    login.router,
    first_run.router,
    share.router,
    station.router,
    instructions.router,
    lots.router,
    materials.router,
    boss.router,
    counts.router,
    live.router,
    admin_orders.router,
    admin_sales.router,
    admin_plant.router,
    admin_setup.router,
    admin_sparkplug.router,
    admin_tokens.router,
    admin_alerts.router,
    edges.router,
    reports.router,
    wages.router,
]

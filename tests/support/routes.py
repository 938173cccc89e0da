"""The app's route table, flattened: every APIRoute with its full path, for sweeps over all routes."""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute


def app_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, through included routers (FastAPI keeps them as entries
    holding `original_router` and `include_context` rather than copying their routes)."""
    yield from _walk(app.routes, "")


def _walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        router, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
        if router is not None and context is not None:
            yield from _walk(router.routes, prefix + context.prefix)

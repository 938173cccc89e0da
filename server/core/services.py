"""The app's long-lived services in one typed container (docs/architecture.md).

The lifespan (`server/main.py`) builds one `Services` when the app starts and keeps it on the app;
routes take what they need through `Depends` (`ServicesDep`, `SettingsDep`, `EngineDep`; the historian
through `server.api.deps.HistorianDep`), never by reading the app's state themselves.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine

from server.core.settings import Settings

if TYPE_CHECKING:  # the layers above core: types only, core imports none of them
    from server.historian.base import Historian
    from server.ingest import Ingestor
    from server.ingest.fanout import Fanout
    from server.notify.evaluator import Evaluator
    from server.notify.sender import Sender
    from server.web.cache import TtlCache
    from server.web.ratelimit import RateLimiter


@dataclass
class Services:
    settings: Settings
    engine: Engine
    historian: "Historian"  # the one per process: ingestion writes through it, the pages and API read it
    share_limiter: "RateLimiter"  # per client IP on `/s/...` (server.web.share.make_share_guards)
    share_cache: "TtlCache"  # rendered share views
    signin_limiter: "RateLimiter"  # per client IP on every sign-in (API and pages)
    ingestor: "Ingestor | None" = None  # None when TAKT_MQTT_ENABLED is off
    fanout: "Fanout | None" = None  # live events across replicas: PostgreSQL only
    sender: "Sender | None" = None  # the alert outbox sender (None: TAKT_ALERTS_ENABLED off)
    evaluator: "Evaluator | None" = None  # the alert rules, evaluated periodically
    setup_code: str | None = None  # /setup's one-time code (server/web/first_run.py); None: closed

    def forget_rendered_shares(self) -> None:
        """Drop the cached share views (after a planner changed what a link shows): the next view is fresh."""
        self.share_cache.clear()


def attach(app: FastAPI, services: Services) -> None:
    """Keep `services` on `app`: the one place that writes the app's state."""
    app.state.services = services


def services_of(app: FastAPI) -> Services:
    found = getattr(app.state, "services", None)
    if not isinstance(found, Services):
        raise RuntimeError("the app's services are missing: its lifespan has not started")
    return found


def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def services_settings(services: ServicesDep) -> Settings:
    return services.settings


def services_engine(services: ServicesDep) -> Engine:
    return services.engine


SettingsDep = Annotated[Settings, Depends(services_settings)]
EngineDep = Annotated[Engine, Depends(services_engine)]

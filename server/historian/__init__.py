"""Historian backends (docs/historian.md):
`make_historian(settings, engine)` picks one by `settings.historian`.

sql              the server's own database (default): server.historian.sql.SqlHistorian
influxdb         InfluxDB 2.x: server.historian.influx.InfluxHistorian
victoriametrics  VictoriaMetrics: server.historian.victoria.VictoriaHistorian
"""

from sqlalchemy import Engine

from server.core.errors import ConfigError
from server.core.settings import Settings
from server.historian.base import Aggregate, Historian, Point
from server.historian.errors import HistorianError, HistorianQueryError

__all__ = ["Aggregate", "Historian", "HistorianError", "HistorianQueryError", "Point", "make_historian"]


def _secret(settings: Settings) -> str:
    return settings.historian_token.get_secret_value() if settings.historian_token else ""


def make_historian(settings: Settings, engine: Engine) -> Historian:
    if settings.historian == "sql":
        from server.historian.sql import SqlHistorian

        return SqlHistorian(engine, retention_days=settings.retention_days, rollup_days=settings.rollup_days)
    if not settings.historian_url:
        raise ConfigError(f"TAKT_HISTORIAN_URL is required for historian {settings.historian!r}")
    if settings.historian == "victoriametrics":
        from server.historian.victoria import VictoriaHistorian

        return VictoriaHistorian(settings.historian_url, _secret(settings), settings.retention_days)
    from server.historian.influx import InfluxHistorian

    if not settings.historian_org or not settings.historian_bucket:
        raise ConfigError(
            "TAKT_HISTORIAN_ORG and TAKT_HISTORIAN_BUCKET are required for historian 'influxdb'"
        )
    return InfluxHistorian(
        settings.historian_url, _secret(settings), settings.historian_org, settings.historian_bucket,
        settings.retention_days,
    )  # fmt: skip

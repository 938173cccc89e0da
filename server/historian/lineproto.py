"""InfluxDB line protocol for historian points (used by the influxdb and victoriametrics backends).

`takt,site=S,machine=M,tag=T value=V TS_MS`: measurement `takt`, three tags, one float field `value`,
millisecond timestamps (writes use precision=ms). VictoriaMetrics stores it as metric `takt_value`.
"""

from collections.abc import Iterable

from server.historian.base import Point

MEASUREMENT = "takt"
FIELD = "value"
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})


def escape_tag(value: str) -> str:
    """Escape a tag key or value: commas, equals signs, spaces and backslashes."""
    return value.translate(_TAG_ESCAPES)


def render(point: Point) -> str:
    tags = f"site={escape_tag(point.site)},machine={escape_tag(point.machine)},tag={escape_tag(point.tag)}"
    return f"{MEASUREMENT},{tags} {FIELD}={float(point.value)!r} {point.ts_ms}"


def render_all(points: Iterable[Point]) -> str:
    return "\n".join(render(p) for p in points)

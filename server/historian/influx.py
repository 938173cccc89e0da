"""The `influxdb` historian: InfluxDB 2.x via influxdb-client, line-protocol writes, Flux reads.

Retention is the bucket's retention policy (set it when creating the bucket); `apply_retention` does
nothing here. No InfluxDB 2 server can run in this project's test environment: the tests cover the
line-protocol rendering and the Flux query building (docs/historian.md says so).
"""

from collections.abc import Sequence
from typing import Any

from influxdb_client.domain.write_precision import WritePrecision

from server.historian.base import Aggregate, Point
from server.historian.errors import HistorianError
from server.historian.lineproto import FIELD, MEASUREMENT, render_all
from server.historian.sql import check_query

_FLUX_FN = {"avg": "mean", "min": "min", "max": "max"}

_MS: Any = WritePrecision.MS


def flux_string(value: str) -> str:
    """A Flux string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def flux_time(ms: int) -> str:
    """An absolute Flux time from epoch milliseconds (nanosecond precision integer)."""
    return f"time(v: {ms * 1_000_000})"


def _filter(site: str, machine: str, tag: str) -> str:
    return (
        f"  |> filter(fn: (r) => r._measurement == {flux_string(MEASUREMENT)}"
        f" and r._field == {flux_string(FIELD)} and r.site == {flux_string(site)}"
        f" and r.machine == {flux_string(machine)} and r.tag == {flux_string(tag)})"
    )


def build_range_query(
    bucket: str, site: str, machine: str, tag: str, start_ms: int, end_ms: int, step_ms: int, agg: Aggregate
) -> str:
    """Flux for one series aggregated in windows of `step_ms`, labelled by window start."""
    check_query(start_ms, end_ms, step_ms, agg)
    return "\n".join(
        [
            f"from(bucket: {flux_string(bucket)})",
            f"  |> range(start: {flux_time(start_ms)}, stop: {flux_time(end_ms)})",
            _filter(site, machine, tag),
            f"  |> aggregateWindow(every: {step_ms}ms, fn: {_FLUX_FN[agg]}, createEmpty: false,"
            ' timeSrc: "_start")',
            '  |> keep(columns: ["_time", "_value"])',
        ]
    )


def build_latest_query(bucket: str, site: str, machine: str, tag: str, lookback_days: int) -> str:
    return "\n".join(
        [
            f"from(bucket: {flux_string(bucket)})",
            f"  |> range(start: -{lookback_days}d)",
            _filter(site, machine, tag),
            "  |> last()",
        ]
    )


class InfluxHistorian:
    name = "influxdb"
    transactional = False

    def __init__(self, url: str, token: str, org: str, bucket: str, retention_days: int = 90) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.bucket, self.org, self.retention_days = bucket, org, retention_days
        self.client = InfluxDBClient(url=url, token=token, org=org, timeout=10_000)
        self._write_api = self.client.write_api(write_options=SYNCHRONOUS)

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        try:
            self._write_api.write(
                bucket=self.bucket, org=self.org, record=render_all(points), write_precision=_MS
            )
        except Exception as err:  # influxdb-client raises urllib3 and ApiException errors
            raise HistorianError(f"influxdb write of {len(points)} points failed: {err}") from err

    def query(
        self,
        site: str,
        machine: str,
        tag: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        agg: Aggregate = "avg",
    ) -> list[tuple[int, float]]:
        flux = build_range_query(self.bucket, site, machine, tag, start_ms, end_ms, step_ms, agg)
        return [(ts, v) for ts, v in self._records(flux)]

    def latest(self, site: str, machine: str, tag: str) -> tuple[int, float] | None:
        records = self._records(build_latest_query(self.bucket, site, machine, tag, self.retention_days))
        return records[-1] if records else None

    def _records(self, flux: str) -> list[tuple[int, float]]:
        try:
            tables: Any = self.client.query_api().query(flux, org=self.org)
        except Exception as err:
            raise HistorianError(f"influxdb query failed: {err}") from err
        out = []
        for table in tables:
            for record in table.records:
                out.append((int(record.get_time().timestamp() * 1000), float(record.get_value())))
        return sorted(out)

    def apply_retention(self, now_ms: int) -> int:
        return 0  # the bucket's retention policy deletes old data

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

"""The `victoriametrics` historian: influxdb-client line-protocol writes to VictoriaMetrics' `/api/v2/write`,
PromQL (MetricsQL) reads over HTTP (`/api/v1/query_range`, `/api/v1/query`).

Points become metric `takt_value{site, machine, tag}`. Retention is VictoriaMetrics' `-retentionPeriod`
flag; `apply_retention` does nothing here. New points are searchable after VictoriaMetrics flushes them
(about a second; `flush()` asks for it through `/internal/force_flush`).
"""

from collections.abc import Sequence
from typing import Any

import httpx
from influxdb_client.domain.write_precision import WritePrecision

from server.historian.base import Aggregate, Point
from server.historian.errors import HistorianError
from server.historian.lineproto import FIELD, MEASUREMENT, render_all
from server.historian.sql import check_query

METRIC = f"{MEASUREMENT}_{FIELD}"
_PROM_FN = {"avg": "avg_over_time", "min": "min_over_time", "max": "max_over_time"}

_MS: Any = WritePrecision.MS


def prom_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def selector(site: str, machine: str, tag: str) -> str:
    return f"{METRIC}{{site={prom_string(site)},machine={prom_string(machine)},tag={prom_string(tag)}}}"


def build_range_query(site: str, machine: str, tag: str, step_ms: int, agg: Aggregate) -> str:
    """Evaluated at t = bucket end; `offset 1ms` makes the window [bucket start, bucket end)."""
    return f"{_PROM_FN[agg]}({selector(site, machine, tag)}[{step_ms}ms] offset 1ms)"


def range_params(query: str, start_ms: int, end_ms: int, step_ms: int) -> dict[str, str]:
    """`/api/v1/query_range` parameters; the first evaluation closes the first bucket."""
    first = start_ms + step_ms
    last = max(first, end_ms)
    return {
        "query": query,
        "start": f"{first / 1000:.3f}",
        "end": f"{last / 1000:.3f}",
        "step": f"{step_ms}ms",
        "nocache": "1",
    }


class VictoriaHistorian:
    name = "victoriametrics"
    transactional = False

    def __init__(self, url: str, token: str = "", retention_days: int = 90, timeout_s: float = 10.0) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = url.rstrip("/")
        self.retention_days = retention_days
        self.client = InfluxDBClient(
            url=self.url, token=token or "unused", org="takt", timeout=int(timeout_s * 1000)
        )
        self._write_api = self.client.write_api(write_options=SYNCHRONOUS)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        try:
            self._write_api.write(bucket="takt", org="takt", record=render_all(points), write_precision=_MS)
        except Exception as err:  # influxdb-client raises urllib3 and ApiException errors
            raise HistorianError(f"victoriametrics write of {len(points)} points failed: {err}") from err

    def flush(self) -> None:
        """Make recent writes searchable now (VictoriaMetrics' /internal/force_flush)."""
        self._get("/internal/force_flush", {})

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
        check_query(start_ms, end_ms, step_ms, agg)
        params = range_params(build_range_query(site, machine, tag, step_ms, agg), start_ms, end_ms, step_ms)
        out = []
        for series in self._get("/api/v1/query_range", params).get("result", []):
            for ts, value in series.get("values", []):
                bucket = round(float(ts) * 1000) - step_ms
                if start_ms <= bucket < end_ms:
                    out.append((bucket, float(value)))
        return sorted(out)

    def latest(self, site: str, machine: str, tag: str) -> tuple[int, float] | None:
        window = f"[{self.retention_days}d]"
        sel = selector(site, machine, tag)
        values = self._instant(f"last_over_time({sel}{window})")
        times = self._instant(f"tlast_over_time({sel}{window})")
        if values is None or times is None:
            return None
        return round(times * 1000), values

    def _instant(self, query: str) -> float | None:
        result = self._get("/api/v1/query", {"query": query, "nocache": "1"}).get("result", [])
        return float(result[0]["value"][1]) if result else None

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.http.get(path, params=params)
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise HistorianError(f"victoriametrics {path} failed: {err}") from err
        if not response.content:
            return {}
        body: Any = response.json()
        if isinstance(body, dict) and body.get("status") == "error":
            raise HistorianError(f"victoriametrics {path}: {body.get('error')}")
        data = body.get("data", {}) if isinstance(body, dict) else {}
        return data if isinstance(data, dict) else {}

    def apply_retention(self, now_ms: int) -> int:
        return 0  # VictoriaMetrics deletes data older than its -retentionPeriod itself

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
        self.http.close()

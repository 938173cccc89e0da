"""The victoriametrics historian against Debian's real victoria-metrics binary; the influxdb historian's
line protocol and Flux query building (no InfluxDB 2 server can run here, so its reads are not exercised)."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.historian.base import Point
from server.historian.errors import HistorianError
from server.historian.influx import build_latest_query, build_range_query, flux_string
from server.historian.lineproto import render, render_all
from server.historian.victoria import VictoriaHistorian
from server.historian.victoria import build_range_query as prom_range
from tests.server.ingest.vmproc import victoria_metrics
from tests.support.ports import free_port

MIN = 60_000


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[str]:
    with victoria_metrics(tmp_path / "vm") as url:
        yield url


def test_victoriametrics_write_query_latest(victoria: str) -> None:
    hist = VictoriaHistorian(victoria)
    start = (int(time.time() * 1000) - 3 * 3600_000) // MIN * MIN  # well in the past, minute-aligned
    points = [
        Point("demo", "m1", "temperature", start + i * 10_000, float(i // 6)) for i in range(30)
    ]  # 5 min
    points += [Point("demo", "m 2,x", "temperature", start, 99.0)]  # a machine id needing escapes
    hist.write(points)
    deadline = time.monotonic() + 20
    while not (latest := hist.latest("demo", "m1", "temperature")):
        hist.flush()
        assert time.monotonic() < deadline, "points never became searchable"
        time.sleep(0.2)
    assert latest == (start + 29 * 10_000, 4.0)
    assert hist.query("demo", "m1", "temperature", start, start + 5 * MIN, MIN) == [
        (start + k * MIN, float(k)) for k in range(5)
    ]
    assert hist.query("demo", "m1", "temperature", start, start + 5 * MIN, 150_000, "max") == [
        (start, 2.0), (start + 150_000, 4.0)
    ]  # fmt: skip
    assert hist.latest("demo", "m 2,x", "temperature") == (start, 99.0)
    assert hist.latest("demo", "m1", "pressure") is None
    assert hist.apply_retention(int(time.time() * 1000)) == 0  # VictoriaMetrics' -retentionPeriod does it
    hist.close()


def test_victoriametrics_down_raises_historian_error() -> None:
    hist = VictoriaHistorian(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(HistorianError):
        hist.write([Point("demo", "m1", "t", 1, 1.0)])
    with pytest.raises(HistorianError):
        hist.latest("demo", "m1", "t")
    hist.close()


def test_line_protocol_rendering_escapes_tags() -> None:
    assert render(Point("demo", "m1", "temperature", 1_700_000_000_123, 21.5)) == (
        "takt,site=demo,machine=m1,tag=temperature value=21.5 1700000000123"
    )
    assert (
        render(Point("demo", "m 1,a=b", "x\\y", 5, 3))
        == r"takt,site=demo,machine=m\ 1\,a\=b,tag=x\\y value=3.0 5"
    )
    assert render_all([Point("s", "m", "t", 1, 1.0), Point("s", "m", "t", 2, -2.5e-07)]).splitlines() == [
        "takt,site=s,machine=m,tag=t value=1.0 1",
        "takt,site=s,machine=m,tag=t value=-2.5e-07 2",
    ]


def test_flux_range_query() -> None:
    flux = build_range_query("takt", "demo", "m1", "temperature", 1_000, 61_000, 10_000, "avg")
    assert flux.splitlines() == [
        'from(bucket: "takt")',
        "  |> range(start: time(v: 1000000000), stop: time(v: 61000000000))",
        '  |> filter(fn: (r) => r._measurement == "takt" and r._field == "value" and r.site == "demo"'
        ' and r.machine == "m1" and r.tag == "temperature")',
        '  |> aggregateWindow(every: 10000ms, fn: mean, createEmpty: false, timeSrc: "_start")',
        '  |> keep(columns: ["_time", "_value"])',
    ]
    assert "fn: max," in build_range_query("b", "s", "m", "t", 0, 10, 1, "max")


def test_flux_latest_query_and_string_escaping() -> None:
    flux = build_latest_query("takt", "demo", 'm"1', "t", 90)
    assert "range(start: -90d)" in flux
    assert 'r.machine == "m\\"1"' in flux
    assert flux.endswith("|> last()")
    assert flux_string('a"b\\c${x}') == '"a\\"b\\\\c\\${x}"'


def test_promql_range_query() -> None:
    assert prom_range("demo", "m1", "t", 60_000, "avg") == (
        'avg_over_time(takt_value{site="demo",machine="m1",tag="t"}[60000ms] offset 1ms)'
    )

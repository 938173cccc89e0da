"""The reports API: JSON, CSV and XLSX hold the same numbers; the OEE breakdown explains a figure."""

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session

from server.core.settings import Settings
from server.main import create_app
from tests.server.reports import support as f
from tests.server.reports.support import ms

TOKEN = "test-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    settings = Settings(
        database_url=str(engine.url),
        admin_token=TOKEN,
        secret_key="test-secret-key-0123456789abcdef",  # type: ignore[arg-type]
        mqtt_enabled=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def _seed(session: Session) -> None:
    s = f.site(session, tz="Asia/Shanghai")
    f.shift(session, s, "day", "08:00", "16:00", breaks=[("12:00", "13:00")])
    m = f.machine(session, s, "lathe-1", ideal=30.0)
    sh = "Asia/Shanghai"
    f.timeline(
        session,
        m,
        [
            ("running", ms("2026-11-23 08:00", sh), ms("2026-11-23 14:00", sh)),
            ("fault", ms("2026-11-23 14:00", sh), ms("2026-11-23 16:00", sh)),
        ],
    )
    f.count(session, m, ms("2026-11-23 09:00", sh), 400, 20)


def test_daily_json_csv_xlsx_agree(client: TestClient, session: Session) -> None:
    _seed(session)
    body = client.get("/api/v1/reports/daily?day=2026-11-23&lang=en", headers=ADMIN).json()
    oee_table = next(t for t in body["tables"] if t["name"] == "oee")
    [row] = oee_table["rows"]
    assert row["availability"] == pytest.approx(5 / 7) and row["performance"] == pytest.approx(
        420 * 30 / (5 * 3600)
    )
    assert oee_table["links"][0].startswith("/reports/oee/breakdown?machine=lathe-1&day=2026-11-23")
    text = client.get(
        "/api/v1/reports/daily?day=2026-11-23&format=csv&lang=en", headers=ADMIN
    ).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    header = lines.index(
        [
            "Machine",
            "Day",
            "Shift",
            "Planned (h)",
            "Run (h)",
            "Fault (h)",
            "Setup (h)",
            "Micro-stops",
            "Good",
            "Scrap",
            "Availability",
            "Performance",
            "Quality",
            "OEE",
        ]
    )
    assert lines[header + 1][:5] == ["lathe-1", "2026-11-23", "day", "7.0", "5.0"]
    xlsx = client.get("/api/v1/reports/daily?day=2026-11-23&format=xlsx&lang=zh-CN", headers=ADMIN)
    ws = load_workbook(io.BytesIO(xlsx.content))["oee"]
    assert (
        ws["A1"].value == "机台"
        and ws["D2"].value == 7.0
        and ws["K2"].value == pytest.approx(round(5 / 7, 4))
    )


def test_breakdown_lists_what_the_figure_is_made_of(client: TestClient, session: Session) -> None:
    _seed(session)
    body = client.get(
        "/api/v1/reports/oee/breakdown?machine=lathe-1&day=2026-11-23&shift=day", headers=ADMIN
    ).json()
    [window] = body["windows"]
    assert len(window["planned"]) == 2 and [s["state"] for s in window["segments"]] == ["running", "fault"]
    assert window["counts"] == [
        {
            "work_order": None,
            "step": None,
            "ideal_cycle_s": 30.0,
            "ideal_from": "machine",
            "good": 400,
            "scrap": 20,
        }
    ]
    assert body["figures"]["run_ms"] == 5 * 3_600_000 and body["figures"]["quality"] == pytest.approx(
        400 / 420
    )


def test_reports_need_a_boss_role(client: TestClient, session: Session) -> None:
    _seed(session)
    assert client.get("/api/v1/reports/daily").status_code == 401
    assert client.get("/api/v1/reports/nope", headers=ADMIN).status_code == 404
    assert client.get("/api/v1/reports/oee?start=2026-11-23&end=2026-11-01", headers=ADMIN).status_code == 422


def test_oee_trend_sums_terms_and_links_down(client: TestClient, session: Session) -> None:
    _seed(session)
    body = client.get("/api/v1/reports/oee-trend?start=2026-11-22&end=2026-11-23", headers=ADMIN).json()
    [table] = body["tables"]
    assert [r["day"] for r in table["rows"]] == ["2026-11-22", "2026-11-23"]
    assert table["rows"][0]["planned_ms"] == 7 * 3_600_000 and table["rows"][0]["oee"] == 0.0
    assert table["rows"][1]["availability"] == pytest.approx(5 / 7)
    assert table["links"][1] == "/reports/oee?start=2026-11-23&end=2026-11-23"
    one = client.get(
        "/api/v1/reports/oee-trend?start=2026-11-23&end=2026-11-23&machine=lathe-1", headers=ADMIN
    )
    assert one.json()["tables"][0]["links"] == ["/reports/oee/breakdown?machine=lathe-1&day=2026-11-23"]


def test_oee_over_a_range_sums_each_machine_and_shift(client: TestClient, session: Session) -> None:
    _seed(session)  # 11-22 planned and idle, 11-23 ran 5 of 7 h: one row, the terms summed
    body = client.get("/api/v1/reports/oee?start=2026-11-22&end=2026-11-23", headers=ADMIN).json()
    [table] = body["tables"]
    [row] = table["rows"]
    assert row["machine"] == "lathe-1" and row["day"] == "2026-11-22 – 2026-11-23" and row["shift"] == "day"
    assert row["planned_ms"] == 14 * 3_600_000 and row["run_ms"] == 5 * 3_600_000 and row["good"] == 400
    assert row["availability"] == pytest.approx(5 / 14) and row["quality"] == pytest.approx(400 / 420)
    assert table["links"] == ["/reports/oee-trend?start=2026-11-22&end=2026-11-23&machine=lathe-1"]
    days = client.get("/api/v1/reports/oee?start=2026-11-23&end=2026-11-23", headers=ADMIN).json()
    assert days["tables"][0]["rows"][0]["day"] == "2026-11-23"


def test_spc_and_certificate_endpoints(client: TestClient, session: Session) -> None:
    from datetime import UTC, datetime, timedelta

    from server.models.auth import User

    _seed(session)
    op = f.operation(session, "WO-C", ideal=None)
    session.add(User(username="qc1", display_name="Zhou Min", role="inspector"))
    char = f.first_article_d1(session, product_id=1)
    first, values = datetime(2026, 11, 23, 8, tzinfo=UTC), [40.0, 40.01, 39.99, 40.0, 40.5]
    f.measured(session, char, op.work_order_id, values, first, timedelta(minutes=1), "qc1")
    session.commit()
    summary = client.get("/api/v1/reports/spc", headers=ADMIN).json()
    assert summary["count"] == 1 and summary["items"][0]["name"] == "D1"
    chart = client.get(f"/api/v1/reports/spc/{char.id}?work_order=WO-C", headers=ADMIN).json()
    assert chart["chart"]["kind"] == "imr" and {"index": 4, "rule": "1"} in chart["chart"]["violations"]
    cert = client.get("/api/v1/reports/certificates/WO-C", headers=ADMIN).json()
    assert cert["passed"] is False and len(cert["records"]) == 5
    assert cert["records"][0]["inspector_role"] == "inspector" and "qc1" not in str(cert)

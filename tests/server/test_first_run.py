"""A new site's one-time set-up (server/domain/first_run.py) on both engines, and `takt server setup`."""

from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import cli
from server.core.db import make_engine
from server.core.errors import Conflict, InvalidInput
from server.domain import first_run
from server.domain.security import verify_secret
from server.models.audit import AuditLog
from server.models.auth import User
from server.models.plant import Site
from server.models.shifts import Shift, ShiftBreak

SETUP = first_run.SiteSetup(site_name="苏州精工", timezone="Asia/Shanghai", admin_username="wang",
                            admin_password="first-admin-pw")  # fmt: skip


def test_shift_lines_parse_with_days_and_breaks() -> None:
    day, night = first_run.parse_shifts("白班 08:00-17:00 1-5 休息 12:00-13:00\n\nNight 20:00-04:30 1-3,6")
    assert (day.name, day.start, day.end, day.days, day.break_span) == (
        "白班", time(8), time(17), "1,2,3,4,5", (time(12), time(13)),
    )  # fmt: skip
    assert (night.end, night.days, night.break_span) == (time(4, 30), "1,2,3,6", None)
    for bad in ("", "Day 8-17", "Day 25:00-17:00"):
        with pytest.raises(InvalidInput):
            first_run.parse_shifts(bad)


def test_setup_creates_site_admin_shifts_once(engine: Engine) -> None:
    with Session(engine) as session:
        assert first_run.needed(session)
        first_run.run(session, "plant-1", SETUP, first_run.parse_shifts(first_run.DEFAULT_SHIFT))
        site = session.exec(select(Site).where(Site.code == "plant-1")).one()
        assert (site.name, site.timezone) == ("苏州精工", "Asia/Shanghai")
        shift = session.exec(select(Shift).where(Shift.site_id == site.id)).one()
        brk = session.exec(select(ShiftBreak).where(ShiftBreak.shift_id == shift.id)).one()
        assert (shift.start_local, shift.end_local, brk.start_local) == (time(8), time(17), time(12))
        admin = session.exec(select(User).where(User.username == "wang")).one()
        assert admin.role == "admin" and admin.password_hash and verify_secret(admin.password_hash,
                                                                               "first-admin-pw")  # fmt: skip
        audited = session.exec(select(AuditLog.entity).where(AuditLog.actor == "setup")).all()
        assert set(audited) >= {"Site", "Shift", "ShiftBreak", "User"}
        assert not first_run.needed(session)
        with pytest.raises(Conflict):  # a second set-up is refused: no second admin this way
            first_run.run(session, "plant-1", SETUP, first_run.parse_shifts(first_run.DEFAULT_SHIFT))
        assert len(session.exec(select(User).where(col(User.role) == "admin")).all()) == 1


def test_cli_setup_then_refused(empty_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("TAKT_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("TAKT_SITE", "shop")
    monkeypatch.setenv("TAKT_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("TAKT_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("TAKT_SETUP_PASSWORD", "cli-admin-pw")
    monkeypatch.chdir(tmp_path)
    args = ["setup", "--site-name", "Shop", "--timezone", "Europe/Berlin", "--admin", "root",
            "--shift", "Early 06:00-14:00 1-5", "--shift", "Late 14:00-22:00 1-5"]  # fmt: skip
    assert cli.main(["setup", "--site-name", "Shop", "--timezone", "Mars/Olympus", "--admin", "root"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err
    assert cli.main(args) == 0
    assert "site shop set up with 2 shift(s)" in capsys.readouterr().out
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.code == "shop")).one()
        assert site.timezone == "Europe/Berlin"
        assert len(session.exec(select(Shift).where(Shift.site_id == site.id)).all()) == 2
        root = session.exec(select(User).where(User.username == "root")).one()
        assert root.role == "admin" and verify_secret(root.password_hash, "cli-admin-pw")
    engine.dispose()
    assert cli.main(args) == 1
    assert "already set up" in capsys.readouterr().err

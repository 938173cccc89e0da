"""Report by exception: deadbands, max silence, counters never deadbanded; health logged once."""

import logging

import pytest

from edge.config import Tag
from edge.report import Reporter
from edge.sources.base import Health


def reporter(**kwargs: object) -> Reporter:
    return Reporter(Tag(name="t", address=0, **kwargs))  # type: ignore[arg-type]


def test_counter_reports_every_change_and_quality() -> None:
    r = reporter(role="counter", width=16)
    assert [r.should_report(v, "good", 0) for v in [1, 1, 2, 3, 3]] == [True, False, True, True, False]
    assert r.should_report(3, "stale", 1)
    assert r.should_report(3, "good", 2)


def test_absolute_and_percent_deadband() -> None:
    r = reporter(deadband=0.5)
    assert [r.should_report(v, "good", 0) for v in [10.0, 10.4, 10.6, 10.2, 9.9]] == [
        True,
        False,
        True,
        False,
        True,
    ]
    p = reporter(deadband="10%")
    assert [p.should_report(v, "good", 0) for v in [100.0, 109.0, 111.0, 101.0, 99.0]] == [
        True,
        False,
        True,
        False,
        True,
    ]


def test_max_silence_and_always() -> None:
    r = reporter(deadband=5.0, max_silence_s=1.0)
    assert r.should_report(1.0, "good", 0)
    assert not r.should_report(1.0, "good", 999)
    assert r.should_report(1.0, "good", 1000)
    always = reporter(report="always")
    assert all(always.should_report(1, "good", 0) for _ in range(3))


def test_types_and_strings() -> None:
    r = reporter()
    assert r.should_report("A", "good", 0)
    assert not r.should_report("A", "good", 1)
    assert r.should_report("B", "good", 2)
    assert r.should_report(1, "good", 3)
    assert r.should_report(True, "good", 4)  # True == 1 but a different type


def test_health_logs_changes_of_state_once(caplog: pytest.LogCaptureFixture) -> None:
    changes: list[bool] = []
    health = Health("cnc1", lambda: changes.append(health.connected))
    with caplog.at_level(logging.DEBUG, logger="edge.sources.base"):
        for _ in range(3):
            health.set(False, "no answer")
        health.set(False, "cannot connect")
        for _ in range(3):
            health.set(True)
        health.set(False, "no answer")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert errors == ["device cnc1 failed: no answer", "device cnc1 failed: no answer"]
    assert infos == ["device cnc1 connected"]
    assert changes == [False, False, True, False]

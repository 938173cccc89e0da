"""Alerts against a plant of 200 machines on 10 lines (SQLite): how many rule evaluations per second the
engine does (every rule over every machine, episodes and messages in one transaction), and the delay from
a machine fault passing its rule's minutes to the request at a webhook receiver on loopback, with the real
evaluator and sender threads (TAKT_ALERT_EVAL_S=1, TAKT_ALERT_POLL_S=0.2; the default 15 s evaluation
interval adds up to 15 s to it).
"""

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bench.table import Table
from server.core.db import init_db, lock_for_write, make_engine
from server.core.settings import Settings
from server.domain import alert_channels, alert_engine
from server.domain.alert_channels import ChannelIn
from server.domain.alert_conditions import Context
from server.models.alerts import AlertRule
from server.models.ingest import CountEvent, MachineStateSegment
from server.models.plant import Line, Machine, Site
from server.models.types import now_ms
from server.notify.evaluator import Evaluator
from server.notify.sender import Sender
from tests.support.receivers import HttpReceiver, Received

MACHINES, LINES, FAULTED = 200, 10, 20
EVAL_SECONDS = 3.0
DELAY_FAULTS = 20
THRESHOLD_MIN = 0.05  # 3 s
KEY = "bench-secret-key-0123456789abcdef"


def _plant(session: Session) -> list[Machine]:
    site = Site(code="bench", name="bench", timezone="Asia/Shanghai")
    session.add(site)
    session.flush()
    lines = [Line(site_id=site.id or 0, code=f"L{i}", name=f"L{i}") for i in range(LINES)]
    session.add_all(lines)
    session.flush()
    machines = [Machine(site_id=site.id or 0, line_id=lines[i % LINES].id, code=f"m{i:03d}", name=f"m{i:03d}")
                for i in range(MACHINES)]  # fmt: skip
    session.add_all(machines)
    session.flush()
    start = now_ms() - 3_600_000
    for i, m in enumerate(machines):
        state = "fault" if i < FAULTED else "running"
        session.add(MachineStateSegment(machine_id=m.id or 0, state=state, start_ms=start))
        session.add(CountEvent(machine_id=m.id or 0, ts_ms=now_ms() - 60_000, good=95, scrap=5 + i % 7,
                               edge_id="e", seq=i))  # fmt: skip
    session.commit()
    return machines


def _throughput(session: Session, site: Site) -> tuple[float, int]:
    """Evaluations per second of every rule: one per line (machine down), a site-wide scrap rule, edges."""
    rules = [AlertRule(name=f"down {line.code}", kind="machine_down", threshold=10, line_id=line.id)
             for line in session.exec(select(Line)).all()]  # fmt: skip
    rules += [AlertRule(name="scrap", kind="scrap_rate", threshold=0.08),
              AlertRule(name="edges", kind="edge_offline", threshold=5)]  # fmt: skip
    session.add_all(rules)
    session.commit()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < EVAL_SECONDS:
        alert_engine.evaluate(session, Context(site, now_ms(), "http://takt"))
        count += 1
    rate = count / (time.perf_counter() - started)
    for rule in rules:
        rule.enabled = False
        session.add(rule)
    session.commit()
    return rate, len(rules)


def _delays(engine: Engine, session: Session, machines: list[Machine]) -> list[float]:
    """Seconds from each fault passing THRESHOLD_MIN to the receiver's request (one rule per machine)."""
    settings = Settings(database_url=str(engine.url), secret_key=KEY, site="bench", alert_eval_s=1.0,  # type: ignore[arg-type]
                        alert_poll_s=0.2, mqtt_enabled=False, _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    receiver = HttpReceiver(answer=lambda _r: (200, {})).start()
    arrivals: dict[str, float] = {}
    original = receiver.answer

    def stamp(request: Received) -> tuple[int, dict[str, Any]]:
        arrivals[request.json()["title"]] = time.time()
        return original(request)

    receiver.answer = stamp
    channel = alert_channels.create(
        session, ChannelIn(name="bench", kind="webhook", lang="en", url=receiver.url("/in")), KEY
    )
    chosen = [(m.id or 0, m.name) for m in machines[FAULTED : FAULTED + DELAY_FAULTS]]
    session.add_all([AlertRule(name=name, kind="machine_down", threshold=THRESHOLD_MIN, machine_id=machine_id,
                               channel_ids=[channel.id]) for machine_id, name in chosen])  # fmt: skip
    session.commit()
    session.close()  # no snapshot held while the threads write
    sender = Sender(settings, engine)
    evaluator = Evaluator(settings, engine, on_messages=sender.wake)
    sender.start()
    evaluator.start()
    crossing: dict[str, float] = {}
    try:
        for machine_id, name in chosen:
            start = _fault(engine, machine_id)
            crossing[f"Machine down: {name}"] = start / 1000 + THRESHOLD_MIN * 60
            time.sleep(0.37)
        deadline = time.time() + 60
        while len(arrivals) < len(chosen) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        evaluator.stop()
        sender.stop()
        receiver.stop()
    return [arrivals[t] - crossing[t] for t in crossing if t in arrivals]


def _fault(engine: Engine, machine_id: int) -> int:
    """Close the machine's running segment and open a fault, as ingestion would; the fault's start (ms)."""
    with Session(engine) as session:
        lock_for_write(session)
        start = now_ms()
        stmt = select(MachineStateSegment).where(MachineStateSegment.machine_id == machine_id)
        for seg in session.exec(stmt).all():
            seg.end_ms = start
            session.add(seg)
        session.add(MachineStateSegment(machine_id=machine_id, state="fault", start_ms=start))
        session.commit()
    return start


def run() -> Table:
    table = Table(f"Alerts: {MACHINES} machines, {LINES} lines (SQLite)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'takt.db'}"
        engine = make_engine(url)
        init_db(engine)
        with Session(engine) as session:
            machines = _plant(session)
            site = session.exec(select(Site)).one()
            rate, rules = _throughput(session, site)
            table.add("evaluations per second (all rules)", rate, "/s")
            table.add("rule evaluations per second", rate * rules, "/s")
            table.add("machine checks per second (each machine under 2 rules)", rate * 2 * MACHINES, "/s")
            delays = sorted(_delays(engine, session, machines))
        engine.dispose()
    if delays:
        p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
        table.add("fault past threshold -> receiver, median", statistics.median(delays), "s")
        table.add("fault past threshold -> receiver, p95", p95, "s", 1.0, "of eval interval")
    table.add("alerts received", len(delays), f"of {DELAY_FAULTS}")
    return table


if __name__ == "__main__":
    print(run().render())

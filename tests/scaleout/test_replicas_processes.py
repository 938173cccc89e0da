"""Scale-out proven (issue 7) and fault case 10 (issue 8): three real `takt server` processes share one
MQTT subscription ($share/takt/...) on a private mosquitto and one PostgreSQL database, while twenty
edges (the real edge agent code, docs in tests/scaleout/fleet.py) publish wrapping and reset counters.
One replica is SIGKILLed mid-run and comes back later; the other two keep ingesting meanwhile.

With mosquitto 2.0 a dead member of a share group keeps its persistent session and still gets its
round-robin share of the messages, queued until it returns: during the outage every third batch waits
there, and the edges' ack-timeout resend is what lets the survivors fill the holes and move on.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from server.models.ingest import CounterAnomaly, CountEvent, EdgeCursor, GapEvent, InboxBatch
from server.models.plant import Machine
from server.models.production import Operation
from tests.scaleout.fleet import Fleet
from tests.scaleout.realedges import ACCEL, MACHINES, RealEdges, write_plant
from tests.scaleout.replicas import ServerReplica, start_replicas, stop_all
from tests.server.ingest.support import make_plant, wait_for
from tests.support.mosquitto import Mosquitto
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator

FLEET = {f"edge-{i:02d}": f"m{i:02d}" for i in range(1, 1 + 20 - len(MACHINES))}  # + the real ones


@pytest.mark.faults
@pytest.mark.postgres
def test_three_replicas_twenty_edges_count_exactly_once_through_a_replica_kill(
    engine: Engine,
    pg_url_fresh: str,
    mosquitto: Mosquitto,
    start_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    plant = make_plant(engine, machines=tuple(FLEET.values()), owners={m: e for e, m in FLEET.items()})
    sim = start_simulator(
        config=write_plant(tmp_path / "plant.yaml"), accel=ACCEL, extra=["--scenario", "none"]
    )
    real = RealEdges(sim, mosquitto.port, tmp_path / "real")
    real.import_into(engine)
    replicas = start_replicas(3, tmp_path, pg_url_fresh, mosquitto.port)
    groups = [_group(r.process) for r in replicas]
    fleet = Fleet(FLEET, mosquitto.port, tmp_path / "fleet")
    try:
        real.start()
        groups += [_group(p) for p in real.processes]
        fleet.start()
        wait_for(lambda: real.baselines(engine), timeout=60, what="the real machines' counter baselines")
        real.run()
        _advance(fleet, 10, "every edge acked through the three replicas")
        victim, survivors = replicas[1], [replicas[0], replicas[2]]
        victim.kill()
        at_kill = (fleet.acked(), [r.stats() for r in survivors])
        what = "each survivor to store 50 and apply 20 batches, and the edges' acks to move 100 seqs"
        wait_for(lambda: _kept_ingesting(fleet, survivors, *at_kill), timeout=60, what=what)
        victim.start()  # same client id: its session, with the batches queued for it, comes back
        victim.wait_ready()
        groups.append(_group(victim.process))
        _advance(fleet, 5, "every edge acked 5 more batches after replica-2 returned")
        wait_for(lambda: _resets(fleet) == len(FLEET) // 2, timeout=30, what="every scheduled operator reset")
        fleet.stop_production()
        real.set_state("idle")
        _wait_delivered(engine, fleet, real, timeout=90)
        what = f"the real machines' counts {_counted(engine)} to reach the ground truth {real.truth()}"
        wait_for(lambda: _real_counts_exact(engine, real), timeout=15, what=what)
        _check_counts(engine, fleet, real, plant.operation_id)
        stats = [r.stats() for r in replicas]
        assert all(s["apply_errors"] == 0 and s["store_errors"] == 0 for s in stats), stats
    finally:
        fleet.close()
        real.stop()
        stop_all(replicas)
    _check_clean_exit([r.process for r in replicas] + real.processes, groups)


def _resets(fleet: Fleet) -> int:
    return sum(m.machine.resets for m in fleet.members.values())


def _group(process: TaktProcess) -> int:
    assert process.proc is not None
    return os.getpgid(process.proc.pid)


def _advance(fleet: Fleet, batches: int, what: str) -> None:
    start = fleet.acked()
    wait_for(lambda: all(fleet.acked()[e] >= start[e] + batches for e in start), timeout=60, what=what)


def _kept_ingesting(
    fleet: Fleet, survivors: list[ServerReplica], acked: dict[str, int], before: list[dict[str, int]]
) -> bool:
    """While a replica is dead: the shared subscription feeds every survivor, every survivor applies, and
    the edges' acks move on (holes left by batches queued in the dead replica's session are filled by the
    edges' resends to the survivors)."""
    moved = sum(fleet.acked().values()) - sum(acked.values())
    now = [r.stats() for r in survivors]
    return moved >= 100 and all(
        n["batches_stored"] >= b["batches_stored"] + 50 and n["batches_applied"] >= b["batches_applied"] + 20
        for n, b in zip(now, before, strict=True)
    )


def _undelivered(engine: Engine, fleet: Fleet, real: RealEdges) -> list[str]:
    """What is not yet stored, applied and acked: outboxes not empty or not acked to their last seq,
    cursors short of an edge's last seq, batches left in the inbox. Empty when everything is through."""
    last = {e: m.last_seq for e, m in fleet.members.items()}
    left = fleet.undelivered()
    for edge in MACHINES:
        last[edge], acked, waiting = real.outbox(edge)
        if acked != last[edge] or waiting:
            left.append(f"{edge}: acked {acked} of {last[edge]}, {waiting} in the outbox")
    with Session(engine) as session:
        cursors = {c.edge_id: c.last_applied_seq for c in session.exec(select(EdgeCursor))}
        held = session.exec(select(InboxBatch.edge_id, func.count()).group_by(InboxBatch.edge_id)).all()
    left += [
        f"{e}: applied up to {cursors.get(e)} of {seq}" for e, seq in last.items() if cursors.get(e) != seq
    ]
    return left + [f"{e}: {n} batches held in the inbox" for e, n in held]


def _wait_delivered(engine: Engine, fleet: Fleet, real: RealEdges, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while left := _undelivered(engine, fleet, real):
        if time.monotonic() > deadline:
            raise AssertionError(f"not through after {timeout} s: {left}")
        time.sleep(0.1)


def _real_counts_exact(engine: Engine, real: RealEdges) -> bool:
    """Asked again each time: a cycle running when the machines were stopped may end a moment later."""
    counted = _counted(engine)
    return all(counted.get(code) == made for code, made in real.truth().items())


def _counted(engine: Engine) -> dict[str, tuple[int, int]]:
    """(good, scrap) in the count ledger per machine code."""
    with Session(engine) as session:
        rows = session.exec(
            select(Machine.code, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
            .join(Machine, col(Machine.id) == CountEvent.machine_id)
            .group_by(Machine.code)
        ).all()
    return {code: (int(good), int(scrap)) for code, good, scrap in rows}


def _check_counts(engine: Engine, fleet: Fleet, real: RealEdges, operation_id: int) -> None:
    counted = _counted(engine)
    with Session(engine) as session:
        cursors = {c.edge_id: c for c in session.exec(select(EdgeCursor))}
        kinds = set(session.exec(select(CountEvent.kind).distinct()).all())
        anomalies = session.exec(select(func.count()).select_from(CounterAnomaly)).one()
        open_gaps = session.exec(select(GapEvent).where(col(GapEvent.resolved_ms).is_(None))).all()
        operation = session.get(Operation, operation_id)
    for edge_id, member in fleet.members.items():
        machine, cursor = member.machine, cursors[edge_id]
        assert counted[machine.code] == (machine.made_good, machine.made_scrap), edge_id
        # each batch applied once: the cursor counted every seq and every sample exactly once
        assert (cursor.batches, cursor.samples) == (member.last_seq, member.samples), edge_id
    truth = real.truth()
    assert all(good + scrap >= 20 for good, scrap in truth.values()), truth  # the real machines ran
    assert {code: counted.get(code) for code in truth} == truth
    assert {"increment", "wrap", "reset"} <= kinds, kinds
    assert _resets(fleet) == len(FLEET) // 2
    assert anomalies == 0 and open_gaps == []
    first = fleet.members["edge-01"].machine
    assert operation is not None
    assert (operation.machine_good, operation.machine_scrap) == (first.made_good, first.made_scrap)


def _check_clean_exit(processes: list[TaktProcess], groups: list[int]) -> None:
    """Replicas (SIGTERM) and edge agents (Ctrl-C) stopped without a traceback, leaving no process."""
    for process in processes:
        assert not process.alive()
        assert "Traceback" not in process.output(), process.output()[-3000:]
    for group in groups:  # nothing left of any process group
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)

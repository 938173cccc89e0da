"""Ingestion's JSON API: dead letters, edges (status, cursor, gaps), gap skip, machine live status and
tag series from the historian. Included by `create_app` under /api/v1."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from server.api.deps import Admin, AnyRole, Page, PagingDep, Supervisor, make_page
from server.core.db import SessionDep
from server.core.errors import NotFound
from server.core.services import Services, ServicesDep
from server.historian import Aggregate
from server.ingest import apply as applier
from server.ingest import future
from server.ingest.live import MachineLive, machine_live
from server.models.ingest import DataLossEpisode, DeadLetter, EdgeCursor, EdgeStatus, GapEvent
from server.models.plant import Machine, Site

router = APIRouter(tags=["ingest"])


class DeadLetterPublic(BaseModel):
    id: int
    received_ms: int
    topic: str
    reason: str
    size: int
    preview: str  # the first bytes as text (invalid UTF-8 replaced)


class GapPublic(BaseModel):
    id: int
    from_seq: int
    to_seq: int
    detected_ms: int
    resolved_ms: int | None
    resolution: str | None
    resolved_by: str | None


class DataLossPublic(BaseModel):
    first_ms: int
    last_ms: int
    samples: dict[str, int]  # role -> samples the edge dropped from its full outbox in this episode
    from_ms: int | None = None  # the dropped samples' own times (edge clock): where the trends have holes
    to_ms: int | None = None


class EdgePublic(BaseModel):
    edge_id: str
    site: str
    online: bool | None
    last_seen_ms: int | None
    version: str | None
    devices: Any
    buffer_depth: int | None
    dropped: Any
    disk_full_errors: int = 0  # the edge's outbox writes a full disk refused (since the agent started)
    last_applied_seq: int
    highest_contiguous_seq: int
    highest_stored_seq: int
    held_batches: int
    batches: int
    samples: int
    apply_error: str | None
    gaps: list[GapPublic]
    data_loss: list[DataLossPublic] = []  # newest first, at most 20
    clock_offset_ms: int | None = None  # edge clock - server clock: last live batch, else the stored status
    future_samples: int = 0  # samples stamped in the future, as seen by this process (server/ingest/clock.py)
    held_future_samples: int = (
        0  # stamped beyond the allowed skew: held, never applied (server/ingest/future.py)
    )
    held_future_newest_ms: int | None = None


class SkipResult(BaseModel):
    edge_id: str
    last_applied_seq: int


class SeriesPublic(BaseModel):
    machine: str
    tag: str
    start: int
    end: int
    step: int
    agg: str
    historian: str
    points: list[tuple[int, float]]


@router.get("/dead-letters", response_model=Page[DeadLetterPublic])
def list_dead_letters(session: SessionDep, _: Supervisor, paging: PagingDep) -> Page[DeadLetterPublic]:
    total = session.exec(select(func.count()).select_from(DeadLetter)).one()
    rows = session.exec(
        select(DeadLetter).order_by(col(DeadLetter.id).desc()).offset(paging.offset).limit(paging.limit)
    ).all()
    items = [
        DeadLetterPublic(id=r.id or 0, received_ms=r.received_ms, topic=r.topic, reason=r.reason, size=r.size,
                         preview=r.payload[:200].decode("utf-8", errors="replace"))
        for r in rows
    ]  # fmt: skip
    return make_page(items, total, paging)


@router.get("/dead-letters/{letter_id}/raw")
def dead_letter_raw(letter_id: int, session: SessionDep, _: Admin) -> Response:
    row = session.get(DeadLetter, letter_id)
    if row is None:
        raise NotFound(f"dead letter {letter_id} not found")
    return Response(row.payload, media_type="application/octet-stream")


@router.get("/edges", response_model=list[EdgePublic])
def list_edges(services: ServicesDep, session: SessionDep, _: AnyRole) -> list[EdgePublic]:
    ids = set(session.exec(select(EdgeCursor.edge_id)).all()) | set(
        session.exec(select(EdgeStatus.edge_id)).all()
    )
    return [_edge(services, session, edge_id) for edge_id in sorted(ids)]


@router.get("/edges/{edge_id}", response_model=EdgePublic)
def get_edge(edge_id: str, services: ServicesDep, session: SessionDep, _: AnyRole) -> EdgePublic:
    if session.get(EdgeCursor, edge_id) is None and session.get(EdgeStatus, edge_id) is None:
        raise NotFound(f"edge {edge_id!r} not found")
    return _edge(services, session, edge_id)


@router.post("/edges/{edge_id}/gaps/{seq}/skip", response_model=SkipResult)
def skip_gap(edge_id: str, seq: int, services: ServicesDep, who: Admin) -> SkipResult:
    """Give up on missing batches `seq..` (the edge lost them for good): later batches are applied."""
    kick = services.ingestor.kick if services.ingestor is not None else None
    last = applier.skip_gap(services.engine, edge_id, seq, by=who.username, on_done=kick)  # 409: GapSkipError
    return SkipResult(edge_id=edge_id, last_applied_seq=last)


@router.get("/machines/{code}/live", response_model=MachineLive)
def get_machine_live(
    code: str, services: ServicesDep, session: SessionDep, _: AnyRole, site: str | None = None
) -> MachineLive:
    machine, site_row = _machine(services, session, code, site)
    return machine_live(session, machine, site_row, applier.now_ms())


@router.get("/machines/{code}/series", response_model=SeriesPublic)
def get_series(
    code: str,
    services: ServicesDep,
    session: SessionDep,
    _: AnyRole,
    tag: str,
    start: Annotated[int | None, Query(description="epoch ms; default end - 1 h")] = None,
    end: Annotated[int | None, Query(description="epoch ms; default now")] = None,
    step: Annotated[int | None, Query(ge=1, description="ms; default (end - start) / 300")] = None,
    agg: Aggregate = "avg",
    site: str | None = None,
) -> SeriesPublic:
    machine, site_row = _machine(services, session, code, site)
    end = end if end is not None else applier.now_ms()
    start = start if start is not None else end - 3600_000
    step = step or max(1000, (end - start) // 300)
    historian = services.historian
    points = historian.query(site_row.code, machine.code, tag, start, end, step, agg)
    return SeriesPublic(machine=machine.code, tag=tag, start=start, end=end, step=step, agg=agg,
                        historian=historian.name, points=points)  # fmt: skip


@router.get("/ingest/stats")
def ingest_stats(services: ServicesDep, _: Supervisor) -> dict[str, Any]:
    """This process's ingestion counters (each server replica has its own), and its live fan-out's."""
    ingestor, fanout = services.ingestor, services.fanout
    live = {"live_fanout": fanout.snapshot()} if fanout is not None else {}
    if ingestor is None:
        return {"running": False, **live}
    return {
        **live,
        "running": True,
        "connected": ingestor.link.connected.is_set(),
        **ingestor.metrics.snapshot(),
        "historian_pending": ingestor.buffer.pending,
        "apply_errors_by_edge": ingestor.apply_errors(),
    }


def _machine(services: Services, session: Session, code: str, site: str | None) -> tuple[Machine, Site]:
    site_code = site or services.settings.site
    found = session.exec(
        select(Machine, Site).join(Site).where(Machine.code == code, Site.code == site_code)
    ).first()
    if found is None:
        found = (
            session.exec(select(Machine, Site).join(Site).where(Machine.code == code)).first()
            if not site
            else None
        )
    if found is None:
        raise NotFound(f"machine {code!r} not found in site {site_code!r}")
    return found[0], found[1]


def _edge(services: Services, session: Session, edge_id: str) -> EdgePublic:
    status = session.get(EdgeStatus, edge_id)
    prog = applier.progress(services.engine, edge_id)
    cursor = session.get(EdgeCursor, edge_id)
    gaps = session.exec(
        select(GapEvent).where(GapEvent.edge_id == edge_id).order_by(col(GapEvent.id).desc()).limit(50)
    ).all()
    losses = session.exec(
        select(DataLossEpisode)
        .where(DataLossEpisode.edge_id == edge_id)
        .order_by(col(DataLossEpisode.last_ms).desc())
        .limit(20)
    ).all()
    ingestor = services.ingestor
    errors = ingestor.apply_errors() if ingestor is not None else {}
    clock = ingestor.clock.of(edge_id) if ingestor is not None else None
    offset = clock.offset_ms if clock is not None and clock.offset_ms is not None else None
    if offset is None and status is not None and status.online and status.received_ms:
        offset = status.status_ts_ms - status.received_ms  # the stored birth: edge time vs receipt time
    held, held_newest = future.held_of(session, edge_id)
    seen = [status.received_ms if status else None, cursor.applied_ms if cursor else None]
    last_seen = max((t for t in seen if t), default=None)
    return EdgePublic(
        edge_id=edge_id,
        site=(status.site if status else cursor.site if cursor else ""),
        online=status.online if status else None,
        last_seen_ms=last_seen,
        version=status.version if status else None,
        devices=status.devices if status else None,
        buffer_depth=status.buffer_depth if status else None,
        dropped=status.dropped if status else None,
        disk_full_errors=status.disk_full_errors if status else 0,
        last_applied_seq=prog.last_applied if prog else 0,
        highest_contiguous_seq=prog.contiguous if prog else 0,
        highest_stored_seq=prog.highest_stored if prog else 0,
        held_batches=prog.held if prog else 0,
        batches=cursor.batches if cursor else 0,
        samples=cursor.samples if cursor else 0,
        apply_error=errors.get(edge_id),
        clock_offset_ms=offset,
        future_samples=clock.future_samples if clock else 0,
        held_future_samples=held,
        held_future_newest_ms=held_newest,
        gaps=[GapPublic.model_validate(g, from_attributes=True) for g in gaps],
        data_loss=[
            DataLossPublic(
                first_ms=e.first_ms,
                last_ms=e.last_ms,
                samples=e.samples or {},
                from_ms=e.from_ms,
                to_ms=e.to_ms,
            )
            for e in losses
        ],
    )

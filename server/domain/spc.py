"""Statistical process control for numeric characteristics (definitions: docs/reports.md).

X-bar/R charts when the plan's sample size n is 2..10 (constants A2, D3, D4), individuals/moving range
(I-MR) when n == 1. Limits come from the data. Western Electric rules on the centre chart, sigma taken
as (UCL - CL) / 3: 1 a point beyond 3 sigma; 2 two of three consecutive points beyond 2 sigma on one
side; 3 four of five beyond 1 sigma on one side; 4 eight in a row on one side of the centre line.
Rule 1 is also applied to the range chart ("R1").
"""

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean
from typing import Any

from sqlmodel import Session, col, select

from server.core.errors import NotFound
from server.domain import sites
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue

log = logging.getLogger(__name__)

# n: (A2, D3, D4), from the usual SPC tables (ASTM STP 15D / Montgomery appendix VI)
CONSTANTS: dict[int, tuple[float, float, float]] = {
    2: (1.880, 0.0, 3.267),
    3: (1.023, 0.0, 2.574),
    4: (0.729, 0.0, 2.282),
    5: (0.577, 0.0, 2.114),
    6: (0.483, 0.0, 2.004),
    7: (0.419, 0.076, 1.924),
    8: (0.373, 0.136, 1.864),
    9: (0.337, 0.184, 1.816),
    10: (0.308, 0.223, 1.777),
}
E2 = 2.660  # I-MR: 3 / d2(2)
D4_MR = 3.267
RECENT = 25  # subgroups looked at for the boss view's flag


@dataclass(frozen=True, slots=True)
class Violation:
    index: int
    rule: str  # "1".."4" on the centre chart, "R1" on the range chart


@dataclass(slots=True)
class Chart:
    kind: str  # "xbar_r" | "imr"
    n: int
    centre: list[float]  # subgroup means (or individual values)
    spread: list[float | None]  # subgroup ranges (or moving ranges; the first is None)
    labels: list[str] = field(default_factory=list)
    cl: float = 0.0
    ucl: float = 0.0
    lcl: float = 0.0
    r_cl: float = 0.0
    r_ucl: float = 0.0
    r_lcl: float = 0.0
    violations: list[Violation] = field(default_factory=list)

    @property
    def sigma(self) -> float:
        return (self.ucl - self.cl) / 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "n": self.n, "centre": self.centre, "spread": self.spread,
            "labels": self.labels, "cl": self.cl, "ucl": self.ucl, "lcl": self.lcl, "r_cl": self.r_cl,
            "r_ucl": self.r_ucl, "r_lcl": self.r_lcl,
            "violations": [{"index": v.index, "rule": v.rule} for v in self.violations],
        }  # fmt: skip


def xbar_r(subgroups: Sequence[Sequence[float]]) -> Chart:
    """X-bar/R chart of equal-size subgroups (2 <= n <= 10)."""
    n = len(subgroups[0])
    if n not in CONSTANTS or any(len(g) != n for g in subgroups):
        raise ValueError(
            f"subgroups must all have the same size 2..10, got {sorted({len(g) for g in subgroups})}"
        )
    a2, d3, d4 = CONSTANTS[n]
    means = [fmean(g) for g in subgroups]
    ranges = [max(g) - min(g) for g in subgroups]
    xbb, rbar = fmean(means), fmean(ranges)
    chart = Chart("xbar_r", n, means, list(ranges), cl=xbb, ucl=xbb + a2 * rbar, lcl=xbb - a2 * rbar,
                  r_cl=rbar, r_ucl=d4 * rbar, r_lcl=d3 * rbar)  # fmt: skip
    chart.violations = rules(chart)
    return chart


def imr(values: Sequence[float]) -> Chart:
    """Individuals / moving range chart (n == 1); needs at least two values."""
    if len(values) < 2:
        raise ValueError("an individuals chart needs at least two values")
    mrs = [abs(b - a) for a, b in itertools.pairwise(values)]
    xbar, mrbar = fmean(values), fmean(mrs)
    spread: list[float | None] = [None, *mrs]
    chart = Chart("imr", 1, list(values), spread, cl=xbar, ucl=xbar + E2 * mrbar, lcl=xbar - E2 * mrbar,
                  r_cl=mrbar, r_ucl=D4_MR * mrbar, r_lcl=0.0)  # fmt: skip
    chart.violations = rules(chart)
    return chart


def _beyond(
    values: Sequence[float], cl: float, limit: float, need: int, window: int, rule: str
) -> list[Violation]:
    """Points where `need` of the last `window` points lie beyond cl +/- limit on the same side."""
    out: list[Violation] = []
    if limit <= 0:
        return out
    for i in range(window - 1, len(values)):
        recent = values[i - window + 1 : i + 1]
        for side in (1, -1):
            if side * (values[i] - cl) > limit and sum(1 for v in recent if side * (v - cl) > limit) >= need:
                out.append(Violation(i, rule))
    return out


def _run_of_eight(values: Sequence[float], cl: float) -> list[Violation]:
    out: list[Violation] = []
    run, side = 0, 0
    for i, v in enumerate(values):
        now = 1 if v > cl else -1 if v < cl else 0
        run = run + 1 if now == side and now != 0 else (1 if now != 0 else 0)
        side = now
        if run >= 8:
            out.append(Violation(i, "4"))
    return out


def rules(chart: Chart) -> list[Violation]:
    """Western Electric rules 1-4 on the centre chart, rule 1 on the range chart; sorted by point."""
    x, s = chart.centre, chart.sigma
    found = [Violation(i, "1") for i, v in enumerate(x) if s > 0 and abs(v - chart.cl) > 3 * s]
    found += _beyond(x, chart.cl, 2 * s, 2, 3, "2")
    found += _beyond(x, chart.cl, s, 4, 5, "3")
    found += _run_of_eight(x, chart.cl)
    found += [
        Violation(i, "R1")
        for i, r in enumerate(chart.spread)
        if r is not None and chart.r_cl > 0 and (r > chart.r_ucl or r < chart.r_lcl)
    ]
    return sorted(set(found), key=lambda v: (v.index, v.rule))


# ---------------------------------------------------------------- database part


@dataclass(slots=True)
class Series:
    characteristic: Characteristic
    plan: InspectionPlan
    subgroups: list[list[float]]
    labels: list[str]
    skipped: int  # records without exactly n values


def series(
    session: Session, characteristic_id: int, work_order_id: int | None = None, last: int = 100
) -> Series:
    """The characteristic's last `last` subgroups: one per inspection record, values by sample_no.

    Records are read newest first, `last` at a time, until `last` are complete or 2 x `last` were read (a
    year of patrol checks is ~100k values a characteristic, and the boss page charts every one); `skipped`
    counts the incomplete records among those read. Records and values are read apart, so each record's
    time is converted and labelled once, not once a value."""
    char = session.get(Characteristic, characteristic_id)
    if char is None:
        raise NotFound("no characteristic %(id)s", id=characteristic_id)
    plan = session.get(InspectionPlan, char.plan_id)
    assert plan is not None
    rec = InspectionRecord
    newest = select(rec.id, rec.created_at).where(rec.plan_id == char.plan_id)
    if work_order_id is not None:
        newest = newest.where(rec.work_order_id == work_order_id)
    newest = newest.order_by(col(rec.created_at).desc(), col(rec.id).desc()).limit(last)
    full: list[tuple[datetime, list[float]]] = []  # newest first
    skipped = 0
    for page in range(2):
        records = session.exec(newest.offset(page * last)).all()
        values = _values(session, characteristic_id, [rec_id for rec_id, _ in records])
        for rec_id, created in records:
            measured = values.get(rec_id or 0)
            if measured is None:
                continue  # the record does not measure this characteristic
            if len(measured) != plan.sample_size:
                skipped += 1
            elif len(full) < last:
                full.append((created, measured))
        if len(full) == last or len(records) < last:
            break
    full.reverse()
    local = sites.site_time(session)
    labels = [local.text(created, "%m-%d %H:%M") for created, _ in full]
    return Series(char, plan, [vals for _, vals in full], labels, skipped)


def _values(session: Session, characteristic_id: int, record_ids: list[int | None]) -> dict[int, list[float]]:
    """The records' measured values of one characteristic, by record and sample_no."""
    if not record_ids:
        return {}
    val = InspectionValue
    stmt = (
        select(val.record_id, val.value)
        .where(col(val.record_id).in_(record_ids), val.characteristic_id == characteristic_id)
        .where(col(val.value).is_not(None))
        .order_by(col(val.record_id), col(val.sample_no))
    )  # fmt: skip
    found: dict[int, list[float]] = {}
    for rec_id, value in session.exec(stmt):
        found.setdefault(rec_id, []).append(float(value or 0.0))
    return found


def chart_of(s: Series) -> Chart | None:
    """The chart for a series; None when there is too little data (fewer than 2 subgroups/values)."""
    n = s.plan.sample_size
    try:
        chart = imr([g[0] for g in s.subgroups]) if n == 1 else xbar_r(s.subgroups) if s.subgroups else None
    except ValueError:
        return None
    if chart is None or len(chart.centre) < 2:
        return None
    chart.labels = s.labels
    return chart


def numeric_characteristics(session: Session) -> list[Characteristic]:
    stmt = select(Characteristic).where(Characteristic.kind == "numeric").order_by(col(Characteristic.id))
    return list(session.exec(stmt).all())


def out_of_control(session: Session) -> list[tuple[Characteristic, Chart]]:
    """Numeric characteristics with a rule violation among their last RECENT subgroups (the boss's flag)."""
    flagged = []
    for char in numeric_characteristics(session):
        chart = chart_of(series(session, char.id or 0, last=RECENT))
        if chart is not None and chart.violations:
            flagged.append((char, chart))
    return flagged


def out_of_control_count(session: Session) -> int:
    """How many characteristics the boss page should show as out of control."""
    return len(out_of_control(session))

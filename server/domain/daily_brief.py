"""The daily brief: one chat message a day (each morning, for yesterday) and at each shift's end (for the day
so far): output vs plan per line, OEE with its largest loss, orders at risk, the top downtime and scrap
reasons, open NCs and the automation scorecard, in zh_CN or English, every figure linked to its page.

Its numbers are the daily report's (`named_reports.build(..., "daily", ...)`: the production table, the
downtime and scrap Paretos, the open NCs) and the OEE rows that report's OEE table is made of, so the brief
and the report never disagree. "Plan" is the planned quantity of the steps of orders due that day.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from server.domain import boss_view as bv
from server.domain import named_reports, oee, scorecard
from server.domain.report_tables import Table
from server.models.plant import Line, Machine, Site, Station
from server.models.production import Operation, WorkOrder

TOP = 3
WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Daily brief {day}", "zh_CN": "每日简报 {day}"},
    "shift_title": {"en": "Shift {shift} brief {day}", "zh_CN": "{shift} 班简报 {day}"},
    "output": {"en": "Output vs plan", "zh_CN": "产量 / 计划"},
    "oee": {"en": "OEE", "zh_CN": "OEE"},
    "loss": {"en": "largest loss", "zh_CN": "最大损失"},
    "availability": {"en": "availability", "zh_CN": "可用率"},
    "performance": {"en": "performance", "zh_CN": "性能"},
    "quality": {"en": "quality", "zh_CN": "质量"},
    "risk": {"en": "Orders at risk or late", "zh_CN": "有风险或逾期的订单"},
    "downtime": {"en": "Top downtime", "zh_CN": "主要停机原因"},
    "scrap": {"en": "Top scrap", "zh_CN": "主要废品原因"},
    "ncs": {"en": "Open NCs", "zh_CN": "未关闭不合格品"},
    "auto": {"en": "Automation", "zh_CN": "自动化"},
    "machine_share": {"en": "machine-counted", "zh_CN": "机台计数"},
    "reason_share": {"en": "stops with reason", "zh_CN": "停机有原因"},
    "live_share": {"en": "machines live", "zh_CN": "机台在线"},
    "none": {"en": "none", "zh_CN": "无"},
    "min": {"en": "min", "zh_CN": "分钟"},
    "no_plan": {"en": "no plan", "zh_CN": "无计划"},
    "unclassified": {"en": "unclassified", "zh_CN": "未分类"},
    "micro": {"en": "micro-stops", "zh_CN": "短停"},
}


def word(key: str, lang: str) -> str:
    return WORDS[key]["en" if lang == "en" else "zh_CN"]


@dataclass
class LineOutput:
    line: str
    good: int = 0
    scrap: int = 0
    plan: int = 0


@dataclass
class Brief:
    day: date
    lang: str
    lines: list[LineOutput]
    good: int
    scrap: int
    oee: float | None
    largest_loss: str | None  # availability | performance | quality
    at_risk: list[tuple[str, bool]]  # (order number, late)
    downtime: list[tuple[str, float]]  # (reason, minutes)
    scrap_reasons: list[tuple[str, int]]  # (reason, parts)
    open_ncs: int
    card: scorecard.Figures | None = None
    shift: str | None = None
    links: dict[str, str] = field(default_factory=dict)


def build(session: Session, site: Site, day: date, lang: str, now: int, shift: str | None = None) -> Brief:
    q = named_reports.Query(site, day, day, day, locale=lang)
    tables = {
        t.name: t for t in named_reports.build(session, "daily", q, lambda key: word(_label(key), lang))
    }
    lines = _lines(session, site, day, tables["production"])
    figures = oee.total(oee.oee_rows(session, site, day, day, micro_stop_s=q.micro_stop_s))
    brief = Brief(
        day=day, lang=lang, lines=lines, good=sum(x.good for x in lines), scrap=sum(x.scrap for x in lines),
        oee=figures.oee, largest_loss=_largest_loss(figures), at_risk=_at_risk(session, site, day),
        downtime=[(str(r[1]), round(float(r[3]) / 60000, 1)) for r in tables["downtime_pareto"].rows[:TOP]],
        scrap_reasons=[(str(r[1]), int(r[3])) for r in tables["scrap_pareto"].rows[:TOP]],
        open_ncs=len(tables["open_ncs"].rows), shift=shift,
        card=scorecard.scorecard(session, site, day, day, now).days[0].site,
    )  # fmt: skip
    return brief


def _label(key: str) -> str:
    return {"unclassified": "unclassified", "micro-stops": "micro"}.get(key, "none")


def _lines(session: Session, site: Site, day: date, production: Table) -> list[LineOutput]:
    """Good and scrap per line from the report's production rows: machine rows, and hand rows of steps no
    machine counted that day (those confirm the machine's parts); a row's line is its machine's, else its
    step's station's. The plan: planned quantities of the steps of orders due that day."""
    lines = {line.id: line.code for line in session.exec(select(Line).where(Line.site_id == site.id)).all()}
    by_machine = {m.code: lines.get(m.line_id, "-") for m in session.exec(select(Machine)).all()}
    step_line = _step_lines(session, lines)
    out: dict[str, LineOutput] = {code: LineOutput(code) for code in sorted(lines.values())}
    counted = {(r[1], r[3]) for r in production.rows if r[6] == "machine"}
    for row in production.rows:
        _shift, number, _product, step, machine, _who, source = row[:7]
        if source != "machine" and (number, step) in counted:
            continue
        code = by_machine.get(machine) or step_line.get((number, step), "-")
        entry = out.setdefault(code, LineOutput(code))
        entry.good += int(row[-2])
        entry.scrap += int(row[-1])
    stmt = select(WorkOrder.number, Operation).join(Operation, col(Operation.work_order_id) == WorkOrder.id)
    for number, op in session.exec(stmt.where(WorkOrder.due_date == day)).all():
        code = step_line.get((number, str(op.step_no)), "-")
        out.setdefault(code, LineOutput(code)).plan += op.planned_qty
    return list(out.values())


def _step_lines(session: Session, lines: dict[int | None, str]) -> dict[tuple[str, str], str]:
    """(order number, step number as text) -> line code, by the step's machine, else its station."""
    stmt = (
        select(WorkOrder.number, Operation.step_no, Machine.line_id, Station.line_id)
        .join(Operation, col(Operation.work_order_id) == WorkOrder.id)
        .outerjoin(Machine, col(Machine.id) == Operation.machine_id)
        .outerjoin(Station, col(Station.id) == Operation.station_id)
    )
    return {
        (n, str(s)): lines.get(m if m is not None else st, "-") for n, s, m, st in session.exec(stmt).all()
    }


def _largest_loss(figures: oee.Figures) -> str | None:
    factors = {"availability": figures.availability, "performance": figures.performance,
               "quality": figures.quality}  # fmt: skip
    known = {name: value for name, value in factors.items() if value is not None}
    return min(known, key=lambda name: known[name]) if known else None


def _at_risk(session: Session, site: Site, day: date) -> list[tuple[str, bool]]:
    """Open orders whose ETA falls after their due day, and whether they are past it already."""
    return [
        (line.number, line.progress.due_date is not None and day > line.progress.due_date)
        for line in bv.open_orders(session, site.timezone)
        if line.progress.late
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def message(brief: Brief, base_url: str) -> tuple[str, str]:
    """The chat message: a title and markdown-lite lines, each figure linked to the page it comes from."""
    lang, day = brief.lang, brief.day.isoformat()
    report = f"{base_url}/reports/daily?day={day}"
    title = (word("shift_title", lang).format(shift=brief.shift, day=day) if brief.shift
             else word("title", lang).format(day=day))  # fmt: skip
    plan = sum(x.plan for x in brief.lines) or word("no_plan", lang)
    lines = [f"**{word('output', lang)}**: [{brief.good} / {plan}]({report})"]
    for out in brief.lines:
        lines.append(f"- {out.line}: [{out.good} / {out.plan or word('no_plan', lang)}]({report})")
    loss = f" · {word('loss', lang)}: {word(brief.largest_loss, lang)}" if brief.largest_loss else ""
    lines.append(
        f"**{word('oee', lang)}**: [{_pct(brief.oee)}]({base_url}/reports/oee?start={day}&end={day}){loss}"
    )
    risk = ", ".join(f"[{n}]({base_url}/boss/orders/{n})" for n, _late in brief.at_risk) or word("none", lang)
    lines.append(f"**{word('risk', lang)}**: {risk}")
    down = ", ".join(f"{r} {m} {word('min', lang)}" for r, m in brief.downtime) or word("none", lang)
    lines.append(f"**{word('downtime', lang)}**: [{down}]({base_url}/reports/downtime?start={day}&end={day})")
    scrap = ", ".join(f"{r} {n}" for r, n in brief.scrap_reasons) or word("none", lang)
    lines.append(f"**{word('scrap', lang)}**: [{scrap}]({base_url}/reports/scrap?start={day}&end={day})")
    lines.append(f"**{word('ncs', lang)}**: [{brief.open_ncs}]({report})")
    if brief.card is not None:
        c = brief.card
        auto = (f"{word('machine_share', lang)} {_pct(c.machine_share)}, {word('reason_share', lang)} "
                f"{_pct(c.reason_share)}, {word('live_share', lang)} {_pct(c.live_share)}")  # fmt: skip
        lines.append(f"**{word('auto', lang)}**: [{auto}]({base_url}/boss/scorecard)")
    return title, "\n".join(lines)

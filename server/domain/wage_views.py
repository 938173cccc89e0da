"""The wage sheet for the API (decimals of cents) and as an XLSX a payroll clerk can file: a summary sheet
(one row per operator: pieces, piece pay, adjustments, total, hours, pay per hour, and a total row), the
daily detail (one row per operator, day, product and step, machine-backed marked) and the adjustments and
flags, headed in Chinese or English. Cells go through sheets.xlsx_append (never a formula)."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from server.domain.piece_rates import money
from server.domain.sales_orders import from_e4
from server.domain.sheets import xlsx_append
from server.domain.wages import WageSheet, per_hour_e4
from server.models.pay import (
    WageAdjustmentPublic,
    WageDayPublic,
    WageFlagPublic,
    WageLinePublic,
    WageOperatorPublic,
    WageSheetPublic,
)

LABELS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "title": "计件工资表",
        "summary": "汇总",
        "detail": "明细",
        "adjustments": "调整",
        "flags": "超机台计数",
        "username": "工号",
        "name": "姓名",
        "pieces": "计件数量",
        "amount": "计件金额",
        "adjust": "调整金额",
        "total": "应发合计",
        "hours": "在岗工时",
        "per_hour": "时均金额",
        "day": "日期",
        "product": "产品",
        "step": "工序",
        "step_name": "工序名称",
        "good": "良品",
        "scrap": "废品",
        "rate": "单价",
        "machine": "机台确认",
        "team": "计件方式",
        "late": "补报",
        "reason": "原因",
        "author": "录入人",
        "work_order": "工单",
        "reported": "本人报工",
        "reported_all": "合计报工",
        "machine_count": "机台计数",
        "yes": "是",
        "no": "否",
        "team_rate": "团队",
        "own_rate": "个人",
        "sum": "合计",
        "closed": "已结账",
        "open": "未结账",
    },
    "en": {
        "title": "Piece-rate wage sheet",
        "summary": "Summary",
        "detail": "Detail",
        "adjustments": "Adjustments",
        "flags": "Over machine count",
        "username": "Username",
        "name": "Name",
        "pieces": "Pieces",
        "amount": "Piece pay",
        "adjust": "Adjustments",
        "total": "Total pay",
        "hours": "Hours on station",
        "per_hour": "Pay per hour",
        "day": "Date",
        "product": "Product",
        "step": "Step",
        "step_name": "Step name",
        "good": "Good",
        "scrap": "Scrap",
        "rate": "Rate",
        "machine": "Machine-backed",
        "team": "Rate kind",
        "late": "Late",
        "reason": "Reason",
        "author": "Entered by",
        "work_order": "Work order",
        "reported": "Own report",
        "reported_all": "All reports",
        "machine_count": "Machine count",
        "yes": "yes",
        "no": "no",
        "team_rate": "team",
        "own_rate": "own",
        "sum": "Total",
        "closed": "closed",
        "open": "open",
    },
}


def to_public(sheet: WageSheet) -> WageSheetPublic:
    def per_hour(amount: int, hours: float) -> Any:
        value = per_hour_e4(amount, hours)
        return None if value is None else money(value)

    return WageSheetPublic(
        start=sheet.period.start,
        end=sheet.period.end,
        total=money(sheet.total_e4),
        closed_at=sheet.closed.closed_at if sheet.closed else None,
        closed_by=sheet.closed.closed_by if sheet.closed else None,
        operators=[
            WageOperatorPublic(
                username=o.username,
                name=o.name,
                pieces=o.pieces,
                amount=money(o.amount_e4),
                adjustments=money(o.adjustments_e4),
                total=money(o.total_e4),
                hours=o.hours,
                per_hour=per_hour(o.amount_e4, o.hours),
            )
            for o in sheet.operators
        ],
        # model_construct: values made here, not input (validating 10,000 rows costs a tenth of a second)
        days=[
            WageDayPublic.model_construct(
                username=d.username,
                day=d.day,
                pieces=d.pieces,
                amount=money(d.amount_e4),
                hours=d.hours,
                per_hour=per_hour(d.amount_e4, d.hours),
            )
            for d in sheet.days
        ],
        lines=[
            WageLinePublic.model_construct(
                username=ln.username,
                name=ln.name,
                day=ln.day,
                product=ln.product,
                step_no=ln.step_no,
                step_name=ln.step_name,
                good=ln.good,
                scrap=ln.scrap,
                rate=from_e4(ln.rate_e4),
                amount=money(ln.amount_e4),
                machine_backed=ln.machine_backed,
                team=ln.team,
                late=ln.late,
            )
            for ln in sheet.lines
        ],
        adjustments=[
            WageAdjustmentPublic(
                username=u,
                day=a.day,
                amount=money(a.amount_e4),
                reason=a.reason,
                author=a.author,
                created_at=a.created_at,
            )
            for u, a in sheet.adjustments
        ],
        flags=[WageFlagPublic(**f.__dict__) for f in sheet.flags],
    )


def _bold_row(sheet: Worksheet) -> None:
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _money_columns(sheet: Worksheet, columns: str) -> None:
    for letter in columns:
        for cell in sheet[letter][2:]:
            cell.number_format = "0.00"


def to_xlsx(public: WageSheetPublic, lang: str, factory: str) -> bytes:
    t = LABELS.get(lang, LABELS["en"])
    book = Workbook()
    summary = book.active
    summary.title = t["summary"]
    state = t["closed"] if public.closed_at else t["open"]
    xlsx_append(
        summary, [f"{factory} {t['title']} {public.start.isoformat()} — {public.end.isoformat()} ({state})"]
    )
    _bold_row(summary)
    xlsx_append(
        summary,
        [t[k] for k in ("username", "name", "pieces", "amount", "adjust", "total", "hours", "per_hour")],
    )
    _bold_row(summary)
    for o in public.operators:
        xlsx_append(
            summary,
            [
                o.username,
                o.name,
                o.pieces,
                float(o.amount),
                float(o.adjustments),
                float(o.total),
                o.hours,
                None if o.per_hour is None else float(o.per_hour),
            ],
        )
    xlsx_append(
        summary,
        [
            t["sum"],
            "",
            sum(o.pieces for o in public.operators),
            float(sum(o.amount for o in public.operators)),
            float(sum(o.adjustments for o in public.operators)),
            float(public.total),
            round(sum(o.hours for o in public.operators), 2),
            None,
        ],
    )
    _bold_row(summary)
    _money_columns(summary, "DEFH")
    detail = book.create_sheet(t["detail"])
    xlsx_append(detail, [f"{t['title']} {public.start.isoformat()} — {public.end.isoformat()}"])
    xlsx_append(
        detail,
        [
            t[k]
            for k in (
                "username",
                "name",
                "day",
                "product",
                "step",
                "step_name",
                "good",
                "scrap",
                "rate",
                "amount",
                "machine",
                "team",
                "late",
            )
        ],
    )
    _bold_row(detail)
    for ln in public.lines:
        xlsx_append(
            detail,
            [
                ln.username,
                ln.name,
                ln.day.isoformat(),
                ln.product,
                ln.step_no,
                ln.step_name,
                ln.good,
                ln.scrap,
                None if ln.rate is None else float(ln.rate),
                float(ln.amount),
                t["yes"] if ln.machine_backed else t["no"],
                t["team_rate"] if ln.team else t["own_rate"],
                t["yes"] if ln.late else "",
            ],
        )
    _money_columns(detail, "J")
    adjust = book.create_sheet(t["adjustments"])
    xlsx_append(adjust, [t[k] for k in ("username", "day", "adjust", "reason", "author")])
    _bold_row(adjust)
    for a in public.adjustments:
        xlsx_append(adjust, [a.username, a.day.isoformat(), float(a.amount), a.reason, a.author])
    flags = book.create_sheet(t["flags"])
    xlsx_append(
        flags,
        [
            t[k]
            for k in ("username", "day", "work_order", "step", "reported", "reported_all", "machine_count")
        ],
    )
    _bold_row(flags)
    for f in public.flags:
        xlsx_append(
            flags,
            [f.username, f.day.isoformat(), f.work_order, f.step_no, f.reported, f.reported_all, f.machine],
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

"""Inspection certificates per work order: the first-article and final inspection records with each
characteristic's limits, the measured values and pass/fail; the inspector shown by ROLE, never by name.

`certificate(session, order)` is the factory's full certificate (page, CSV/XLSX). `certificate_for_share`
is what a customer's share page may show: a whitelist of plain values (no ids, no order number, no names),
and only when a planner released the certificate on that link (`ShareLink.show_certificate`).
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from server.domain import sites
from server.models.auth import ShareLink, User
from server.models.catalog import Product
from server.models.production import WorkOrder
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue

log = logging.getLogger(__name__)
CERTIFIED = ("first_article", "final")


@dataclass(slots=True)
class Measured:
    name: str
    unit: str | None
    nominal: float | None
    lsl: float | None
    usl: float | None
    values: list[float | None]
    passed: bool


@dataclass(slots=True)
class CertRecord:
    kind: str  # first_article | final
    plan: str
    lot: str | None
    inspector_role: str
    date: str  # YYYY-MM-DD (UTC)
    passed: bool
    characteristics: list[Measured] = field(default_factory=list)


@dataclass(slots=True)
class Certificate:
    order: str
    product_code: str
    product_name: str
    quantity: int
    records: list[CertRecord]

    @property
    def passed(self) -> bool:
        return bool(self.records) and all(r.passed for r in self.records)


def _roles(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = session.exec(select(User.username, User.role).where(col(User.username).in_(usernames)))
    return dict(rows.all())


def _measured(session: Session, record: InspectionRecord) -> list[Measured]:
    rows = session.exec(
        select(InspectionValue, Characteristic)
        .join(Characteristic, col(Characteristic.id) == col(InspectionValue.characteristic_id))
        .where(InspectionValue.record_id == record.id)
        .order_by(col(Characteristic.id), col(InspectionValue.sample_no))
    ).all()
    out: dict[int, Measured] = {}
    for value, char in rows:
        m = out.setdefault(
            char.id or 0, Measured(char.name, char.unit, char.nominal, char.lsl, char.usl, [], True)
        )
        m.values.append(value.value if char.kind == "numeric" else (1.0 if value.attribute_ok else 0.0))
        m.passed = m.passed and value.passed
    return list(out.values())


def certificate(session: Session, order: WorkOrder) -> Certificate:
    product = session.get(Product, order.product_id)
    rows = session.exec(
        select(InspectionRecord, InspectionPlan)
        .join(InspectionPlan, col(InspectionPlan.id) == col(InspectionRecord.plan_id))
        .where(InspectionRecord.work_order_id == order.id, col(InspectionPlan.frequency).in_(CERTIFIED))
        .order_by(col(InspectionRecord.created_at), col(InspectionRecord.id))
    ).all()
    roles = _roles(session, {r.inspector for r, _ in rows})
    local = sites.site_time(session)
    records = [
        CertRecord(plan.frequency, plan.name, rec.lot_code, roles.get(rec.inspector, "inspector"),
                   local.date_text(rec.created_at), rec.passed, _measured(session, rec))
        for rec, plan in rows
    ]  # fmt: skip
    return Certificate(order.number, product.code if product else "", product.name if product else "",
                       order.quantity, records)  # fmt: skip


def public_record(r: CertRecord) -> dict[str, Any]:
    return {
        "kind": r.kind, "lot": r.lot, "inspector_role": r.inspector_role, "date": r.date, "passed": r.passed,
        "characteristics": [
            {"name": m.name, "unit": m.unit, "nominal": m.nominal, "lsl": m.lsl, "usl": m.usl,
             "values": list(m.values), "passed": m.passed}
            for m in r.characteristics
        ],
    }  # fmt: skip


def certificate_for_share(
    session: Session, work_order: WorkOrder, link: ShareLink | None = None
) -> dict[str, Any] | None:
    """The released certificate as whitelisted plain values; None when not released on `link` or empty."""
    if link is not None and not link.show_certificate:
        return None
    cert = certificate(session, work_order)
    if not cert.records:
        return None
    return {
        "product_code": cert.product_code,
        "product_name": cert.product_name,
        "quantity": cert.quantity,
        "passed": cert.passed,
        "records": [public_record(r) for r in cert.records],
    }

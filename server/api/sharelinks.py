"""Share links for customers: create (token shown once), list, revoke, release the certificate."""

from datetime import datetime

from fastapi import APIRouter, status
from sqlmodel import Field, Session, SQLModel

from server.api.deps import SettingsDep, Sharer
from server.core.db import SessionDep
from server.core.services import ServicesDep
from server.core.settings import Settings
from server.domain import crud, sales_orders, sharelinks
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.auth import ShareLink
from server.models.production import WorkOrder
from server.models.sales import SalesOrder

router = APIRouter(tags=["share links"])


class ShareLinkCreate(SQLModel):
    days: int | None = Field(default=None, ge=1, le=366, description="valid for; default share_link_days")
    show_progress: bool = True
    show_eta: bool = True
    show_inspections: bool = True
    show_certificate: bool = False
    show_scrap: bool = Field(default=False, description="scrap counts on the customer's page")
    customer_ref: str | None = Field(
        default=None, max_length=100, description="their PO or reference, on top"
    )


class CertificateRelease(SQLModel):
    released: bool


class ShareLinkPublic(SQLModel):
    id: int
    work_order_id: int | None
    sales_order_id: int | None
    expires_at: datetime
    revoked: bool
    show_progress: bool
    show_eta: bool
    show_inspections: bool
    show_certificate: bool
    show_scrap: bool
    customer_ref: str | None
    created_by: str | None
    created_at: datetime


class ShareLinkCreated(ShareLinkPublic):
    url: str
    token: str = Field(description="shown once")


@router.post(
    "/work-orders/{number}/share-links", response_model=ShareLinkCreated, status_code=status.HTTP_201_CREATED
)
def create_share_link(
    number: str, session: SessionDep, settings: SettingsDep, who: Sharer, body: ShareLinkCreate | None = None
) -> ShareLinkCreated:
    return _create(session, settings, who, wo.get(session, number), body)


@router.get("/work-orders/{number}/share-links", response_model=list[ShareLinkPublic])
def list_share_links(number: str, session: SessionDep, _: Sharer) -> list[ShareLink]:
    return sharelinks.for_order(session, wo.get(session, number))


@router.post(
    "/sales-orders/{order_id}/share-links",
    response_model=ShareLinkCreated,
    status_code=status.HTTP_201_CREATED,
)
def create_sales_share_link(
    order_id: int,
    session: SessionDep,
    settings: SettingsDep,
    who: Sharer,
    body: ShareLinkCreate | None = None,
) -> ShareLinkCreated:
    """One page for the customer with every line's progress and their PO number on top."""
    return _create(session, settings, who, sales_orders.get(session, order_id), body)


@router.get("/sales-orders/{order_id}/share-links", response_model=list[ShareLinkPublic])
def list_sales_share_links(order_id: int, session: SessionDep, _: Sharer) -> list[ShareLink]:
    return sharelinks.for_order(session, sales_orders.get(session, order_id))


def _create(
    session: Session,
    settings: Settings,
    who: Principal,
    order: WorkOrder | SalesOrder,
    body: ShareLinkCreate | None,
) -> ShareLinkCreated:
    body = body or ShareLinkCreate()
    show = body.model_dump(exclude={"days"})
    new = sharelinks.create(session, who.username, order, body.days or settings.share_link_days, show)
    url = f"{settings.public_url.rstrip('/')}/s/{new.token}"
    return ShareLinkCreated.model_validate(new.link, update={"url": url, "token": new.token})


@router.post("/share-links/{link_id}/revoke", response_model=ShareLinkPublic)
def revoke_share_link(link_id: int, session: SessionDep, who: Sharer) -> ShareLink:
    return sharelinks.revoke(session, who.username, crud.get_by(session, ShareLink, id=link_id))


@router.post("/share-links/{link_id}/certificate", response_model=ShareLinkPublic)
def release_certificate(
    link_id: int, body: CertificateRelease, services: ServicesDep, session: SessionDep, who: Sharer
) -> ShareLink:
    """Show (released=true) or withdraw the order's inspection certificate on this customer's page."""
    link = sharelinks.release_certificate(
        session, who.username, crud.get_by(session, ShareLink, id=link_id), body.released
    )
    services.forget_rendered_shares()
    return link

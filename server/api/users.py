"""Users (argon2 password and PIN hashes) and enrolled tablets (admin only)."""

from fastapi import APIRouter, status
from sqlmodel import col, select

from server.api.deps import Admin, Page, PagingDep, SettingsDep, paged
from server.core.db import SessionDep
from server.domain import accounts, audit, crud, station_scope
from server.models.auth import StationsAssigned, Tablet, User, UserCreate, UserPublic, UserUpdate
from server.models.people import TabletCreate, TabletEnrolled, TabletPublic
from server.models.plant import Station

router = APIRouter(tags=["users"])


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, who: Admin) -> User:
    return accounts.create_user(session, who.username, body)


@router.get("/users", response_model=Page[UserPublic])
def list_users(session: SessionDep, _: Admin, paging: PagingDep, role: str | None = None) -> Page[User]:
    stmt = select(User).order_by(col(User.username))
    if role is not None:
        stmt = stmt.where(User.role == role)
    return paged(session, stmt, paging)


@router.patch("/users/{username}", response_model=UserPublic)
def update_user(username: str, body: UserUpdate, session: SessionDep, who: Admin) -> User:
    return accounts.update_user(session, who.username, crud.get_by(session, User, username=username), body)


@router.get("/users/{username}/stations", response_model=StationsAssigned)
def user_stations(username: str, session: SessionDep, _: Admin) -> StationsAssigned:
    """The stations an operator works at: signed in by password or API token, it acts only there."""
    crud.get_by(session, User, username=username)
    return station_scope.assigned(session, username)


@router.put("/users/{username}/stations", response_model=StationsAssigned)
def assign_stations(
    username: str, body: StationsAssigned, session: SessionDep, who: Admin
) -> StationsAssigned:
    """Set an operator's stations (replacing the former ones); an operator with none controls nothing."""
    return station_scope.assign(session, who.username, username, body)


@router.post("/tablets", response_model=TabletEnrolled, status_code=status.HTTP_201_CREATED)
def enroll_tablet(
    body: TabletCreate, session: SessionDep, settings: SettingsDep, who: Admin
) -> TabletEnrolled:
    station = crud.get_by(session, Station, code=body.station)
    new = accounts.enroll_tablet(session, who.username, station, body.name, settings.enroll_link_minutes)
    update = {
        "device_token": new.device_token,
        "enroll_url": accounts.enroll_url(str(settings.public_url), new.code),
    }
    return TabletEnrolled.model_validate(new.tablet, update=update)


@router.get("/tablets", response_model=list[TabletPublic])
def list_tablets(session: SessionDep, _: Admin) -> list[Tablet]:
    return list(session.exec(select(Tablet).order_by(col(Tablet.id))).all())


@router.post("/tablets/{tablet_id}/revoke", response_model=TabletPublic)
def revoke_tablet(tablet_id: int, session: SessionDep, who: Admin) -> Tablet:
    tablet = crud.get_by(session, Tablet, id=tablet_id)
    tablet.revoked = True
    session.add(tablet)
    audit.record(session, who.username, "Tablet", tablet.id, "revoke", None)
    session.commit()
    session.refresh(tablet)
    return tablet

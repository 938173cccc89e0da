"""API shapes for sign-in, tokens and tablets (no tables here)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.auth import UserPublic


class PasswordSignIn(SQLModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class BadgeSignIn(SQLModel):
    badge: str = Field(max_length=64)
    pin: str = Field(max_length=12)


class TokenOut(SQLModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime | None
    user: UserPublic
    station: str | None = None


class TabletCreate(SQLModel):
    station: str = Field(max_length=64, description="station code")
    name: str = Field(max_length=100)


class TabletPublic(SQLModel):
    id: int
    station_id: int
    name: str
    revoked: bool
    enrolled_at: datetime


class TabletEnrolled(TabletPublic):
    device_token: str = Field(description="shown once; for a client that is the tablet (API, kiosk app)")
    enroll_url: str = Field(
        description="shown once; opened once on the tablet's browser within the link's minutes"
    )

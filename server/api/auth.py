"""Sign-in: API tokens for username + password; operator sessions by badge + PIN on a tablet."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, status
from fastapi.security import HTTPAuthorizationCredentials

from server.api.deps import Admin, CurrentPrincipal, SettingsDep, SigninSource, bearer
from server.core.db import SessionDep
from server.domain import signin
from server.models.auth import UserPublic
from server.models.people import BadgeSignIn, PasswordSignIn, TokenOut

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenOut)
def password_token(
    body: PasswordSignIn, session: SessionDep, settings: SettingsDep, source: SigninSource
) -> TokenOut:
    issued = signin.password_sign_in(session, settings, body.username, body.password, source)
    return TokenOut(
        token=issued.token, expires_at=issued.expires_at, user=UserPublic.model_validate(issued.user)
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    session: SessionDep,
    _: CurrentPrincipal,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> None:
    """Revoke the token used for this request (the admin token cannot be revoked this way)."""
    signin.revoke_token(session, credentials.credentials)


@router.post("/users/{username}/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
def issue_token(
    username: str, session: SessionDep, settings: SettingsDep, who: Admin, name: str = "api"
) -> TokenOut:
    issued = signin.issue_api_token(session, who.username, username, name, settings.api_token_days)
    return TokenOut(
        token=issued.token, expires_at=issued.expires_at, user=UserPublic.model_validate(issued.user)
    )


@router.post("/stations/{code}/sign-in", response_model=TokenOut)
def station_sign_in(
    code: str,
    body: BadgeSignIn,
    session: SessionDep,
    settings: SettingsDep,
    source: SigninSource,
    x_device_token: Annotated[str | None, Header(max_length=200)] = None,
) -> TokenOut:
    issued = signin.badge_sign_in(session, settings, code, x_device_token, (body.badge, body.pin), source)
    user = UserPublic.model_validate(issued.user)
    return TokenOut(token=issued.token, expires_at=issued.expires_at, user=user, station=code)

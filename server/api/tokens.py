"""Bearer tokens (admin): the live ones, and revoking one."""

from fastapi import APIRouter

from server.api.deps import Admin, Page, PagingDep, make_page
from server.core.db import SessionDep
from server.domain import api_tokens
from server.domain.api_tokens import TokenPublic

router = APIRouter(prefix="/tokens", tags=["auth"])


@router.get("", response_model=Page[TokenPublic])
def list_tokens(session: SessionDep, _: Admin, paging: PagingDep) -> Page[TokenPublic]:
    rows, total = api_tokens.live_tokens(session, paging.limit, paging.offset)
    return make_page(rows, total, paging)


@router.post("/{token_id}/revoke", response_model=TokenPublic)
def revoke_token(token_id: int, session: SessionDep, who: Admin) -> TokenPublic:
    return api_tokens.revoke(session, who.username, token_id)

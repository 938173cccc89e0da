"""The automation scorecard (docs/scorecard.md): per line and per day, the last `days` days or a range."""

from datetime import date

from fastapi import APIRouter, Query

from server.api.deps import Supervisor
from server.core.db import SessionDep
from server.core.errors import InvalidInput
from server.core.services import SettingsDep
from server.domain import scorecard, sites
from server.domain.scorecard import Scorecard
from server.models.types import now_ms

router = APIRouter(prefix="/scorecard", tags=["reports"])
MAX_DAYS = 366


@router.get("", response_model=Scorecard)
def get_scorecard(
    session: SessionDep, settings: SettingsDep, _: Supervisor,
    days: int = Query(default=30, ge=1, le=MAX_DAYS), start: date | None = None, end: date | None = None,
) -> Scorecard:  # fmt: skip
    site = sites.site_of(session, settings.site)
    if site is None:
        raise InvalidInput("site %(site)s is not set up", site=settings.site)
    if start is None or end is None:
        return scorecard.last_days(session, site, days, now_ms())
    if end < start or (end - start).days >= MAX_DAYS:
        raise InvalidInput("the range must run forward and span at most %(days)s days", days=MAX_DAYS)
    return scorecard.scorecard(session, site, start, end, now_ms())

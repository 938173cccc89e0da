"""When the daily brief is due, and sending each one once: a `daily_brief` rule's briefs are due each
morning at TAKT_BRIEF_MORNING (for yesterday) and at each shift's end (for that day so far), for 12 hours
after that moment (a server down at 07:30 still sends it at 08:00; one down all day skips it). Each brief
sent is an episode of the rule named `brief:<day>:<morning|shift>`, written in the same transaction as its
messages, so a brief goes out once however many replicas and evaluations there are."""

from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlmodel import Session, select

from server.domain import daily_brief, oee
from server.domain.alert_conditions import Context
from server.models.alerts import AlertEpisode, AlertRule

LATE_MS = 12 * 3_600_000
Deliver = Callable[..., int]


def due(session: Session, ctx: Context) -> list[tuple[str, datetime, str | None]]:
    """(episode subject, the day as a local midnight, shift name or None) of every brief due now."""
    if ctx.site is None:
        return []
    zone = ctx.zone
    today = datetime.fromtimestamp(ctx.now / 1000, zone).date()
    found: list[tuple[str, datetime, str | None]] = []
    if ctx.brief_morning:
        hours, minutes = (int(x) for x in ctx.brief_morning.split(":"))
        at = int(datetime.combine(today, time(hours, minutes), tzinfo=zone).timestamp() * 1000)
        if at <= ctx.now < at + LATE_MS:
            yesterday = datetime.combine(today - timedelta(days=1), time(0), tzinfo=zone)
            found.append((f"brief:{yesterday.date()}:morning", yesterday, None))
    if ctx.brief_shift_end:
        shifts = oee.site_shifts(session, ctx.site.id or 0)
        for window in oee.shift_windows(shifts, ctx.site.timezone, today - timedelta(days=1), today):
            if window.end_ms <= ctx.now < window.end_ms + LATE_MS:
                day = datetime.combine(window.day, time(0), tzinfo=zone)
                found.append((f"brief:{window.day}:{window.shift}", day, window.shift))
    return found


def send_due(session: Session, rule: AlertRule, ctx: Context, deliver: Deliver) -> int:
    """Write the due briefs not sent yet (messages and their episode); the number of messages written."""
    written, site = 0, ctx.site
    if site is None:
        return 0
    for subject, day, shift in due(session, ctx):
        stmt = select(AlertEpisode.id).where(AlertEpisode.rule_id == rule.id, AlertEpisode.subject == subject)
        if session.exec(stmt).first() is not None:
            continue
        session.add(AlertEpisode(rule_id=rule.id or 0, subject=subject, label=subject, opened_ms=ctx.now,
                                 resolved_ms=ctx.now))  # fmt: skip

        def text(lang: str, day: datetime = day, shift: str | None = shift) -> tuple[str, str]:
            brief = daily_brief.build(session, site, day.date(), lang, ctx.now, shift)
            return daily_brief.message(brief, ctx.base_url)

        written += deliver(session, rule, "brief", list(rule.channel_ids or []), ctx, text)
    return written

"""The rule engine: each evaluation compares every enabled rule's findings (server/domain/alert_conditions.py)
with its open episodes and, in one transaction, opens the new episodes, closes the ended ones, escalates the
long ones and writes their messages into the outbox (server/domain/alert_outbox.py).

One message per rule, channel and purpose per evaluation: 20 machines that go down together give one
grouped message listing them, and one "resolved" when they run again. Quiet hours delay a message to their
end (it is still written now, so nothing is lost). Users reached by role or by their own choice get the
message at their own mail address through the rule's email channel.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, select

from server.domain import alert_outbox, alert_texts, brief_schedule
from server.domain.alert_conditions import CONDITIONS, Context, Finding
from server.models.alerts import AlertChannel, AlertContact, AlertEpisode, AlertPreference, AlertRule
from server.models.auth import User

GROUP_MS = 60_000  # stops that began within a minute of one another are one event


@dataclass
class Outcome:
    """What one evaluation did (for the caller's log and the bench)."""

    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    messages: int = 0
    rules: int = 0
    errors: list[str] = field(default_factory=list)


def has_rules(session: Session) -> bool:
    return session.exec(select(AlertRule.id).where(col(AlertRule.enabled))).first() is not None


def evaluate(session: Session, ctx: Context) -> Outcome:
    """Evaluate every enabled rule now and commit the episodes and messages together."""
    outcome = Outcome()
    rules = session.exec(select(AlertRule).where(col(AlertRule.enabled)).order_by(col(AlertRule.id))).all()
    for rule in rules:
        if rule.kind == "daily_brief":
            outcome.messages += brief_schedule.send_due(session, rule, ctx, deliver)
            outcome.rules += 1
            continue
        condition = CONDITIONS.get(rule.kind)
        if condition is None:
            outcome.errors.append(f"rule {rule.id}: unknown kind {rule.kind!r}")
            continue
        _step(session, rule, condition(session, rule, ctx), ctx, outcome)
        outcome.rules += 1
    session.commit()
    return outcome


def split(findings: list[Finding], open_subjects: set[str]) -> tuple[list[Finding], dict[str, Finding]]:
    """(the episodes to open, the findings that keep episodes open). Those past the rule's limit open, and
    with them those not yet past it that began within GROUP_MS of one of them: machines that stopped
    together are told together, in one message, even if their stops reach the server a moment apart."""
    ready = [f for f in findings if f.ready and f.subject not in open_subjects]
    starts = [f.start_ms for f in ready if f.start_ms is not None]
    grouped = [
        f for f in findings
        if not f.ready and f.subject not in open_subjects and f.start_ms is not None
        and any(abs(f.start_ms - start) <= GROUP_MS for start in starts)
    ]  # fmt: skip
    new = [*ready, *grouped]
    opened = {f.subject for f in new}
    holding = {f.subject: f for f in findings if f.ready or f.subject in open_subjects or f.subject in opened}
    return new, holding


def _step(session: Session, rule: AlertRule, findings: list[Finding], ctx: Context, outcome: Outcome) -> None:
    stmt = select(AlertEpisode).where(
        AlertEpisode.rule_id == rule.id, col(AlertEpisode.resolved_ms).is_(None)
    )
    open_now = {e.subject: e for e in session.exec(stmt).all()}
    new, current = split(findings, set(open_now))
    ended = [e for s, e in open_now.items() if s not in current]
    for finding in new:
        session.add(AlertEpisode(rule_id=rule.id or 0, subject=finding.subject, label=finding.label[:200],
                                 value=finding.value, opened_ms=ctx.now))  # fmt: skip
    for episode in ended:
        episode.resolved_ms = ctx.now
        session.add(episode)
    late = _to_escalate(rule, open_now, current, ctx.now)
    for episode in late:
        episode.escalated_ms = ctx.now
        session.add(episode)
    outcome.opened, outcome.resolved, outcome.escalated = (
        outcome.opened + len(new), outcome.resolved + len(ended), outcome.escalated + len(late),
    )  # fmt: skip
    routes = list(rule.channel_ids or [])
    outcome.messages += _send(session, rule, "opened", new, routes, ctx)
    outcome.messages += _send(session, rule, "resolved", [_as_finding(e, ctx) for e in ended], routes, ctx)
    escalation = list(rule.escalate_channel_ids or [])
    outcome.messages += _send(session, rule, "escalated", [current[e.subject] for e in late], escalation, ctx)


def _to_escalate(
    rule: AlertRule, open_now: dict[str, AlertEpisode], current: dict[str, Finding], now: int
) -> list[AlertEpisode]:
    if rule.escalate_after_min is None or not rule.escalate_channel_ids:
        return []
    after_ms = rule.escalate_after_min * 60000
    return [
        e for s, e in open_now.items()
        if s in current and e.escalated_ms is None and now - e.opened_ms >= after_ms
    ]  # fmt: skip


def _as_finding(episode: AlertEpisode, ctx: Context) -> Finding:
    minutes = round((ctx.now - episode.opened_ms) / 60000, 1)
    return Finding(episode.subject, episode.label, minutes, "")


def _send(
    session: Session,
    rule: AlertRule,
    purpose: str,
    findings: list[Finding],
    channel_ids: list[int],
    ctx: Context,
) -> int:
    """One grouped message per channel (and one per person reached by mail); the number written."""
    if not findings:
        return 0
    text = lambda lang: compose(rule.kind, purpose, findings, lang)  # noqa: E731
    return deliver(session, rule, purpose, channel_ids, ctx, text, people=purpose != "escalated")


def deliver(
    session: Session, rule: AlertRule, purpose: str, channel_ids: list[int], ctx: Context,
    text: Callable[[str], tuple[str, str]], people: bool = True,
) -> int:  # fmt: skip
    """Write `text(lang)` for each of the channels and (`people`) each user the rule reaches by mail."""
    not_before = quiet_until(rule, ctx)
    written = 0
    channels = _channels(session, channel_ids)
    for channel in channels:
        title, body = text(channel.lang)
        alert_outbox.enqueue(session, channel.id or 0, purpose, title, body, ctx.now, not_before)
        written += 1
    mail = next((c for c in channels if c.kind == "email"), None) or _any_email(session)
    if mail is not None and people:
        for address, lang in recipients(session, rule, mail.id or 0):
            title, body = text(lang)
            alert_outbox.enqueue(session, mail.id or 0, purpose, title, body, ctx.now, not_before, address)
            written += 1
    return written


def compose(kind: str, purpose: str, findings: list[Finding], lang: str) -> tuple[str, str]:
    """The title and the markdown-lite body: one line per subject, linked to its page."""
    title = alert_texts.title(kind, purpose, [f.label for f in findings], lang)
    lines = []
    for f in findings:
        value = alert_texts.value_text(kind if purpose != "resolved" else "machine_down", f.value, lang)
        name = f"[{f.label}]({f.link})" if f.link else f.label
        lines.append(f"- {name}" + (f" · {value}" if value else ""))
    return title, "\n".join(lines)


def _channels(session: Session, ids: Iterable[int]) -> list[AlertChannel]:
    wanted = [int(i) for i in ids]
    if not wanted:
        return []
    stmt = select(AlertChannel).where(col(AlertChannel.id).in_(wanted), col(AlertChannel.enabled))
    return list(session.exec(stmt.order_by(col(AlertChannel.id))).all())


def _any_email(session: Session) -> AlertChannel | None:
    stmt = select(AlertChannel).where(AlertChannel.kind == "email", col(AlertChannel.enabled))
    return session.exec(stmt.order_by(col(AlertChannel.id))).first()


def recipients(session: Session, rule: AlertRule, mail_channel_id: int) -> list[tuple[str, str]]:
    """(address, language) of the users this rule reaches by mail: their role is routed and they did not
    turn it off, or they turned it on themselves; only users with an address."""
    stmt = select(User, AlertContact).join(AlertContact, col(AlertContact.user_id) == User.id)
    stmt = stmt.where(col(User.active), col(AlertContact.email).is_not(None))
    choices = {
        p.user_id: p.enabled
        for p in session.exec(
            select(AlertPreference).where(
                AlertPreference.rule_id == rule.id, AlertPreference.channel_id == mail_channel_id
            )
        ).all()
    }
    roles = set(rule.roles or [])
    found = []
    for user, contact in session.exec(stmt.order_by(col(User.id))).all():
        if choices.get(user.id or 0, user.role in roles) and contact.email:
            found.append((contact.email, contact.lang))
    return found


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(rule: AlertRule, ctx: Context) -> int | None:
    """The end of the rule's quiet hours (ms) if now falls within them, else None. `22:00`-`06:30` spans
    midnight; equal ends mean no quiet hours."""
    if not rule.quiet_from or not rule.quiet_to or rule.quiet_from == rule.quiet_to:
        return None
    start, end = _clock(rule.quiet_from), _clock(rule.quiet_to)
    local = datetime.fromtimestamp(ctx.now / 1000, ctx.zone)
    now = local.time()
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return int(datetime.combine(day, end, tzinfo=ctx.zone).timestamp() * 1000)

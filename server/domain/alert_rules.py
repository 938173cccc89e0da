"""Alert rules (what to watch, whom to tell, quiet hours, escalation), the channels' test message and each
user's own choices (their mail address, language, and which rule reaches them on which channel)."""

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from server.core.errors import InvalidInput, Msgid, NotFound
from server.domain import alert_outbox, alert_texts
from server.models.alerts import (
    AlertChannel,
    AlertContact,
    AlertEpisode,
    AlertMessage,
    AlertPreference,
    AlertRule,
    RuleKind,
)
from server.models.plant import Line, Machine
from server.models.types import now_ms

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind
    threshold: float | None = Field(default=None, ge=0)
    line_id: int | None = None
    machine_id: int | None = None
    channel_ids: list[int] = Field(default_factory=list, max_length=50)
    roles: list[Literal["admin", "planner", "supervisor", "operator", "inspector"]] = Field(
        default_factory=list
    )
    quiet_from: str | None = None
    quiet_to: str | None = None
    escalate_after_min: float | None = Field(default=None, gt=0)
    escalate_channel_ids: list[int] = Field(default_factory=list, max_length=50)
    enabled: bool = True

    @field_validator("quiet_from", "quiet_to")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not _CLOCK.match(value):
            raise ValueError("a time of day as HH:MM")
        return value


class RulePublic(RuleIn):
    id: int
    open_episodes: int


def _rule(session: Session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Rule"), key=rule_id)
    return rule


def _check_channels(session: Session, ids: list[int]) -> None:
    for channel_id in ids:
        if session.get(AlertChannel, channel_id) is None:
            raise InvalidInput("channel %(id)s does not exist", id=channel_id)


def _write(session: Session, rule: AlertRule, data: RuleIn) -> RulePublic:
    _check_channels(session, data.channel_ids + data.escalate_channel_ids)
    if data.line_id is not None and session.get(Line, data.line_id) is None:
        raise InvalidInput("line %(id)s does not exist", id=data.line_id)
    if data.machine_id is not None and session.get(Machine, data.machine_id) is None:
        raise InvalidInput("machine %(id)s does not exist", id=data.machine_id)
    for name, value in data.model_dump().items():
        setattr(rule, name, value)
    session.add(rule)
    session.commit()
    return public(session, rule)


def create_rule(session: Session, data: RuleIn) -> RulePublic:
    return _write(session, AlertRule(name=data.name, kind=data.kind), data)


def update_rule(session: Session, rule_id: int, data: RuleIn) -> RulePublic:
    return _write(session, _rule(session, rule_id), data)


def delete_rule(session: Session, rule_id: int) -> None:
    """A rule with history is switched off (its episodes stay); one without is removed."""
    rule = _rule(session, rule_id)
    if session.exec(select(AlertEpisode.id).where(AlertEpisode.rule_id == rule_id)).first() is not None:
        rule.enabled = False
        session.add(rule)
    else:
        for choice in session.exec(select(AlertPreference).where(AlertPreference.rule_id == rule_id)).all():
            session.delete(choice)
        session.delete(rule)
    session.commit()


def public(session: Session, rule: AlertRule) -> RulePublic:
    stmt = select(AlertEpisode.id).where(
        AlertEpisode.rule_id == rule.id, col(AlertEpisode.resolved_ms).is_(None)
    )
    data = {name: getattr(rule, name) for name in RuleIn.model_fields}
    data["channel_ids"] = list(rule.channel_ids or [])
    data["roles"] = list(rule.roles or [])
    data["escalate_channel_ids"] = list(rule.escalate_channel_ids or [])
    return RulePublic(id=rule.id or 0, open_episodes=len(session.exec(stmt).all()), **data)


def list_rules(session: Session) -> list[RulePublic]:
    return [public(session, r) for r in session.exec(select(AlertRule).order_by(col(AlertRule.id))).all()]


def send_test(session: Session, channel_id: int) -> AlertMessage:
    """Put a test message for the channel in the outbox (sent like any alert); its state tells the rest."""
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Channel"), key=channel_id)
    title, body = alert_texts.TEST[alert_texts.lang_of(channel.lang)]
    message = alert_outbox.enqueue(session, channel_id, "test", title, body, now_ms())
    session.commit()
    session.refresh(message)
    return message


class Choice(BaseModel):
    rule_id: int
    rule: str
    kind: str
    channel_id: int
    channel: str
    enabled: bool  # the user's choice, or what the rule's routing gives them


class MySettings(BaseModel):
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    lang: Literal["zh_CN", "en"] = "zh_CN"


def my_settings(session: Session, user_id: int) -> MySettings:
    contact = session.get(AlertContact, user_id)
    return MySettings(email=contact.email, lang=contact.lang) if contact else MySettings()  # type: ignore[arg-type]


def save_my_settings(session: Session, user_id: int, data: MySettings) -> MySettings:
    contact = session.get(AlertContact, user_id) or AlertContact(user_id=user_id)
    contact.email, contact.lang = data.email or None, data.lang
    session.add(contact)
    session.commit()
    return data


def my_choices(session: Session, user_id: int, role: str) -> list[Choice]:
    """Every enabled rule on every email channel: what reaches this user's own mail."""
    mine = session.exec(select(AlertPreference).where(AlertPreference.user_id == user_id)).all()
    own = {(p.rule_id, p.channel_id): p.enabled for p in mine}
    mails = session.exec(
        select(AlertChannel).where(AlertChannel.kind == "email", col(AlertChannel.enabled))
    ).all()
    rules = session.exec(select(AlertRule).where(col(AlertRule.enabled)).order_by(col(AlertRule.id))).all()
    return [
        Choice(rule_id=r.id or 0, rule=r.name, kind=r.kind, channel_id=c.id or 0, channel=c.name,
               enabled=own.get((r.id or 0, c.id or 0), role in (r.roles or [])))
        for r in rules for c in mails
    ]  # fmt: skip


def choose(session: Session, user_id: int, rule_id: int, channel_id: int, enabled: bool) -> None:
    _rule(session, rule_id)
    _check_channels(session, [channel_id])
    stmt = select(AlertPreference).where(
        AlertPreference.user_id == user_id,
        AlertPreference.rule_id == rule_id,
        AlertPreference.channel_id == channel_id,
    )
    choice = session.exec(stmt).first() or AlertPreference(
        user_id=user_id, rule_id=rule_id, channel_id=channel_id
    )
    choice.enabled = enabled
    session.add(choice)
    session.commit()

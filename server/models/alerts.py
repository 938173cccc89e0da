"""Alerts to chat groups and mail: channels, rules, episodes, the durable outbox and its attempts.

A channel's secrets (the robot's webhook URL with its token, a signing secret, an SMTP password) are kept
only encrypted in `secret_box` (server/domain/secretbox.py) and never shown again; `settings` holds what
may be shown (mail host, port, addresses). docs/alerts.md describes the whole flow.
"""

from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

ChannelKind = Literal["wecom", "dingtalk", "feishu", "email", "webhook"]
RuleKind = Literal[
    "machine_down", "order_at_risk", "order_late", "nc_opened", "spc_violation",
    "inspection_overdue", "edge_offline", "data_loss", "scrap_rate", "daily_brief",
]  # fmt: skip


class AlertChannel(SQLModel, table=True):
    __tablename__ = "alert_channel"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=16)  # ChannelKind
    settings: Any = Field(default=None, sa_column=Column(JSON))  # shown: mail host, port, mode, addresses
    secret_box: str = Field(default="", sa_type=Text)  # encrypted JSON of the secrets, never shown
    lang: str = Field(default="zh_CN", max_length=8)  # the language of its messages
    enabled: bool = True
    failures: int = 0  # messages given up on in a row (a success resets it)
    last_error: str | None = Field(default=None, max_length=500)
    last_error_ms: int | None = Field(default=None, sa_type=BigInteger)
    created_ms: int = Field(default=0, sa_type=BigInteger)


class AlertRule(SQLModel, table=True):
    __tablename__ = "alert_rule"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=32)  # RuleKind
    threshold: float | None = None  # minutes (machine_down, edge_offline) or a fraction (scrap_rate)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    machine_id: int | None = Field(default=None, foreign_key="machine.id")
    channel_ids: Any = Field(default=None, sa_column=Column(JSON))  # list[int]
    roles: Any = Field(default=None, sa_column=Column(JSON))  # list[str]: users with a personal address
    quiet_from: str | None = Field(default=None, max_length=5)  # "22:00", the site's local time
    quiet_to: str | None = Field(default=None, max_length=5)  # "06:30"
    escalate_after_min: float | None = None  # still open after this long: escalate
    escalate_channel_ids: Any = Field(default=None, sa_column=Column(JSON))  # list[int] (the boss's)
    enabled: bool = True


class AlertEpisode(SQLModel, table=True):
    """One stretch of a rule's condition holding for one subject (a machine, an order, an edge...)."""

    __tablename__ = "alert_episode"
    __table_args__ = (Index("ix_alert_episode_rule_open", "rule_id", "resolved_ms"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alert_rule.id")
    subject: str = Field(max_length=100)  # "machine:M1", "order:WO-7"
    label: str = Field(max_length=200)  # what the message names
    value: float | None = None
    opened_ms: int = Field(sa_type=BigInteger)
    resolved_ms: int | None = Field(default=None, sa_type=BigInteger)
    escalated_ms: int | None = Field(default=None, sa_type=BigInteger)


class AlertMessage(SQLModel, table=True):
    """The outbox: one message for one channel (or one user's mail), written in the transaction that
    decided it; a sender holding its lease delivers it (server/notify/sender.py)."""

    __tablename__ = "alert_message"
    __table_args__ = (Index("ix_alert_message_due", "state", "not_before_ms"),)
    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="alert_channel.id", index=True)
    to_address: str | None = Field(default=None, max_length=200)  # a user's own mail, else the channel's
    purpose: str = Field(max_length=16)  # opened | resolved | escalated | test | brief
    title: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_ms: int = Field(sa_type=BigInteger)
    not_before_ms: int = Field(sa_type=BigInteger)  # next try (backoff, quiet hours)
    state: str = Field(default="pending", max_length=16)  # pending | sent | failed (given up)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until_ms: int | None = Field(default=None, sa_type=BigInteger)
    sent_ms: int | None = Field(default=None, sa_type=BigInteger)


class AlertAttempt(SQLModel, table=True):
    """One try to deliver a message and what the provider answered."""

    __tablename__ = "alert_attempt"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="alert_message.id", index=True)
    at_ms: int = Field(sa_type=BigInteger)
    ok: bool
    status: int | None = None  # HTTP status or SMTP code
    answer: str = Field(default="", max_length=500)


class AlertLease(SQLModel, table=True):
    """Who runs the rule evaluator: one replica at a time, until `until_ms` unless renewed."""

    __tablename__ = "alert_lease"
    name: str = Field(max_length=32, primary_key=True)
    owner: str = Field(max_length=100)
    until_ms: int = Field(sa_type=BigInteger)


class AlertPreference(SQLModel, table=True):
    """A user's choice: this rule, on this channel, reaches me or not (no row: the rule's routing)."""

    __tablename__ = "alert_preference"
    __table_args__ = (UniqueConstraint("user_id", "rule_id", "channel_id", name="uq_alert_preference"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    rule_id: int = Field(foreign_key="alert_rule.id")
    channel_id: int = Field(foreign_key="alert_channel.id")
    enabled: bool = True


class AlertContact(SQLModel, table=True):
    """A user's own address for alerts (their mail) and the language they read."""

    __tablename__ = "alert_contact"
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    email: str | None = Field(default=None, max_length=200)
    lang: str = Field(default="zh_CN", max_length=8)

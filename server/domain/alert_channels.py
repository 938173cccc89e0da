"""Alert channels: create, list, change, delete; their secrets sealed (server/domain/secretbox.py) and never
shown again: the public view says only that a secret is set and which host the webhook goes to."""

import urllib.parse
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from server.core.errors import Conflict, InvalidInput, Msgid, NotFound
from server.domain import secretbox
from server.models.alerts import AlertChannel, AlertMessage
from server.models.types import now_ms

HTTP_KINDS = frozenset({"wecom", "dingtalk", "feishu", "webhook"})


class ChannelIn(BaseModel):
    """A channel as an admin enters it. `url` is the robot's webhook URL exactly as its app shows it."""

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["wecom", "dingtalk", "feishu", "email", "webhook"]
    lang: Literal["zh_CN", "en"] = "zh_CN"
    enabled: bool = True
    url: str | None = Field(default=None, max_length=1000)
    secret: str | None = Field(default=None, max_length=500)  # DingTalk/Feishu signing, webhook HMAC
    smtp_host: str | None = Field(default=None, max_length=200)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_mode: Literal["starttls", "ssl", "insecure"] = "starttls"
    smtp_user: str | None = Field(default=None, max_length=200)
    smtp_password: str | None = Field(default=None, max_length=500)
    email_from: str | None = Field(default=None, max_length=200)
    email_to: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _complete(self) -> "ChannelIn":
        if self.kind in HTTP_KINDS and self.url is not None:
            parsed = urllib.parse.urlsplit(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("url must be an http(s) URL")
        if self.kind == "email" and self.smtp_host is not None and not (self.email_from and self.email_to):
            raise ValueError("an email channel needs email_from and at least one email_to")
        return self


class ChannelPublic(BaseModel):
    id: int
    name: str
    kind: str
    lang: str
    enabled: bool
    url_host: str | None  # where its webhook goes; the URL itself (it holds the token) is never shown
    has_secret: bool
    settings: dict[str, Any]
    failures: int
    last_error: str | None
    last_error_ms: int | None
    pending: int  # messages not yet delivered


_SECRET_FIELDS = ("url", "secret", "smtp_password")
_SHOWN_FIELDS = ("smtp_host", "smtp_port", "smtp_mode", "smtp_user", "email_from", "email_to")


def _get(session: Session, channel_id: int) -> AlertChannel:
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Channel"), key=channel_id)
    return channel


def _apply(channel: AlertChannel, data: ChannelIn, secret_key: str) -> None:
    """Write `data` into `channel`; a secret left empty keeps the stored one (it is never sent back)."""
    secrets = secretbox.open_box(secret_key, channel.secret_box) if channel.secret_box else {}
    for name in _SECRET_FIELDS:
        value = getattr(data, name)
        if value:
            secrets[name] = value
    if data.kind in HTTP_KINDS and not secrets.get("url"):
        raise InvalidInput("a %(kind)s channel needs its webhook URL", kind=data.kind)
    if data.kind == "email" and not (data.smtp_host and data.email_from and data.email_to):
        raise InvalidInput("an email channel needs its SMTP host, a sender and at least one recipient")
    channel.name, channel.kind, channel.lang, channel.enabled = data.name, data.kind, data.lang, data.enabled
    channel.settings = {name: getattr(data, name) for name in _SHOWN_FIELDS} if data.kind == "email" else {}
    channel.secret_box = secretbox.seal(secret_key, secrets)


def create(session: Session, data: ChannelIn, secret_key: str) -> ChannelPublic:
    if session.exec(select(AlertChannel).where(AlertChannel.name == data.name)).first() is not None:
        raise Conflict("a channel named %(name)s exists already", name=data.name)
    channel = AlertChannel(name=data.name, kind=data.kind, created_ms=now_ms())
    _apply(channel, data, secret_key)
    session.add(channel)
    session.commit()
    return public(session, channel, secret_key)


def update(session: Session, channel_id: int, data: ChannelIn, secret_key: str) -> ChannelPublic:
    channel = _get(session, channel_id)
    if data.kind != channel.kind:
        raise InvalidInput("a channel's kind cannot change; make a new channel")
    _apply(channel, data, secret_key)
    channel.failures, channel.last_error = 0, None  # a corrected channel gets its chance again
    session.add(channel)
    session.commit()
    return public(session, channel, secret_key)


def delete(session: Session, channel_id: int) -> None:
    channel = _get(session, channel_id)
    if session.exec(select(AlertMessage.id).where(AlertMessage.channel_id == channel_id)).first():
        channel.enabled = False  # its delivery history stays; it sends nothing more
        session.add(channel)
    else:
        session.delete(channel)
    session.commit()


def public(session: Session, channel: AlertChannel, secret_key: str) -> ChannelPublic:
    assert channel.id is not None
    try:
        secrets = secretbox.open_box(secret_key, channel.secret_box)
    except Exception:  # sealed under another key: shown as having no usable secret
        secrets = {}
    pending = session.exec(
        select(AlertMessage.id).where(AlertMessage.channel_id == channel.id, AlertMessage.state == "pending")
    ).all()
    url = secrets.get("url")
    return ChannelPublic(
        id=channel.id, name=channel.name, kind=channel.kind, lang=channel.lang, enabled=channel.enabled,
        url_host=urllib.parse.urlsplit(url).hostname if url else None,
        has_secret=bool(secrets.get("secret") or secrets.get("smtp_password")),
        settings=dict(channel.settings or {}), failures=channel.failures, last_error=channel.last_error,
        last_error_ms=channel.last_error_ms, pending=len(pending),
    )  # fmt: skip


def list_channels(session: Session, secret_key: str) -> list[ChannelPublic]:
    rows = session.exec(select(AlertChannel).order_by(AlertChannel.name)).all()
    return [public(session, row, secret_key) for row in rows]


def get_channel(session: Session, channel_id: int) -> AlertChannel:
    return _get(session, channel_id)

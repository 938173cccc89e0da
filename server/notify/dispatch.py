"""Send one outbox message through its channel: open the channel's sealed secrets, call its provider."""

from server.core.errors import ConfigError
from server.domain import secretbox
from server.models.alerts import AlertChannel, AlertMessage
from server.notify import providers
from server.notify.providers import Answer, Outgoing, Smtp


def send(channel: AlertChannel, message: AlertMessage, secret_key: str) -> Answer:
    try:
        secrets = secretbox.open_box(secret_key, channel.secret_box)
    except ConfigError as err:
        return Answer(False, None, err.message)
    outgoing = Outgoing(message.title, message.body, message.id or 0)
    url, secret = secrets.get("url", ""), secrets.get("secret", "")
    if channel.kind == "wecom":
        return providers.send_wecom(url, outgoing)
    if channel.kind == "dingtalk":
        return providers.send_dingtalk(url, secret, outgoing)
    if channel.kind == "feishu":
        return providers.send_feishu(url, secret, outgoing)
    if channel.kind == "webhook":
        return providers.send_webhook(url, secret, outgoing)
    if channel.kind == "email":
        return providers.send_email(_smtp(channel, message, secrets), outgoing)
    return Answer(False, None, f"unknown channel kind {channel.kind!r}")


def _smtp(channel: AlertChannel, message: AlertMessage, secrets: dict[str, str]) -> Smtp:
    shown = channel.settings or {}
    mode = str(shown.get("smtp_mode") or "starttls")
    port = int(shown.get("smtp_port") or {"ssl": 465, "starttls": 587}.get(mode, 25))
    to = [message.to_address] if message.to_address else [str(a) for a in shown.get("email_to") or []]
    return Smtp(
        host=str(shown.get("smtp_host") or ""), port=port, mode=mode,
        sender=str(shown.get("email_from") or ""), to=to, user=str(shown.get("smtp_user") or ""),
        password=secrets.get("smtp_password", ""),
    )  # fmt: skip

"""One request per provider, exactly as each provider documents it; each returns the provider's `Answer`.

- WeCom group robot (企业微信群机器人): POST the robot's webhook URL (`.../cgi-bin/webhook/send?key=KEY`) with
  `{"msgtype": "markdown", "markdown": {"content": ...}}`; success is `{"errcode": 0}`.
- DingTalk custom robot (钉钉自定义机器人, signed): the webhook URL (`.../robot/send?access_token=T`) plus the
  query parameters `timestamp` (ms) and `sign` = URL-encoded base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}")); body `{"msgtype": "markdown", "markdown": {"title", "text"}}`;
  success is `{"errcode": 0}`.
- Feishu/Lark custom bot (飞书自定义机器人, signed): POST the hook URL with `{"timestamp": "<s>", "sign":
  base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")), "msg_type": "text", "content": {"text"}}`;
  success is `{"code": 0}` (older bots: `{"StatusCode": 0}`).
- Generic webhook: POST JSON; `X-Takt-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, the message's
  id in `X-Takt-Delivery` (a receiver drops a repeat by it); success is any 2xx.
- Email: apprise's SMTP plugin (STARTTLS, SSL or plain), its log captured as the answer.

Why not apprise for the chat robots: its WeCom and DingTalk plugins take any HTTP 200 as delivered, but these
providers answer a bad key or signature with HTTP 200 and a non-zero `errcode` (DingTalk 310000, WeCom
93000), so a lost alert would be counted as sent; its Feishu plugin cannot sign. The URLs come from the
channel (whatever the provider's app shows, or a private deployment's), so tests point them at loopback.
"""

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apprise
import httpx
from apprise.plugins.email import NotifyEmail

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_sending = threading.local()


class _HideAlertUrls(logging.Filter):
    """httpx logs every request's URL at INFO; a robot's URL holds its key, so our requests' lines go."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_sending, "active", False)


logging.getLogger("httpx").addFilter(_HideAlertUrls())


@dataclass(frozen=True)
class Answer:
    ok: bool
    status: int | None  # HTTP status; None when nothing answered
    text: str  # the provider's answer (truncated), or what went wrong


@dataclass(frozen=True)
class Outgoing:
    """A message: `body` is markdown-lite (lines, `[label](url)` links); `delivery` is its outbox id."""

    title: str
    body: str
    delivery: int = 0


def plain(body: str) -> str:
    """`[label](url)` as `label url` for providers that show text only (URLs become clickable there)."""
    return _LINK.sub(r"\1 \2", body)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str], judge: Callable[[httpx.Response], bool]) -> Answer:
    _sending.active = True
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as err:
        return Answer(False, None, type(err).__name__)  # its text names the URL: the key stays out
    finally:
        _sending.active = False
    try:
        ok = judge(response)
    except ValueError:  # not JSON
        ok = False
    return Answer(ok, response.status_code, response.text[:500])


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8"}


def _errcode_zero(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json().get("errcode") == 0


def _feishu_ok(response: httpx.Response) -> bool:
    data = response.json()
    return response.status_code == 200 and (data.get("code") == 0 or data.get("StatusCode") == 0)


def send_wecom(url: str, message: Outgoing) -> Answer:
    content = f"**{message.title}**\n{message.body}"
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    return _post(url, _dumps(body), _json_headers(), _errcode_zero)


def send_dingtalk(url: str, secret: str, message: Outgoing) -> Answer:
    body = {
        "msgtype": "markdown",
        "markdown": {"title": message.title, "text": f"#### {message.title}\n{message.body}"},
    }
    if secret:
        timestamp = int(time.time() * 1000)
        glue = "&" if "?" in url else "?"
        url = f"{url}{glue}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    return _post(url, _dumps(body), _json_headers(), _errcode_zero)


def send_feishu(url: str, secret: str, message: Outgoing) -> Answer:
    body: dict[str, Any] = {
        "msg_type": "text",
        "content": {"text": f"{message.title}\n{plain(message.body)}"},
    }
    if secret:
        timestamp = int(time.time())
        body = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **body}
    return _post(url, _dumps(body), _json_headers(), _feishu_ok)


def send_webhook(url: str, secret: str, message: Outgoing) -> Answer:
    raw = _dumps({"id": message.delivery, "title": message.title, "text": message.body})
    headers = {**_json_headers(), "X-Takt-Delivery": str(message.delivery)}
    if secret:
        headers["X-Takt-Signature"] = webhook_signature(secret, raw)
    return _post(url, raw, headers, lambda response: response.is_success)


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    mode: str  # starttls | ssl | insecure
    sender: str
    to: list[str]
    user: str = ""
    password: str = ""


def send_email(smtp: Smtp, message: Outgoing) -> Answer:
    """Through apprise's SMTP plugin; its log (never the password: apprise does not log it) is the answer."""
    notifier = NotifyEmail(  # type: ignore[no-untyped-call]
        host=smtp.host, smtp_host=smtp.host, port=smtp.port, secure=smtp.mode != "insecure",
        secure_mode=smtp.mode, user=smtp.user or None, password=smtp.password or None,
        from_addr=smtp.sender, targets=smtp.to,
    )  # fmt: skip
    with apprise.LogCapture(level=logging.INFO) as captured:  # type: ignore[no-untyped-call]
        ok = bool(notifier.notify(body=plain(message.body), title=message.title))
    text = captured.getvalue().strip().splitlines()  # type: ignore[union-attr]
    return Answer(ok, 250 if ok else None, (text[-1] if text else "")[:500])


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()

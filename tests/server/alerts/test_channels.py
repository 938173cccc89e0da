"""Each channel's request checked against its provider's documentation, at a receiver on loopback.

WeCom, DingTalk and Feishu live on the internet, which these tests must not reach: the receivers
(tests/support/receivers.py) stand in for them, record the request as it arrived and answer as the provider
documents. The checks below recompute every signature from the documented algorithm independently of the
server's code. Email goes to a real SMTP server (aiosmtpd) over STARTTLS and over implicit TLS.
"""

import base64
import hashlib
import hmac
import json
import logging
import ssl
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.server.alerts.support import make_channel, send_test
from tests.support.receivers import HttpReceiver, MailReceiver, Received
from tests.support.tls import Pki

TITLE_EN = "Takt test message"
BODY_EN = "This channel works: alerts will arrive here."


@pytest.fixture
def receiver() -> Any:
    r = HttpReceiver().start()
    yield r
    r.stop()


def test_wecom_group_robot(alert_client: TestClient, receiver: HttpReceiver) -> None:
    """企业微信群机器人: POST .../webhook/send?key=KEY, {"msgtype": "markdown", "markdown": {"content"}}."""
    url = receiver.url("/cgi-bin/webhook/send?key=wecom-key-6f1c")
    channel = make_channel(alert_client, name="floor group", kind="wecom", url=url)
    message = send_test(alert_client, channel["id"])
    assert message["state"] == "sent"
    [got] = receiver.received()
    assert got.path == "/cgi-bin/webhook/send" and got.query == {"key": ["wecom-key-6f1c"]}
    assert got.headers["content-type"].startswith("application/json")
    assert got.json() == {"msgtype": "markdown", "markdown": {"content": f"**{TITLE_EN}**\n{BODY_EN}"}}
    assert message["tries"][0]["ok"] and json.loads(message["tries"][0]["answer"]) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    shown = alert_client.get("/api/v1/alerts/channels").text
    assert "wecom-key-6f1c" not in shown and "127.0.0.1" in shown  # the host, never the key


def _dingtalk_sign_ok(got: Received, secret: str) -> bool:
    """DingTalk's check: sign = urlEncode(base64(HmacSHA256(secret, timestamp + "\\n" + secret)))."""
    raw = dict(pair.split("=", 1) for pair in got.raw_query.split("&"))
    timestamp = raw["timestamp"]
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.unquote_plus(raw["sign"]) == base64.b64encode(mac).decode() and timestamp.isdigit()


def test_dingtalk_signed_robot(
    alert_client: TestClient, receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """钉钉自定义机器人 (加签): access_token, timestamp (ms) and the URL-encoded sign as query parameters."""
    secret = "SECdingtalk0a1b2c3d4e5f"
    url = receiver.url("/robot/send?access_token=ding-token-77")
    channel = make_channel(alert_client, name="boss group", kind="dingtalk", url=url, secret=secret)
    with caplog.at_level(logging.DEBUG):
        message = send_test(alert_client, channel["id"])
    assert message["state"] == "sent"
    [got] = receiver.received()
    assert got.path == "/robot/send" and set(got.query) == {"access_token", "timestamp", "sign"}
    assert got.query["access_token"] == ["ding-token-77"] and len(got.query["timestamp"][0]) == 13  # ms
    assert _dingtalk_sign_ok(got, secret)
    assert got.json() == {"msgtype": "markdown",
                          "markdown": {"title": TITLE_EN, "text": f"#### {TITLE_EN}\n{BODY_EN}"}}  # fmt: skip
    assert secret not in caplog.text and "ding-token-77" not in caplog.text
    assert secret not in alert_client.get("/api/v1/alerts/channels").text


def test_dingtalk_refusal_is_not_delivery(alert_client: TestClient) -> None:
    """DingTalk answers a bad signature with HTTP 200 and errcode 310000: not sent; retried, then given up,
    and the channel shows the provider's answer."""
    refused = {"errcode": 310000, "errmsg": "sign not match"}
    receiver = HttpReceiver(answer=lambda _r: (200, refused)).start()
    try:
        url = receiver.url("/robot/send?access_token=t")
        channel = make_channel(alert_client, name="bad sign", kind="dingtalk", url=url, secret="wrong")
        message = send_test(alert_client, channel["id"])
    finally:
        receiver.stop()
    assert message["state"] == "failed" and message["attempts"] == 3  # alert_max_attempts in the fixture
    assert [t["ok"] for t in message["tries"]] == [False, False, False]
    assert "310000" in message["tries"][-1]["answer"]
    [shown] = alert_client.get("/api/v1/alerts/channels").json()
    assert shown["failures"] == 1 and "sign not match" in shown["last_error"]


def test_feishu_signed_bot(alert_client: TestClient, receiver: HttpReceiver) -> None:
    """飞书自定义机器人 (签名校验): timestamp (s) and sign in the JSON body, sign = base64(HmacSHA256
    keyed with timestamp + "\\n" + secret over an empty message); msg_type text."""
    secret = "feishu-secret-9Qx"
    receiver.answer = lambda _r: (200, {"code": 0, "msg": "success", "data": {}})
    url = receiver.url("/open-apis/bot/v2/hook/5d1c-hook")
    channel = make_channel(alert_client, name="feishu", kind="feishu", url=url, secret=secret)
    message = send_test(alert_client, channel["id"])
    assert message["state"] == "sent"
    [got] = receiver.received()
    body = got.json()
    assert got.path == "/open-apis/bot/v2/hook/5d1c-hook" and got.query == {}
    assert set(body) == {"timestamp", "sign", "msg_type", "content"}
    assert body["msg_type"] == "text" and body["content"] == {"text": f"{TITLE_EN}\n{BODY_EN}"}
    assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10  # seconds
    mac = hmac.new(f"{body['timestamp']}\n{secret}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(mac).decode()


def test_generic_webhook_hmac(alert_client: TestClient, receiver: HttpReceiver) -> None:
    """X-Takt-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>, X-Takt-Delivery: the message id."""
    receiver.answer = lambda _r: (204, {})
    secret = "erp-shared-secret"
    channel = make_channel(
        alert_client, name="erp", kind="webhook", url=receiver.url("/hooks/takt"), secret=secret
    )
    message = send_test(alert_client, channel["id"])
    assert message["state"] == "sent"
    [got] = receiver.received()
    expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-takt-signature"] == expected
    assert got.headers["x-takt-delivery"] == str(message["id"])
    assert got.json() == {"id": message["id"], "title": TITLE_EN, "text": BODY_EN}


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """A CA the SMTP client trusts (OpenSSL reads SSL_CERT_FILE when a default context is made)."""
    found = Pki(tmp_path / "pki")
    monkeypatch.setenv("SSL_CERT_FILE", str(found.ca_cert))
    return found


def _server_context(pki: Pki) -> ssl.SSLContext:
    files = pki.server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    return context


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_over_tls(alert_client: TestClient, pki: Pki, mode: str) -> None:
    """A real SMTP server on loopback takes the mail over STARTTLS or implicit TLS, certificate verified."""
    context = _server_context(pki)
    kwargs = {"starttls": context} if mode == "starttls" else {"implicit": context}
    with MailReceiver(**kwargs) as mail:  # type: ignore[arg-type]
        channel = make_channel(
            alert_client, name=f"mail {mode}", kind="email", smtp_host="127.0.0.1", smtp_port=mail.port,
            smtp_mode=mode, email_from="takt@factory.example", email_to=["boss@factory.example"],
        )  # fmt: skip
        message = send_test(alert_client, channel["id"])
        assert message["state"] == "sent", message
        [(envelope, mail_message)] = mail.messages
    assert envelope.rcpt_tos == ["boss@factory.example"] and envelope.mail_from == "takt@factory.example"
    assert mail_message["Subject"] == TITLE_EN
    payload = mail_message.get_payload(decode=True) if not mail_message.is_multipart() else None
    text = payload.decode() if isinstance(payload, bytes) else str(mail_message)
    assert BODY_EN in text


def test_bad_input_is_refused_and_nothing_saved(alert_client: TestClient) -> None:
    """Unknown channels, lines, machines and rules, a bad clock, a channel without its URL: 4xx, not 500."""
    api = "/api/v1/alerts"
    assert alert_client.post(f"{api}/channels", json={"name": "x", "kind": "wecom"}).status_code == 422
    assert (
        alert_client.post(
            f"{api}/channels", json={"name": "x", "kind": "wecom", "url": "ftp://h/x"}
        ).status_code
        == 422
    )
    for bad in ({"channel_ids": [999]}, {"line_id": 999}, {"machine_id": 999}, {"quiet_from": "24:00"}):
        answer = alert_client.post(f"{api}/rules", json={"name": "r", "kind": "machine_down", **bad})
        assert answer.status_code == 422, (bad, answer.text)
    assert alert_client.get(f"{api}/rules").json() == [] and alert_client.get(f"{api}/channels").json() == []
    assert alert_client.post(f"{api}/channels/999/test").status_code == 404
    assert alert_client.put(f"{api}/me/choices/1/1?enabled=true").status_code in (
        403,
        404,
    )  # the admin token: no user

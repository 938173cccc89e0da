"""Helpers of the alert tests: make a channel through the API, send its test message, wait for the outcome."""

from typing import Any

from fastapi.testclient import TestClient

from tests.support.waiting import wait_until


def make_channel(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/alerts/channels", json={"lang": "en", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def settled(client: TestClient, message_id: int) -> dict[str, Any]:
    """The message once it is sent or given up (the sender runs in the app's lifespan)."""

    def done() -> dict[str, Any] | None:
        message: dict[str, Any] = client.get(f"/api/v1/alerts/messages/{message_id}").json()
        return message if message["state"] in ("sent", "failed") else None

    found = wait_until(done, timeout=20, what=f"message {message_id} sent or given up")
    assert found is not None
    return found


def send_test(client: TestClient, channel_id: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/alerts/channels/{channel_id}/test")
    assert response.status_code == 202, response.text
    return settled(client, response.json()["id"])

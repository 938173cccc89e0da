"""Secrets at rest: a channel's webhook URL, signing secret and SMTP password are stored encrypted with a key
derived from `TAKT_SECRET_KEY` (Fernet: AES-128-CBC + HMAC-SHA256). Changing that key makes the stored
secrets unreadable: the channels then say so and must be entered again (in demo mode the key is random
per start unless set)."""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken

from server.core.errors import ConfigError

_PURPOSE = b"takt/alert-channel-secrets/v1:"


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(_PURPOSE + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret_key: str, secrets: dict[str, str]) -> str:
    return _fernet(secret_key).encrypt(json.dumps(secrets).encode()).decode()


def open_box(secret_key: str, box: str) -> dict[str, str]:
    """The secrets sealed in `box`; ConfigError when they were sealed with another key."""
    if not box:
        return {}
    try:
        data = json.loads(_fernet(secret_key).decrypt(box.encode()))
    except InvalidToken as err:
        raise ConfigError("the channel's secrets were stored under another TAKT_SECRET_KEY") from err
    return {str(k): str(v) for k, v in data.items()}

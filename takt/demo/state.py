"""The demo's folder (`./var` by default): database, logs, edge outbox, broker and simulator state, and
`demo.json` with the demo's own secrets (server key, tablet and share-link tokens: only their hashes are in
the database, and the demo prints the links again on every start)."""

import json
import logging
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from takt.demo.errors import DemoError

log = logging.getLogger(__name__)
OURS = (
    "takt.db",
    "takt.db-wal",
    "takt.db-shm",
    "logs",
    "edge",
    "broker",
    "sim",
    "demo.json",
    "demo-status.json",
)


@dataclass
class DemoSecretsFile:
    secret_key: str
    share_token: str
    tablet_tokens: dict[str, str]


class DataDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "takt.db"
        self.logs = root / "logs"
        self.edge = root / "edge"
        self.broker = root / "broker"
        self.sim = root / "sim"
        self.secrets_file = root / "demo.json"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.db}"

    def prepare(self, reset: bool) -> None:
        if reset:
            self.reset()
        for folder in (self.root, self.logs, self.edge, self.broker, self.sim):
            folder.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        """Remove what the demo keeps here (only its own files: the folder may hold others)."""
        for name in OURS:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        log.info("demo state in %s removed", self.root)

    def secrets(self, stations: list[str]) -> DemoSecretsFile:
        """The demo's secrets, made on first start and kept (a token per station added when missing)."""
        data: dict[str, Any] = {}
        if self.secrets_file.exists():
            try:
                data = json.loads(self.secrets_file.read_text())
            except (OSError, ValueError) as err:
                raise DemoError(
                    f"{self.secrets_file} is unreadable ({err}); run `takt demo --reset`"
                ) from err
        tablets = dict(data.get("tablet_tokens") or {})
        for code in stations:
            tablets.setdefault(code, secrets.token_urlsafe(32))
        found = DemoSecretsFile(
            secret_key=str(data.get("secret_key") or secrets.token_urlsafe(32)),
            share_token=str(data.get("share_token") or secrets.token_urlsafe(32)),
            tablet_tokens=tablets,
        )
        self.secrets_file.write_text(json.dumps(found.__dict__, indent=2))
        self.secrets_file.chmod(0o600)
        return found

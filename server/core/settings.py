"""The server's one `Settings` object (env prefix `TAKT_`, also read from `.env`).

`check_secrets()` refuses known default secrets outside demo mode; `create_app` and `takt server` call it at
start, so a misconfigured server stops with a clear error instead of running with a guessable token.
"""

import logging
import os
import secrets
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.core.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "admin", "secret", "password", "takt", "default"})


def _client_id() -> str:
    return f"takt-server-{socket.gethostname()}"


class Settings(BaseSettings):
    """Every setting of the server, one flat `TAKT_<NAME>` variable each (docs/server.md lists them)."""

    model_config = SettingsConfigDict(env_prefix="TAKT_", env_file=".env", extra="ignore")

    # --- the server: database, secrets, site
    database_url: str = "sqlite:///./var/takt.db"
    admin_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    demo_mode: bool = False
    site: str = "demo"
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # --- ingestion: MQTT, the inbox, live events across replicas
    mqtt_enabled: bool = True
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls_ca: str | None = None
    mqtt_client_id: str = Field(default_factory=_client_id)
    mqtt_shared: bool = False
    mqtt_max_payload_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)  # larger: dead-lettered undecoded
    ingest_gap_grace_s: float = Field(default=5.0, gt=0)  # a hole in seq held this long: a gap event
    ingest_retry_max_s: float = Field(default=5.0, gt=0)  # database down: retries back off up to this
    ingest_future_skew_s: float = Field(default=300.0, gt=0)  # samples stamped further ahead are held
    ingest_max_lag_s: float = Field(default=60.0, gt=0)  # stuck or behind longer: /healthz, /readyz 503
    # Sparkplug B host application (docs/sparkplug.md): the groups subscribed, none = off
    sparkplug_groups: list[str] = Field(default_factory=list)
    sparkplug_host_id: str = "takt"  # its STATE topic: spBv1.0/STATE/{host_id}
    live_fanout: bool = True  # PostgreSQL: live events reach every replica's pages (LISTEN/NOTIFY)
    live_fanout_url: str | None = None  # its PostgreSQL, if database_url is a transaction-mode pooler

    # --- historian
    historian: Literal["sql", "influxdb", "victoriametrics"] = "sql"
    historian_url: str | None = None
    historian_token: SecretStr | None = None
    historian_org: str | None = None
    historian_bucket: str | None = None
    retention_days: int = Field(default=7, ge=1)  # raw samples (docs/historian.md: why 7)
    rollup_days: int = Field(default=400, ge=1)  # the sql historian's 1-minute rollups

    # --- sign-in: two session kinds, one lifetime each
    session_hours: int = Field(default=12, ge=1)  # a password sign-in to the pages (boss, admin)
    operator_session_hours: int = Field(default=12, ge=1)  # an operator's badge + PIN sign-in on a tablet
    signin_max_failures: int = Field(default=5, ge=1)
    signin_lockout_s: int = Field(default=300, ge=1)
    signin_rate_per_minute: int = Field(default=60, ge=1)  # sign-in attempts per client IP, any account
    signin_rate_burst: int = Field(default=30, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    # addresses of reverse proxies whose X-Forwarded-For/-Proto are believed ("10.0.0.5,10.0.0.6" or "*");
    # unset: believed from nobody, not even loopback (else anyone could pick their address for rate limits)
    forwarded_allow_ips: str | None = None
    api_token_days: int = Field(default=90, ge=1)  # API tokens (scripts, password sign-in) expire after

    # --- work orders and share links
    report_tolerance: float = Field(default=0.05, ge=0.0, le=10.0)
    reopen_hours: float = Field(default=12.0, gt=0, le=24 * 31)  # no shift calendar: how far a reopen reaches
    share_link_days: int = Field(default=30, ge=1)
    enroll_link_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)  # a tablet's one-time enrollment link
    share_rate_per_minute: int = Field(default=120, ge=1)  # per client IP, on every /s/ answer
    share_rate_burst: int = Field(default=60, ge=1)
    share_cache_s: float = Field(default=2.0, ge=0)  # a customer sees progress at most this old
    pay_period_start_day: int = Field(default=1, ge=1, le=28)  # 1: calendar months; 26: the 26th to the 25th

    # --- pages: files, alert thresholds, refresh
    data_dir: Path = Path("./var")  # the factory logo and the work instructions
    alert_down_minutes: float = Field(default=10.0, ge=0)
    alert_scrap_rate: float = Field(default=0.05, ge=0, le=1)
    live_refresh_s: float = Field(default=30.0, gt=0)
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)

    # --- alerts to chat groups and mail (docs/alerts.md)
    alerts_enabled: bool = True  # the outbox sender and the rule evaluator run in this replica
    alert_poll_s: float = Field(default=2.0, gt=0)  # the sender looks for due messages this often
    alert_eval_s: float = Field(default=15.0, gt=0)  # the rules are evaluated this often
    alert_lease_s: float = Field(default=60.0, gt=0)  # a message (or the evaluator) held this long per claim
    alert_retry_base_s: float = Field(default=5.0, gt=0)  # first retry after this, doubling
    alert_retry_max_s: float = Field(default=300.0, gt=0)
    alert_max_attempts: int = Field(default=8, ge=1)  # then the message is given up and the channel flagged
    brief_morning: str | None = Field(
        default="07:30", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$"
    )  # "": none
    brief_at_shift_end: bool = True  # a daily brief at each shift's end too

    @field_validator("site")
    @classmethod
    def _site_code(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "_-" for c in value):
            raise ValueError("site must be a non-empty code of letters, digits, '_' or '-'")
        return value

    def check_secrets(self) -> None:
        """Raise ConfigError for default or missing secrets unless demo mode; fill demo gaps randomly."""
        if self.demo_mode:
            if self.secret_key is None:
                self.secret_key = SecretStr(demo_secret_key(self.data_dir / DEMO_KEY_FILE))
            return
        if self.secret_key is None or _is_default(self.secret_key):
            raise ConfigError(
                "TAKT_SECRET_KEY is missing or a known default; set a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or TAKT_DEMO_MODE=1"
            )
        if self.admin_token is not None and _is_default(self.admin_token):
            raise ConfigError("TAKT_ADMIN_TOKEN is a known default; set a long random value or unset it")
        if self.admin_token is not None and len(self.admin_token.get_secret_value()) < 16:
            raise ConfigError("TAKT_ADMIN_TOKEN is shorter than 16 characters; use a long random value")

    @property
    def instructions_dir(self) -> Path:
        return self.data_dir / "instructions"

    @property
    def logo_path(self) -> Path:
        return self.data_dir / "logo.png"


def _is_default(secret: SecretStr) -> bool:
    return secret.get_secret_value().strip().lower() in DEFAULT_SECRETS


def describe_invalid(err: ValidationError, env_file: Path = Path(".env")) -> str:
    """One line per invalid setting: its variable, where it came from (environment or the .env file's
    path) and the problem, e.g. `TAKT_MQTT_PORT (from /etc/takt/.env): Input should be a valid integer`."""
    env = {key.upper() for key in os.environ}
    in_file = _env_file_keys(env_file)
    lines = []
    for error in err.errors():
        name = "TAKT_" + "_".join(str(part) for part in error["loc"][:1]).upper()
        source = "environment" if name in env else str(env_file.resolve()) if name in in_file else "default"
        lines.append(f"{name} (from {source}): {error['msg']}")
    return "; ".join(lines)


def _env_file_keys(path: Path) -> set[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return set()
    keys = (line.split("=", 1)[0].strip().upper() for line in text.splitlines() if "=" in line)
    return {key.removeprefix("EXPORT ").strip() for key in keys}


@lru_cache
def get_settings() -> Settings:
    return Settings()


DEMO_KEY_FILE = "demo-secret-key"


def demo_secret_key(path: Path) -> str:
    """The demo's secret key, made once and kept in its data dir (0600): what it sealed (alert channels'
    secrets, share links) stays readable after a restart. A data dir it cannot write gets a key per start."""
    try:
        kept = path.read_text().strip()
        if len(kept) >= 32:
            return kept
    except OSError:
        pass
    key = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    except OSError as err:
        log.warning(
            "cannot keep the demo's secret key in %s (%s): sealed secrets are lost at a restart", path, err
        )
    return key

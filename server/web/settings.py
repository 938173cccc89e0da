"""Settings of the pages (env prefix `TAKT_`, also `.env`), kept apart from the server's `Settings` so the
pages can grow without touching it: data folder, factory logo, alert thresholds, share-link rate limit."""

from pathlib import Path

from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    alert_down_minutes: float = Field(default=10.0, ge=0)
    alert_scrap_rate: float = Field(default=0.05, ge=0, le=1)
    share_rate_per_minute: int = Field(default=120, ge=1)
    share_rate_burst: int = Field(default=60, ge=1)
    share_cache_s: float = Field(default=2.0, ge=0)  # a customer sees progress at most this old
    session_hours: int = Field(default=12, ge=1)
    live_refresh_s: float = Field(default=30.0, gt=0)
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)

    @property
    def instructions_dir(self) -> Path:
        return self.data_dir / "instructions"

    @property
    def logo_path(self) -> Path:
        return self.data_dir / "logo.png"


def web_settings(request: Request) -> WebSettings:
    """The app's WebSettings (`app.state.web_settings`, made from the environment on first use)."""
    found = getattr(request.app.state, "web_settings", None)
    if not isinstance(found, WebSettings):
        found = WebSettings()
        request.app.state.web_settings = found
    return found

"""Every setting of the service, read from `STEMDECK_*` environment variables (or a `.env` file).

One object, so the API, the workers and the embedded mode agree on where things live. The
defaults are the embedded single-machine setup: a local data folder, SQLite broker and job store,
no API keys. Compose sets Redis, S3 and keys through the same variables (see `.env.example`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """StemDeck's configuration; each field is `STEMDECK_<NAME>` in the environment."""

    # An empty variable (`STEMDECK_S3_ENDPOINT=` in a compose env file) means "not set".
    model_config = SettingsConfigDict(
        env_prefix="STEMDECK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    data_dir: Path = Field(
        default=Path("stemdeck-data"),
        description="Embedded mode's home: local storage, SQLite broker and job store.",
    )
    storage: Literal["local", "s3"] = "local"
    s3_endpoint: str | None = Field(
        default=None, description="S3 API endpoint the services use (MinIO, moto); None = AWS."
    )
    s3_public_endpoint: str | None = Field(
        default=None,
        description="Endpoint browsers can reach; when set, stem downloads redirect to "
        "presigned URLs on it instead of streaming through the API.",
    )
    presign_seconds: int = Field(
        default=600, ge=1, le=604800, description="Lifetime of presigned stem URLs (s)."
    )
    s3_bucket: str = "stemdeck"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    broker_url: str | None = Field(
        default=None, description="Celery broker; None = SQLite file in data_dir (embedded)."
    )
    job_store: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys; empty = no authentication (embedded default).",
    )
    rate_limit_per_minute: int = Field(default=120, ge=1, description="Requests per key.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    max_upload_mb: float = Field(default=200.0, gt=0)
    max_duration_s: float = Field(default=20 * 60.0, gt=0)
    min_duration_s: float = Field(default=1.0, gt=0)
    job_ttl_hours: float = Field(default=7 * 24.0, gt=0, description="Expiry of jobs and files.")
    cleanup_every_s: float = Field(default=3600.0, gt=0)
    reap_after_s: float = Field(
        default=600.0,
        gt=0,
        description="A running stage whose record has not changed for this long lost its worker "
        "(keep it above the four minutes a task spends retrying a storage outage).",
    )
    reap_every_s: float = Field(default=60.0, gt=0, description="How often the reaper looks.")

    callback_allow_private: bool = Field(
        default=False, description="Allow webhooks to loopback and private addresses."
    )
    callback_secret: SecretStr = Field(
        default=SecretStr("change-me"), description="HMAC key that signs webhook bodies."
    )

    separator_model: str = "default"
    device: str = Field(default="auto", description="Separator device: auto, cpu, cuda.")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def resolved_broker_url(self) -> str:
        """The broker Celery connects to: the configured URL, else SQLite in data_dir."""
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def get_settings() -> Settings:
    """Fresh settings from the environment (tests change variables between calls)."""
    return Settings()

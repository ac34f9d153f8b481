"""The worker's side of configuration, read from its environment.

Provider addresses and secrets live here, never in workflow inputs or histories.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import TASK_QUEUE


class AdapterName(StrEnum):
    OUTBOX = "outbox"
    WEBHOOK = "webhook"


class WorkerConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEY_", extra="ignore")

    adapter: AdapterName = Field(
        default=AdapterName.OUTBOX, description="Which adapter carries every channel."
    )
    outbox_path: Path = Path(".journey/outbox.jsonl")
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    feedback_secret: SecretStr = Field(
        min_length=16, description="Signs feedback links; the store's feedback page verifies them."
    )
    templates_dir: Path | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    task_queue: str = TASK_QUEUE
    max_cached_workflows: int = Field(
        # Journeys sleep for days between steps, so a larger cache buys almost nothing
        # but memory: about 125 KiB per cached journey.
        default=250,
        ge=0,
        description="Journeys kept in the worker's memory between their steps; the rest "
        "are replayed from history when they wake. Bounds the worker's memory.",
    )
    shutdown_grace_seconds: float = Field(
        default=30.0, ge=0, description="How long in-flight sends may finish after SIGTERM."
    )

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> WorkerConfig:
        if self.adapter is AdapterName.WEBHOOK and not (self.webhook_url and self.webhook_secret):
            raise ValueError(
                "JOURNEY_ADAPTER=webhook needs JOURNEY_WEBHOOK_URL and JOURNEY_WEBHOOK_SECRET"
            )
        return self

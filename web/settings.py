"""The service's settings, from its environment like the worker's (JOURNEY_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import TASK_QUEUE

# RFC 9457's advice: a request body limit the API documents.
MAX_BODY_BYTES = 64 * 1024


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEY_", extra="ignore")

    stores_dir: Path = Field(
        description="A directory of store files (`<store>.json`): each store's settings, "
        "plan and API secret, checked when the service starts."
    )
    feedback_secret: SecretStr = Field(
        min_length=16,
        description="Signs and verifies feedback and unsubscribe links: the worker's own.",
    )
    public_url: HttpUrl = Field(
        default=HttpUrl("http://localhost:8000"),
        description="Where customers reach this service: the links in messages point here.",
    )
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024, le=1024 * 1024)
    task_queue: str = TASK_QUEUE
    search_attributes: bool = Field(
        default=False,
        description="Start runs with the search attributes (the namespace must have them).",
    )
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    whatsapp_app_secret: SecretStr | None = Field(
        default=None,
        description="The Meta app's secret: verifies X-Hub-Signature-256 on the WhatsApp "
        "webhook. Unset: the webhook is not served (404).",
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="What you type as the verify token in Meta's dashboard; answered back "
        "with hub.challenge when Meta checks the callback URL.",
    )
    phone_hash_secret: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Keys CustomerPhoneHash, the hash customers' WhatsApp messages find "
        "their journeys by; the starter's setting of the same name indexes them.",
    )

    @model_validator(mode="after")
    def _whatsapp_needs_all_three(self) -> ServiceSettings:
        chosen = {
            "JOURNEY_WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "JOURNEY_WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
            "JOURNEY_PHONE_HASH_SECRET": self.phone_hash_secret,
        }
        missing = [name for name, value in chosen.items() if value is None]
        if self.whatsapp_app_secret is not None and missing:
            raise ValueError(f"the WhatsApp webhook needs {' and '.join(missing)} too")
        return self

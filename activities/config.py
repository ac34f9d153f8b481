"""The worker's side of configuration, read from its environment.

Provider addresses and secrets live here, never in workflow inputs or histories.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from messages.feedback_links import FEEDBACK_PAGE, service_page
from messages.unsubscribe_links import UNSUBSCRIBE_PAGE
from models import TASK_QUEUE, Channel


class AdapterName(StrEnum):
    """Adapters that carry any channel."""

    OUTBOX = "outbox"
    WEBHOOK = "webhook"


class WhatsAppAdapterName(StrEnum):
    CLOUD_API = "cloud_api"
    OUTBOX = "outbox"
    WEBHOOK = "webhook"


class EmailAdapterName(StrEnum):
    RESEND = "resend"
    OUTBOX = "outbox"
    WEBHOOK = "webhook"


class WorkerConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEY_", extra="ignore")

    adapter: AdapterName = Field(
        default=AdapterName.OUTBOX,
        description="Which adapter carries every channel without an override of its own.",
    )
    whatsapp_adapter: WhatsAppAdapterName | None = None
    email_adapter: EmailAdapterName | None = None
    outbox_path: Path = Path(".journey/outbox.jsonl")
    alerts_path: Path | None = Field(
        default=None, description="Store alerts without a webhook; beside the outbox by default."
    )
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    alert_webhook_url: str | None = Field(
        default=None, description="Where store alerts go; defaults to webhook_url."
    )
    whatsapp_api_base: str = "https://graph.facebook.com"
    whatsapp_api_version: str = Field(default="v23.0", pattern=r"^v\d+\.\d+$")
    whatsapp_phone_number_id: str | None = None
    whatsapp_token: SecretStr | None = None
    email_api_base: str = "https://api.resend.com"
    email_api_key: SecretStr | None = None
    email_from: str | None = Field(default=None, description="e.g. 'Loja <pedidos@loja.com.br>'")
    public_url: HttpUrl = Field(
        default=HttpUrl("http://localhost:8000"),
        description="Where customers reach the web service: feedback links go to its "
        "/feedback page and emails' unsubscribe links to its /unsubscribe.",
    )
    unsubscribe_url: str | None = Field(
        default=None,
        description="An opt-out page of the store's own instead of the web service's; "
        "emails link to it with ?token=…",
    )
    unsubscribe_mailto: str | None = Field(
        default=None, description="Mailbox that takes opt-outs by email, e.g. sair@loja.com.br"
    )
    feedback_secret: SecretStr = Field(
        min_length=16,
        description="Signs feedback and unsubscribe links; the store's pages verify them.",
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
    metrics_address: str | None = Field(
        default=None,
        pattern=r"^[^:\s]*:\d{1,5}$",
        description="host:port of the Prometheus endpoint, e.g. 127.0.0.1:9464; unset: none.",
    )
    health_address: str | None = Field(
        default=None,
        pattern=r"^[^:\s]*:\d{1,5}$",
        description="host:port of GET /healthz: 200 while the worker polls; unset: none.",
    )
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def feedback_page(self) -> str:
        """The page feedback links open: the web service's."""
        return service_page(str(self.public_url), FEEDBACK_PAGE)

    @property
    def unsubscribe_page(self) -> str:
        """The page emails' unsubscribe links open and mail providers POST to."""
        return self.unsubscribe_url or service_page(str(self.public_url), UNSUBSCRIBE_PAGE)

    def adapter_for(self, channel: Channel) -> str:
        """The adapter that carries `channel`: its own override, else JOURNEY_ADAPTER."""
        override = self.whatsapp_adapter if channel is Channel.WHATSAPP else self.email_adapter
        return str(override or self.adapter)

    @model_validator(mode="after")
    def _chosen_adapters_have_their_settings(self) -> WorkerConfig:
        """Fail at start, naming what is missing, rather than at the first send."""
        problems = []
        if any(self.adapter_for(c) == AdapterName.WEBHOOK for c in Channel) and not (
            self.webhook_url and self.webhook_secret
        ):
            chooser = (
                "JOURNEY_ADAPTER"
                if self.adapter is AdapterName.WEBHOOK
                else " and ".join(
                    f"JOURNEY_{c.upper()}_ADAPTER"
                    for c in Channel
                    if self.adapter_for(c) == AdapterName.WEBHOOK
                )
            )
            problems.append(
                f"{chooser}=webhook needs JOURNEY_WEBHOOK_URL and JOURNEY_WEBHOOK_SECRET"
            )
        required = {
            WhatsAppAdapterName.CLOUD_API: (
                "JOURNEY_WHATSAPP_ADAPTER=cloud_api",
                {
                    "JOURNEY_WHATSAPP_PHONE_NUMBER_ID": self.whatsapp_phone_number_id,
                    "JOURNEY_WHATSAPP_TOKEN": self.whatsapp_token,
                },
            ),
            EmailAdapterName.RESEND: (
                "JOURNEY_EMAIL_ADAPTER=resend",
                {
                    "JOURNEY_EMAIL_API_KEY": self.email_api_key,
                    "JOURNEY_EMAIL_FROM": self.email_from,
                    "JOURNEY_UNSUBSCRIBE_MAILTO": self.unsubscribe_mailto,
                },
            ),
        }
        for chosen in (self.whatsapp_adapter, self.email_adapter):
            if chosen in required:
                assert chosen is not None
                name, needed = required[chosen]
                missing = [variable for variable, value in needed.items() if not value]
                if missing:
                    problems.append(f"{name} needs {', '.join(missing)}")
        # Mail providers POST one-click unsubscribes (RFC 8058) to https links only.
        if self.unsubscribe_url and not self.unsubscribe_url.startswith("https://"):
            problems.append("JOURNEY_UNSUBSCRIBE_URL: must be an https:// URL")
        elif (
            self.email_adapter is EmailAdapterName.RESEND
            and not self.unsubscribe_url
            and self.public_url.scheme != "https"
        ):
            problems.append(
                "JOURNEY_EMAIL_ADAPTER=resend needs an https:// JOURNEY_PUBLIC_URL (emails' "
                "one-click unsubscribe link), or an https:// JOURNEY_UNSUBSCRIBE_URL"
            )
        if self.alert_webhook_url and not self.webhook_secret:
            problems.append("JOURNEY_ALERT_WEBHOOK_URL needs JOURNEY_WEBHOOK_SECRET to sign alerts")
        if problems:
            raise ValueError("\n".join(problems))
        return self

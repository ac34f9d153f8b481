"""The service's settings, from its environment like the worker's (JOURNEY_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import TASK_QUEUE

# RFC 9457's advice: a request body limit the API documents.
MAX_BODY_BYTES = 64 * 1024


MIN_OPERATOR_TOKEN = 32


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
    operator_tokens: SecretStr | None = Field(
        default=None,
        description="Comma-separated tokens (32+ characters each) that let operators use "
        "the codec endpoints: the Web UI's decoded view of journeys. Unset: the codec is off.",
    )
    ui_origins: str = Field(
        default="http://localhost:8233",
        description="Comma-separated origins of the Temporal Web UI, the only pages allowed "
        "to call the codec endpoints from a browser (CORS).",
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

    @field_validator("operator_tokens")
    @classmethod
    def _long_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            tokens = [t.strip() for t in value.get_secret_value().split(",") if t.strip()]
            if not tokens:
                raise ValueError("is empty; unset it to turn the codec off")
            short = [n for n, t in enumerate(tokens, 1) if len(t) < MIN_OPERATOR_TOKEN]
            if short:
                raise ValueError(
                    f"token {short[0]} is shorter than {MIN_OPERATOR_TOKEN} characters"
                )
        return value

    @field_validator("ui_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urlsplit(origin)
            if (
                parts.scheme.lower() not in {"http", "https"}
                or not parts.hostname
                or parts.path not in {"", "/"}
                or parts.query
                or parts.fragment
                or parts.username is not None
            ):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://temporal.example.com"
                )
            try:
                parts.port  # noqa: B018 (raises on a port that is not a number)
            except ValueError as err:
                raise ValueError(f"{origin!r}: {err}") from None
        return value

    @property
    def operator_token_list(self) -> list[bytes]:
        if self.operator_tokens is None:
            return []
        text = self.operator_tokens.get_secret_value()
        return [t.strip().encode() for t in text.split(",") if t.strip()]

    @property
    def ui_origin_set(self) -> frozenset[str]:
        """The origins as browsers send them in `Origin`, to compare as strings."""
        return frozenset(_origin(o) for o in self.ui_origins.split(",") if o.strip())


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(text: str) -> str:
    """An origin in the form browsers serialize it: scheme and host in lower case, no
    default port, no trailing slash. As configured, `HTTPS://Temporal.example.com:443/`
    would match no browser's request, and CORS would fail without a word."""
    parts = urlsplit(text.strip())
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    port = "" if parts.port in (None, _DEFAULT_PORTS.get(scheme)) else f":{parts.port}"
    return f"{scheme}://{host}{port}"

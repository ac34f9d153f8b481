"""A store's journey settings: how and when its customers are reached."""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum

from pydantic import Field, HttpUrl, field_validator, model_validator

from models.base import Channel, Strict
from models.order import Locale

MIN_WAIT_AFTER_DELIVERY = timedelta(days=1)
MAX_WAIT_AFTER_DELIVERY = timedelta(days=2)


class MessageCategory(StrEnum):
    """What a message is, in WhatsApp's terms; consent rules depend on it."""

    UTILITY = "utility"  # about the order the customer made: no marketing consent needed
    MARKETING = "marketing"  # invites to buy or promotes the store: needs marketing consent


class WhatsAppTemplate(Strict):
    """An approved WhatsApp message template that carries one of the plan's templates.

    Post-sale messages go outside WhatsApp's 24-hour service window, where only
    approved templates may be sent. The local Jinja2 text stays the preview and the
    text other channels carry.
    """

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    category: MessageCategory | None = Field(
        default=None,
        description="The category the template was approved under. Unset: derived from "
        "the step's purpose (promotional is marketing, anything else utility).",
    )
    parameters: list[str] = Field(
        default_factory=list,
        description="The body's {{1}}, {{2}}, ... in order, each a path into the "
        "template variables, e.g. 'customer.first_name' or 'feedback_url'.",
    )

    @field_validator("parameters")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", path):
                raise ValueError(f"{path!r} is not a variable path such as 'customer.first_name'")
        return value


class SendWindow(Strict):
    """Daily hours, in the customer's local time, in which messages may go out.

    The window is half-open, [start, end), and may not wrap past midnight.
    """

    start: time = time(9, 0)
    end: time = time(20, 0)

    @model_validator(mode="after")
    def _start_before_end(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


class Coupon(Strict):
    code: str = Field(min_length=1, max_length=40)
    benefit: str = Field(min_length=1, max_length=80, description="e.g. '10% off'")


class JourneySettings(Strict):
    store_name: str = Field(min_length=1, max_length=80)
    channel: Channel = Channel.WHATSAPP
    wait_after_delivery: timedelta = MIN_WAIT_AFTER_DELIVERY
    send_window: SendWindow = SendWindow()
    review_url: HttpUrl
    social_handle: str | None = Field(default=None, pattern=r"^@[A-Za-z0-9._]{1,30}$")
    coupon: Coupon | None = None
    feedback_link_ttl: timedelta = timedelta(days=30)
    fallback_channels: list[Channel] = Field(
        default_factory=list,
        description="Tried in order when the customer's channel cannot carry a message "
        "(no address, no consent, unreachable). Empty: no fallback.",
    )
    whatsapp_templates: dict[str, WhatsAppTemplate] = Field(
        default_factory=dict,
        description="Approved WhatsApp templates by plan template name, for the Cloud API.",
    )
    delivery_grace: timedelta = Field(
        default=timedelta(days=2),
        description="How long after the promised date a missing delivery counts as late.",
    )
    delivery_wait_limit: timedelta = Field(
        default=timedelta(days=60),
        description="A journey still without delivery this long after its last event ends.",
    )
    feedback_reminder_after: timedelta | None = Field(
        default=timedelta(days=2),
        description="One reminder this long after the feedback request if no feedback "
        "came; null sends none.",
    )
    low_rating: int = Field(
        default=3, ge=1, le=5, description="A rating at or below this opens a support follow-up."
    )
    store_locale: Locale = Field(default="pt-BR", description="Language of alerts to the store.")

    @field_validator("wait_after_delivery")
    @classmethod
    def _one_to_two_days(cls, value: timedelta) -> timedelta:
        if not MIN_WAIT_AFTER_DELIVERY <= value <= MAX_WAIT_AFTER_DELIVERY:
            raise ValueError(f"must be between 1 and 2 days, got {value}")
        return value

    @field_validator("fallback_channels")
    @classmethod
    def _no_repeats(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("a channel may appear only once")
        return value

    @field_validator("feedback_link_ttl")
    @classmethod
    def _positive_ttl(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

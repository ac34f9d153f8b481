"""A store's journey settings: how and when its customers are reached."""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, HttpUrl, field_validator, model_validator

from models.base import Channel, Name, Strict
from models.durations import within
from models.limits import (
    DELIVERY_GRACE,
    DELIVERY_WAIT_LIMIT,
    FEEDBACK_LINK_TTL,
    FEEDBACK_REMINDER_AFTER,
    MAX_TEMPLATE_PARAMETERS,
    MAX_WHATSAPP_TEMPLATES,
    WAIT_AFTER_DELIVERY,
)
from models.order import Locale

MIN_WAIT_AFTER_DELIVERY, MAX_WAIT_AFTER_DELIVERY = WAIT_AFTER_DELIVERY


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
        max_length=MAX_TEMPLATE_PARAMETERS,
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

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        # The window is read in each customer's own timezone, so an offset here has no
        # meaning (and cannot be compared with a local time).
        if value.tzinfo is not None:
            raise ValueError(
                f"must be a local time such as 09:00, without an offset, got {value.isoformat()}"
            )
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


class Coupon(Strict):
    code: Name = Field(min_length=1, max_length=40)
    benefit: Name = Field(min_length=1, max_length=80, description="e.g. '10% off'")


class JourneySettings(Strict):
    store_name: Name = Field(min_length=1, max_length=80)
    channel: Channel = Channel.WHATSAPP
    wait_after_delivery: Annotated[timedelta, within(WAIT_AFTER_DELIVERY)] = MIN_WAIT_AFTER_DELIVERY
    send_window: SendWindow = SendWindow()
    review_url: HttpUrl
    social_handle: str | None = Field(default=None, pattern=r"^@[A-Za-z0-9._]{1,30}$")
    coupon: Coupon | None = None
    feedback_link_ttl: Annotated[timedelta, within(FEEDBACK_LINK_TTL)] = timedelta(days=30)
    fallback_channels: list[Channel] = Field(
        default_factory=list,
        description="Tried in order when the customer's channel cannot carry a message "
        "(no address, no consent, unreachable). Empty: no fallback.",
    )
    whatsapp_templates: dict[str, WhatsAppTemplate] = Field(
        default_factory=dict,
        max_length=MAX_WHATSAPP_TEMPLATES,
        description="Approved WhatsApp templates by plan template name, for the Cloud API.",
    )
    delivery_grace: Annotated[timedelta, within(DELIVERY_GRACE)] = Field(
        default=timedelta(days=2),
        description="How long after the promised date a missing delivery counts as late.",
    )
    delivery_wait_limit: Annotated[timedelta, within(DELIVERY_WAIT_LIMIT)] = Field(
        default=timedelta(days=60),
        description="A journey still without delivery this long after its last event ends.",
    )
    feedback_reminder_after: Annotated[timedelta, within(FEEDBACK_REMINDER_AFTER)] | None = Field(
        default=timedelta(days=2),
        description="One reminder this long after the feedback request if no feedback "
        "came; null sends none.",
    )
    low_rating: int = Field(
        default=3, ge=1, le=5, description="A rating at or below this opens a support follow-up."
    )
    store_locale: Locale = Field(default="pt-BR", description="Language of alerts to the store.")

    @field_validator("whatsapp_templates")
    @classmethod
    def _template_names(cls, value: dict[str, WhatsAppTemplate]) -> dict[str, WhatsAppTemplate]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9_]{1,60}", name):
                raise ValueError(f"{name[:60]!r} is not a template name such as 'thanks'")
        return value

    @field_validator("fallback_channels")
    @classmethod
    def _no_repeats(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("a channel may appear only once")
        return value

"""What crosses the workflow boundary: journey input, activity requests, results."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field

from models.base import Channel, Strict
from models.order import DeliveredOrder
from models.plan import JourneyPlan, Step, default_plan
from models.settings import JourneySettings

TASK_QUEUE = "post-purchase"

# 1 day of journey time per second of real time: the demo's fast mode.
DEMO_SPEEDUP = 86_400


class JourneyInput(Strict):
    """Everything a run needs. It travels in the workflow input, so a run keeps the
    plan and settings it started with; editing them affects new runs only."""

    order: DeliveredOrder
    settings: JourneySettings
    plan: JourneyPlan = Field(default_factory=default_plan)
    first_send_delay: timedelta = Field(
        default=timedelta(0),
        ge=timedelta(0),
        description="Added to the first send time before it is moved into the send "
        "window. Backfills spread thousands of first sends with it.",
    )
    speedup: int = Field(
        default=1,
        ge=1,
        description="Journey time runs this many times faster than real time. "
        "1 in production; the demo uses 86400 (a day a second).",
    )


class MessageRequest(Strict):
    """One send, as the workflow asks an activity for it."""

    journey_id: str
    step: Step
    order: DeliveredOrder
    settings: JourneySettings
    scheduled_for: AwareDatetime = Field(description="Journey time the step was due.")
    idempotency_key: str
    unreachable: list[Channel] = Field(
        default_factory=list,
        description="Channels earlier steps found unreachable (Receipt.unreachable); "
        "this send skips them.",
    )


class Receipt(Strict):
    """A provider's acknowledgement of one send."""

    channel: Channel = Field(description="The channel that carried the message.")
    adapter: str
    message_id: str
    idempotency_key: str
    duplicate: bool = Field(
        default=False, description="The provider had this key already and sent nothing new."
    )
    route_reason: str | None = Field(
        default=None,
        description="Why this channel carried it, e.g. 'store fallback; whatsapp skipped: "
        "unreachable (RecipientUnreachable)'.",
    )
    unreachable: list[Channel] = Field(
        default_factory=list,
        description="Channels this send found unreachable; later steps should skip them.",
    )


class StepStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"


class StepOutcome(BaseModel):
    step_id: str
    template: str
    status: StepStatus
    scheduled_for: datetime
    sent_at: datetime | None = Field(default=None, description="Journey time of the send.")
    channel: Channel
    message_id: str | None = None
    error_type: str | None = None
    error: str | None = None


class JourneyStatus(StrEnum):
    WAITING = "waiting"
    SENDING = "sending"
    COMPLETED = "completed"
    STOPPED = "stopped"


class JourneyProgress(BaseModel):
    journey_id: str
    status: JourneyStatus
    steps: list[StepOutcome] = Field(default_factory=list)
    next_step: str | None = None
    next_at: datetime | None = Field(default=None, description="Journey time of the next send.")
    stop_reason: str | None = None

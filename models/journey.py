"""What crosses the workflow boundary: journey input, activity requests, results."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from models.base import Channel, Strict
from models.conversation import CustomerReply, Delivery
from models.durations import within
from models.events import Feedback, OrderEvent, Shipment
from models.limits import FIRST_SEND_DELAY, MAX_SPEEDUP, MAX_START_EVENTS
from models.order import Order
from models.plan import JourneyPlan, Step, default_plan
from models.settings import JourneySettings

TASK_QUEUE = "post-purchase"

# 1 day of journey time per second of real time: the demo's fast mode.
DEMO_SPEEDUP = 86_400


class OrderJourneyInput(Strict):
    """The input of an order's journey, whichever event started it. It travels in the
    workflow input, so a run keeps the plan and settings it started with; editing them
    affects new runs only."""

    order: Order
    settings: JourneySettings
    plan: JourneyPlan = Field(default_factory=default_plan)
    events: list[OrderEvent] = Field(
        default_factory=list,
        max_length=MAX_START_EVENTS,
        description="Events known when the journey starts.",
    )
    first_send_delay: Annotated[timedelta, within(FIRST_SEND_DELAY)] = timedelta(0)
    speedup: int = Field(default=1, ge=1, le=MAX_SPEEDUP)


class JourneyFacts(BaseModel):
    """What the journey has learnt from events, for templates and alerts."""

    delivered_at: datetime | None = None
    promised_by: datetime | None = None
    shipment: Shipment | None = None
    feedback: Feedback | None = None


class MessageRequest(Strict):
    """One send, as the workflow asks an activity for it."""

    journey_id: str
    step: Step
    order: Order
    settings: JourneySettings
    scheduled_for: AwareDatetime = Field(description="Journey time the step was due.")
    idempotency_key: str
    unreachable: list[Channel] = Field(
        default_factory=list,
        description="Channels earlier steps found unreachable (Receipt.unreachable); "
        "this send skips them.",
    )
    facts: JourneyFacts = Field(default_factory=JourneyFacts)
    reply_to: str | None = Field(
        default=None,
        description="The wamid of the customer's WhatsApp message this answers: a free-form "
        "text inside the 24-hour window that message opened, by WhatsApp only.",
    )

    @model_validator(mode="before")
    @classmethod
    def _delivery_time_in_the_facts(cls, data: Any) -> Any:
        """Sends of legacy PostPurchaseJourney runs scheduled before this shape carry the
        delivery time in the order; it belongs in the facts, where templates read it."""
        order = data.get("order") if isinstance(data, dict) else None
        if not isinstance(order, dict) or "delivered_at" not in order:
            return data
        facts = dict(data.get("facts") or {})
        facts.setdefault("delivered_at", order["delivered_at"])
        order = {key: value for key, value in order.items() if key != "delivered_at"}
        return {**data, "order": order, "facts": facts}


class AlertKind(StrEnum):
    LATE_DELIVERY = "late_delivery"
    LOW_RATING = "low_rating"
    CUSTOMER_REPLY = "customer_reply"


class AlertRequest(Strict):
    """An alert to the store itself, not to the customer: sent at any hour."""

    journey_id: str
    kind: AlertKind
    order: Order
    settings: JourneySettings
    facts: JourneyFacts
    idempotency_key: str
    reply: CustomerReply | None = Field(
        default=None, description="The customer's message a customer_reply alert forwards."
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
    looked_up: bool = Field(
        default=False,
        description="Not a request's answer: the provider, asked after a stop, had the "
        "message from an earlier request that got no answer.",
    )


class StepStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    # A stop met the send after a request of it had left without an answer.
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """How operators read it."""
        return "outcome unknown" if self is StepStatus.UNKNOWN else self.value


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
    reason: str | None = Field(
        default=None,
        description="Why a step was skipped, why its outcome is unknown, or how a send a "
        "stop met is known to have landed.",
    )
    route_reason: str | None = Field(default=None, description="Why this channel carried it.")
    after_stop: str | None = Field(
        default=None,
        description="The stop (an opt-out, an operator's cancel) that met this send in "
        "flight. On a sent step: it landed after the stop, having left before it.",
    )
    delivery: Delivery | None = Field(
        default=None, description="What WhatsApp's statuses say of a message it carried."
    )
    answered_at: datetime | None = Field(
        default=None, description="When the customer first replied to this message."
    )

    @property
    def stop_note(self) -> str | None:
        """How a sent step a stop met reached the customer, as operators read it."""
        if self.status is not StepStatus.SENT or self.after_stop is None:
            return None
        return f"{self.reason or 'landed after the stop'} ({self.after_stop})"


class SendCheck(BaseModel):
    """What a stop finds of a send it is about to cancel (the `check_send` activity)."""

    pending: bool = Field(default=False, description="The send had not ended.")
    running: bool = Field(default=False, description="An attempt of it was running.")
    unanswered: list[str] = Field(
        default_factory=list,
        description="Idempotency keys of requests that left, or may have left, without an answer.",
    )
    found: Receipt | None = Field(
        default=None, description="A provider asked about those keys has the message."
    )
    absent: bool = Field(
        default=False, description="The providers asked say none of those keys was accepted."
    )
    why: str | None = Field(default=None, description="Why its outcome is not known.")


class JourneyStatus(StrEnum):
    WAITING = "waiting"
    SENDING = "sending"
    COMPLETED = "completed"
    STOPPED = "stopped"


class JourneyStage(StrEnum):
    PLACED = "placed"
    SHIPPED = "shipped"
    DELIVERY_LATE = "delivery_late"
    DELIVERED = "delivered"
    ENDED = "ended"


class JourneyProgress(BaseModel):
    journey_id: str
    status: JourneyStatus
    steps: list[StepOutcome] = Field(default_factory=list)
    next_step: str | None = None
    next_at: datetime | None = Field(default=None, description="Journey time of the next send.")
    next_why: str | None = None
    stop_reason: str | None = None
    stage: JourneyStage | None = None
    events: list[str] = Field(default_factory=list, description="`type:event_id`, as applied.")
    ignored_events: list[str] = Field(default_factory=list)
    facts: JourneyFacts = Field(default_factory=JourneyFacts)
    opted_out: bool = False
    replies: list[CustomerReply] = Field(
        default_factory=list, description="The customer's WhatsApp messages, as received."
    )
    customer: dict[str, str] = Field(
        default_factory=dict,
        description="The customer's contact data, masked: e.g. {'email': 'm***@example.com'}.",
    )

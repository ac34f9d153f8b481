"""The order journey's working state: what it knows and what it plans to send.

Plain data, defined here rather than in the workflow module so the sandbox does not
rebuild these classes for every journey it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.conversation import CustomerReply, StatusUpdate
from models.events import Feedback, OrderEvent
from models.journey import AlertKind
from models.plan import Step


@dataclass
class Action:
    """One message on the agenda: to the customer (a step) or to the store (an alert)."""

    seq: int
    due: datetime
    why: str
    step: Step | None = None
    alert: AlertKind | None = None
    # The customer's WhatsApp message a step answers, or an alert forwards.
    reply: CustomerReply | None = None
    # The failed status that sends a step again by the next channel.
    fallback: StatusUpdate | None = None

    @property
    def name(self) -> str:
        return self.step.id if self.step else f"alert_{self.alert}"


@dataclass
class Facts:
    """What the journey has learnt from events and feedback so far."""

    placed: bool = False
    delivered_at: datetime | None = None
    promised_by: datetime | None = None
    shipment_event: OrderEvent | None = None
    promotion_ended_by: str | None = None
    opted_out: str | None = None
    stopped: str | None = None  # opted out, or the provider refused the recipient
    stop_kind: str | None = None  # `opted_out` or the error type: a metric label
    feedback: Feedback | None = None
    late_reported: bool = False
    plan_scheduled: bool = False
    last_event_at: datetime | None = None
    seen: set[str] = field(default_factory=set)

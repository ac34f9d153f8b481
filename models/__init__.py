"""Domain models shared by the starter, the workflow and the activities.

Workflows import only this package, so it must stay free of I/O.
"""

from models.base import Channel
from models.journey import (
    DEMO_SPEEDUP,
    TASK_QUEUE,
    JourneyProgress,
    JourneyStatus,
    MessageRequest,
    Receipt,
    StepOutcome,
    StepStatus,
)
from models.order import (
    SUPPORTED_LOCALES,
    Customer,
    DeliveredOrder,
    Locale,
    OrderItem,
    journey_id,
)
from models.plan import JourneyPlan, Step, StepKind, StepPurpose, default_plan
from models.settings import (
    Coupon,
    JourneySettings,
    MessageCategory,
    SendWindow,
    WhatsAppTemplate,
)

__all__ = [
    "DEMO_SPEEDUP",
    "SUPPORTED_LOCALES",
    "TASK_QUEUE",
    "Channel",
    "Coupon",
    "Customer",
    "DeliveredOrder",
    "JourneyPlan",
    "JourneyProgress",
    "JourneySettings",
    "JourneyStatus",
    "Locale",
    "MessageCategory",
    "MessageRequest",
    "OrderItem",
    "Receipt",
    "SendWindow",
    "Step",
    "StepKind",
    "StepOutcome",
    "StepPurpose",
    "StepStatus",
    "WhatsAppTemplate",
    "default_plan",
    "journey_id",
]

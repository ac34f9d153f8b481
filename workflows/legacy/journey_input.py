"""The legacy workflow's input: a delivered order, its store's settings and plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from models.base import Strict
from models.durations import within
from models.limits import FIRST_SEND_DELAY, MAX_SPEEDUP
from models.order import DeliveredOrder
from models.plan import JourneyPlan, default_plan
from models.settings import JourneySettings


class JourneyInput(Strict):
    """Everything a run needs. It travels in the workflow input, so a run keeps the
    plan and settings it started with; editing them affects new runs only."""

    order: DeliveredOrder
    settings: JourneySettings
    plan: JourneyPlan = Field(default_factory=default_plan)
    first_send_delay: Annotated[timedelta, within(FIRST_SEND_DELAY)] = Field(
        default=timedelta(0),
        description="Added to the first send time before it is moved into the send "
        "window. Backfills spread thousands of first sends with it.",
    )
    speedup: int = Field(
        default=1,
        ge=1,
        le=MAX_SPEEDUP,
        description="Journey time runs this many times faster than real time. "
        "1 in production; the demo uses 86400 (a day a second).",
    )

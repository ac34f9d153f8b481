"""The journey plan: the ordered steps a journey runs after delivery."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from models.base import Strict
from models.durations import within
from models.limits import MAX_PLAN_STEPS, STEP_WAIT


class StepKind(StrEnum):
    MESSAGE = "message"
    FEEDBACK_REQUEST = "feedback_request"


class StepPurpose(StrEnum):
    """Why a step talks to the customer; rules and consent depend on it."""

    SERVICE = "service"  # about the order itself: thanks, delivery questions, support
    FEEDBACK = "feedback"  # asks for a rating or review
    PROMOTIONAL = "promotional"  # invites to buy again or to promote the store


class Step(Strict):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    kind: StepKind = StepKind.MESSAGE
    purpose: StepPurpose = StepPurpose.SERVICE
    template: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")
    wait: Annotated[timedelta, within(STEP_WAIT)] = Field(
        default=timedelta(0),
        description="Time after the previous step. The first step is timed by "
        "settings.wait_after_delivery instead, so its wait must be 0.",
    )


class JourneyPlan(Strict):
    steps: list[Step] = Field(min_length=1, max_length=MAX_PLAN_STEPS)

    @model_validator(mode="after")
    def _coherent(self) -> JourneyPlan:
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"step ids must be unique, repeated: {', '.join(duplicates)}")
        if self.steps[0].wait != timedelta(0):
            raise ValueError(
                "the first step is timed by settings.wait_after_delivery; its wait must be 0"
            )
        return self


def default_plan() -> JourneyPlan:
    """Five steps over about three weeks after delivery."""
    return JourneyPlan(
        steps=[
            Step(id="thanks", template="thanks"),
            Step(
                id="feedback_request",
                kind=StepKind.FEEDBACK_REQUEST,
                purpose=StepPurpose.FEEDBACK,
                template="feedback_request",
                wait=timedelta(days=3),
            ),
            Step(
                id="photo_invite",
                purpose=StepPurpose.PROMOTIONAL,
                template="photo_invite",
                wait=timedelta(days=4),
            ),
            Step(id="delivery_questions", template="delivery_questions", wait=timedelta(days=5)),
            Step(
                id="come_back_coupon",
                purpose=StepPurpose.PROMOTIONAL,
                template="come_back_coupon",
                wait=timedelta(days=7),
            ),
        ]
    )

"""Validation at the edge: a journey's input is checked whole before anything starts.

Every problem becomes one line naming the field (`order.customer.phone: ...`), and a
dry run renders every template of the plan for this very order, so a missing
variable fails now rather than days later inside a running journey.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from activities.messages import NoContact, recipient
from activities.rendering import Renderer, TemplateProblem, message_context
from models import (
    DeliveredOrder,
    JourneyInput,
    JourneyPlan,
    JourneySettings,
    MessageRequest,
    StepKind,
    default_plan,
)

M = TypeVar("M", bound=BaseModel)

PREVIEW_FEEDBACK_URL = "https://example.invalid/feedback?token=preview"


class InvalidJourney(Exception):
    """The input cannot start a journey. `problems` has one line per invalid field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _field_problems(prefix: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join([prefix, *(str(part) for part in item["loc"])])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines


def _parse(
    model: type[M], prefix: str, raw: M | Mapping[str, Any], problems: list[str]
) -> M | None:
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        problems.extend(_field_problems(prefix, err))
        return None


@functools.cache
def _renderer_for(templates_dir: str | None) -> Renderer:
    return Renderer(Path(templates_dir) if templates_dir else None)


def shared_renderer() -> Renderer:
    """One renderer per templates directory for the process: compiling the templates
    costs about 10 ms, rendering a plan with them a fraction of that."""
    return _renderer_for(os.environ.get("JOURNEY_TEMPLATES_DIR"))


def validate_journey(
    order: DeliveredOrder | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
) -> JourneyInput:
    """A checked `JourneyInput`, or `InvalidJourney` listing everything wrong."""
    problems: list[str] = []
    parsed_order = _parse(DeliveredOrder, "order", order, problems)
    parsed_settings = _parse(JourneySettings, "settings", settings, problems)
    parsed_plan = _parse(
        JourneyPlan, "plan", plan if plan is not None else default_plan(), problems
    )
    if speedup < 1:
        problems.append(f"speedup: must be at least 1, got {speedup}")
    if problems or parsed_order is None or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)

    journey = JourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )
    problems.extend(dry_run(journey, renderer or shared_renderer()))
    if problems:
        raise InvalidJourney(problems)
    return journey


def validate_store(
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
) -> tuple[JourneySettings, JourneyPlan]:
    """Settings and a plan shared by many orders (a backfill), checked once."""
    problems: list[str] = []
    parsed_settings = _parse(JourneySettings, "settings", settings, problems)
    parsed_plan = _parse(
        JourneyPlan, "plan", plan if plan is not None else default_plan(), problems
    )
    if problems or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    return parsed_settings, parsed_plan


def dry_run(journey: JourneyInput, renderer: Renderer) -> list[str]:
    """Address and render every step for this order; return what would fail."""
    order, settings = journey.order, journey.settings
    for_channel = "phone" if settings.channel == "whatsapp" else "email"
    problems: list[str] = []
    for index, step in enumerate(journey.plan.steps):
        request = MessageRequest(
            journey_id=order.journey_id,
            step=step,
            order=order,
            settings=settings,
            scheduled_for=order.delivered_at,
            idempotency_key="preview",
        )
        if index == 0:
            try:
                recipient(request)
            except NoContact:
                problems.append(
                    f"order.customer.{for_channel}: required for channel {settings.channel}"
                )
        url = PREVIEW_FEEDBACK_URL if step.kind is StepKind.FEEDBACK_REQUEST else None
        try:
            renderer.render(
                step.template, order.customer.locale, message_context(order, settings, url)
            )
        except TemplateProblem as err:
            problems.append(f"plan.steps.{index} ({step.id}): {err}")
    return problems


def load_json(path: Path, what: str) -> Any:
    """A JSON file's content, or `InvalidJourney` saying why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidJourney([f"{what}: cannot read {path}: {err.strerror}"]) from err
    except json.JSONDecodeError as err:
        raise InvalidJourney(
            [f"{what}: {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"]
        ) from err

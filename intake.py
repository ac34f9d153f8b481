"""Validation at the edge: a journey's input is checked whole before anything starts.

Every problem becomes one line naming the field (`order.customer.phone: ...`). The
customer must be reachable on some channel of the route (models.channels), and a
dry run renders every template of the plan for this very order, WhatsApp template
parameters included, so a missing variable fails now rather than days later
inside a running journey.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, HttpUrl, ValidationError

from activities.rendering import Renderer, TemplateProblem, message_context, variable
from models import (
    DeliveredOrder,
    JourneyInput,
    JourneyPlan,
    JourneySettings,
    Locale,
    MessageCategory,
    StepKind,
    default_plan,
)
from models.channels import no_route_lines, route
from models.events import Feedback, OrderEvent, Shipment
from models.journey import JourneyFacts, OrderJourneyInput
from models.order import Order
from models.stages import ALERT_TEMPLATES, STAGE_STEPS

M = TypeVar("M", bound=BaseModel)

PREVIEW_FEEDBACK_URL = "https://example.invalid/feedback?token=preview"
# Stand-ins for what events tell the journey later, so every template can be tried now.
PREVIEW_FACTS = JourneyFacts(
    delivered_at=datetime(2026, 1, 15, 14, 0, tzinfo=UTC),
    promised_by=datetime(2026, 1, 14, 18, 0, tzinfo=UTC),
    shipment=Shipment(
        carrier="Transportadora",
        tracking_code="BR123456789",
        tracking_url=HttpUrl("https://example.invalid/rastreio/BR123456789"),
    ),
    feedback=Feedback(rating=2, comment="preview"),
)


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
    render_memo: RenderMemo | None = None,
) -> JourneyInput:
    """A checked journey for a delivered order, or `InvalidJourney` listing everything
    wrong. `render_memo`: see `dry_run`."""
    problems: list[str] = []
    parsed_order = _parse(DeliveredOrder, "order", order, problems)
    parsed_settings, parsed_plan = _parse_store(settings, plan, speedup, problems)
    if problems or parsed_order is None or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    journey = JourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )
    problems.extend(
        dry_run(
            parsed_order,
            parsed_settings,
            parsed_plan,
            renderer or shared_renderer(),
            memo=render_memo,
        )
    )
    if problems:
        raise InvalidJourney(problems)
    return journey


def validate_event(
    order: Order | Mapping[str, Any],
    event: OrderEvent | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
) -> tuple[OrderJourneyInput, OrderEvent]:
    """A checked order journey and event, or `InvalidJourney` listing everything wrong."""
    problems: list[str] = []
    if isinstance(order, DeliveredOrder):
        order = order.without_delivery()
    elif isinstance(order, Mapping) and "delivered_at" in order:
        # The same order file serves every event; the delivered event carries the time.
        order = {key: value for key, value in order.items() if key != "delivered_at"}
    parsed_order = _parse(Order, "order", order, problems)
    parsed_event = _parse(OrderEvent, "event", event, problems)
    parsed_settings, parsed_plan = _parse_store(settings, plan, speedup, problems)
    if (
        problems
        or parsed_order is None
        or parsed_event is None
        or parsed_settings is None
        or parsed_plan is None
    ):
        raise InvalidJourney(problems)
    problems.extend(
        dry_run(parsed_order, parsed_settings, parsed_plan, renderer or shared_renderer())
    )
    if problems:
        raise InvalidJourney(problems)
    journey = OrderJourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )
    return journey, parsed_event


def _parse_store(
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None,
    speedup: int,
    problems: list[str],
) -> tuple[JourneySettings | None, JourneyPlan | None]:
    parsed_settings = _parse(JourneySettings, "settings", settings, problems)
    parsed_plan = _parse(
        JourneyPlan, "plan", plan if plan is not None else default_plan(), problems
    )
    if speedup < 1:
        problems.append(f"speedup: must be at least 1, got {speedup}")
    return parsed_settings, parsed_plan


def validate_store(
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
) -> tuple[JourneySettings, JourneyPlan]:
    """Settings and a plan shared by many orders (a backfill), checked once."""
    problems: list[str] = []
    parsed_settings, parsed_plan = _parse_store(settings, plan, 1, problems)
    if problems or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    return parsed_settings, parsed_plan


RenderMemo = dict[Hashable, list[str]]
"""Render problems by the shape of an order's template context, for one store's
settings, plan and templates (see `context_shape`)."""


def dry_run(
    order: Order,
    settings: JourneySettings,
    plan: JourneyPlan,
    renderer: Renderer,
    *,
    memo: RenderMemo | None = None,
) -> list[str]:
    """Route the customer and render every message the journey may send for this order
    (the plan, the stage messages, the store alerts); return what would fail.

    With a memo (one store's settings, plan and templates for many orders, as in a
    backfill), orders whose template contexts have the same shape are rendered once:
    what a template can miss is a variable, an item or a set value, never the text of
    a name or an id."""
    # Service messages need only an address and, for WhatsApp, the opt-in; marketing
    # steps without marketing consent are skipped one by one, not refused here.
    candidates = route(order.customer, settings, MessageCategory.UTILITY)
    problems = [] if any(c.usable for c in candidates) else no_route_lines(candidates)
    locale = order.customer.locale
    contexts = (
        message_context(order, settings, facts=PREVIEW_FACTS),
        message_context(order, settings, PREVIEW_FEEDBACK_URL, PREVIEW_FACTS),  # requests
    )
    if memo is None:
        return problems + _render_problems(locale, contexts, settings, plan, renderer)
    key = (locale, context_shape(contexts[1]))  # the first's keys and one more
    if key not in memo:
        memo[key] = _render_problems(locale, contexts, settings, plan, renderer)
    return problems + memo[key]


def context_shape(value: Any) -> Hashable:
    """A template context without its text: the keys, the length of every list and the
    type of every value."""
    if isinstance(value, Mapping):
        return tuple((key, context_shape(item)) for key, item in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ("list", *(context_shape(item) for item in value))
    return type(value).__name__


def _render_problems(
    locale: Locale,
    contexts: tuple[dict[str, Any], dict[str, Any]],
    settings: JourneySettings,
    plan: JourneyPlan,
    renderer: Renderer,
) -> list[str]:
    """Render every message; `contexts`: without and with a feedback link."""
    problems: list[str] = []
    context, with_link = contexts
    labelled = [(f"plan.steps.{i} ({step.id})", step) for i, step in enumerate(plan.steps)]
    labelled += [(f"stage message {step.id}", step) for step in STAGE_STEPS]
    for label, step in labelled:
        step_context = with_link if step.kind is StepKind.FEEDBACK_REQUEST else context
        try:
            renderer.render(step.template, locale, step_context)
            mapped = settings.whatsapp_templates.get(step.template)
            for path in mapped.parameters if mapped else []:
                variable(step_context, path)
        except TemplateProblem as err:
            problems.append(f"{label}: {err}")
    for template in ALERT_TEMPLATES:
        try:
            renderer.render_text(template, settings.store_locale, context)
        except TemplateProblem as err:
            problems.append(f"store alert {template}: {err}")
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

"""The dry run: every message a journey may send, rendered now for this very order, and
the customer reachable on some channel, so a missing template variable or contact
fails at the start rather than weeks into the journey."""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import HttpUrl

from messages.rendering import Renderer, TemplateProblem, message_context, variable
from models import JourneyPlan, JourneySettings, Locale, MessageCategory, StepKind
from models.channels import no_route_lines, route
from models.events import Feedback, Shipment
from models.journey import JourneyFacts
from models.order import Order
from models.stages import ALERT_TEMPLATES, STAGE_STEPS

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


@functools.cache
def _renderer_for(templates_dir: str | None) -> Renderer:
    return Renderer(Path(templates_dir) if templates_dir else None)


def shared_renderer() -> Renderer:
    """One renderer per templates directory for the process: compiling the templates
    costs about 10 ms, rendering a plan with them a fraction of that."""
    return _renderer_for(os.environ.get("JOURNEY_TEMPLATES_DIR"))


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

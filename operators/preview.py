"""`preview`: every message of the plan for one delivered order, with its send time, the
channel that would carry it and its text. Needs no Temporal; sends nothing."""

from __future__ import annotations

from intake import PREVIEW_FEEDBACK_URL, CheckedEvent
from journey.schedule import describe_local, plan_times
from messages.rendering import Renderer, message_context
from models import StepKind
from models.channels import message_category, route
from models.journey import JourneyFacts


def preview(checked: CheckedEvent, renderer: Renderer | None = None) -> str:
    """Every message of the plan for this order (`checked`: a delivered order, as
    `validate_journey` gives it), with its send time, channel and text. The feedback
    link is a placeholder."""
    renderer = renderer or Renderer()
    journey, delivered_at = checked.journey, checked.event.occurred_at
    order, settings = journey.order, journey.settings
    customer, tz = order.customer, order.customer.timezone
    facts = JourneyFacts(delivered_at=delivered_at)
    lines = [
        f"Journey of order {order.order_id} of store {order.store_id}, delivered "
        f"{describe_local(delivered_at, tz)}",
        f"Customer locale {customer.locale}; send window {settings.send_window.describe()}; "
        f"feedback link: {PREVIEW_FEEDBACK_URL}",
        "Nothing is sent.",
    ]
    timed = plan_times(
        journey.plan.steps, delivered_at, settings, tz, first_send_delay=journey.first_send_delay
    )
    for n, (step, due, why) in enumerate(timed, start=1):
        candidates = route(customer, settings, message_category(step, settings))
        usable = [c.channel for c in candidates if c.usable]
        how = (
            f"by {usable[0]}"
            if usable
            else "not sent: "
            + "; ".join(f"{c.channel}: {c.describe_obstacles()}" for c in candidates)
        )
        url = PREVIEW_FEEDBACK_URL if step.kind is StepKind.FEEDBACK_REQUEST else None
        rendered = renderer.render(
            step.template, customer.locale, message_context(order, settings, url, facts)
        )
        lines += [
            "",
            f"{n}. {step.id} · {describe_local(due, tz)} · {why} · {how}",
            f"   Subject: {rendered.subject}",
            *(f"   | {line}" if line else "   |" for line in rendered.text.splitlines()),
        ]
    return "\n".join(lines)

"""Messages and send requests to start from, for the channel and activity tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.channels.base import OutgoingMessage
from intake import validate_journey
from models import Channel, MessageRequest, Step, default_plan
from tests import builders
from tests.providers import WHATSAPP_TEMPLATES

STEPS = {step.id: step for step in default_plan().steps}
KEY = "post-purchase:loja-1:PED-1:thanks"


def message(key: str = KEY) -> OutgoingMessage:
    """A rendered message for the thanks step, addressed to WhatsApp."""
    return OutgoingMessage(
        idempotency_key=key,
        journey_id="post-purchase:loja-1:PED-1",
        order_id="PED-1",
        step_id=key.rsplit(":", 1)[-1],
        template="thanks",
        channel=Channel.WHATSAPP,
        locale="pt-BR",
        to="+5511987654321",
        customer_name="Ana Souza",
        subject="Obrigado!",
        text="Oi, Ana!",
        html="<p>Oi, Ana!</p>",
        scheduled_for=datetime(2026, 3, 11, 12, tzinfo=UTC),
    )


def request(
    step: Step = STEPS["thanks"],
    customer: dict[str, Any] | None = None,
    unreachable: list[Channel] | None = None,
    **settings: Any,
) -> MessageRequest:
    """A send of one step for the builders' order, as the journey would ask for it."""
    order = builders.order(customer=customer or {})
    store = builders.settings(whatsapp_templates=WHATSAPP_TEMPLATES, **settings)
    only_step = {**step.model_dump(mode="json"), "wait": "PT0S"}  # first steps wait 0
    checked = validate_journey(order, store, {"steps": [only_step]}, now=builders.VALIDATED_AT)
    journey = checked.journey
    return MessageRequest(
        journey_id=checked.journey_id,
        step=step,
        order=journey.order,
        settings=journey.settings,
        scheduled_for=datetime.fromisoformat("2026-03-11T12:00:00-03:00"),
        idempotency_key=f"{checked.journey_id}:{step.id}",
        unreachable=unreachable or [],
        facts={"delivered_at": checked.event.occurred_at},
    )


def lines(path: Path) -> list[dict[str, object]]:
    """The JSON lines of an outbox or alerts file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

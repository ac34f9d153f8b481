"""Delivered orders and store settings for the benchmarks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake import CheckedEvent
from models import JourneyPlan, Step, default_plan

SETTINGS: dict[str, Any] = {
    "store_name": "Loja Bench",
    "channel": "whatsapp",
    "wait_after_delivery": "P1D",
    "send_window": {"start": "09:00", "end": "20:00"},
    "review_url": "https://loja-bench.example/avaliar",
    "social_handle": "@lojabench",
    "coupon": {"code": "VOLTE10", "benefit": "10% de desconto"},
    # The plan's messages only, so the floor can match them timer for timer.
    "feedback_reminder_after": None,
}

# Open all day, so no wait but the first step's is ever added by the window.
ALWAYS_OPEN = {**SETTINGS, "send_window": {"start": "00:00", "end": "23:59:59.999999"}}


def order(store_id: str, order_id: str, delivered_at: datetime) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "order_id": order_id,
        "delivered_at": delivered_at.isoformat(),
        "customer": {
            "name": "Ana Souza",
            "locale": "pt-BR",
            "timezone": "America/Sao_Paulo",
            "email": "ana@example.com",
            "phone": "+5511987654321",
            "whatsapp_opt_in": True,
            "marketing_opt_in": True,
        },
        "items": [{"sku": "SKU-1", "name": "Caneca", "quantity": 1}],
    }


def no_wait_plan() -> JourneyPlan:
    """The default plan's five steps, with every wait 0."""
    return JourneyPlan(
        steps=[Step(**step.model_dump(exclude={"wait"})) for step in default_plan().steps]
    )


def copies(checked: CheckedEvent, prefix: str, count: int) -> list[CheckedEvent]:
    """`count` checked journeys like `checked`, for orders `{prefix}-0`, `{prefix}-1`, ...:
    validated once, the way a benchmark's side starts many alike."""
    journey = checked.journey
    return [
        CheckedEvent(
            journey.model_copy(
                update={"order": journey.order.model_copy(update={"order_id": f"{prefix}-{n}"})}
            ),
            checked.event,
        )
        for n in range(count)
    ]

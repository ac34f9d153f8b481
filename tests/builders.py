"""Valid inputs to start from; each test changes only what it is about."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# Dates are checked against the moment of validation. Tests that validate these
# builders' inputs without a server validate them at this stated moment: the morning
# after the order below was delivered.
VALIDATED_AT = datetime(2026, 3, 11, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))

ORDER: dict[str, Any] = {
    "store_id": "loja-1",
    "order_id": "PED-1",
    "delivered_at": "2026-03-10T14:30:00-03:00",
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

SETTINGS: dict[str, Any] = {
    "store_name": "Loja Um",
    "channel": "whatsapp",
    "wait_after_delivery": "P1D",
    "send_window": {"start": "09:00", "end": "20:00"},
    "review_url": "https://loja-um.example/avaliar",
    "social_handle": "@lojaum",
    "coupon": {"code": "VOLTE10", "benefit": "10% de desconto"},
}


def order(delivered_at: datetime | str | None = None, **changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(ORDER)
    customer_changes = changes.pop("customer", {})
    result.update(changes)
    result["customer"].update(customer_changes)
    if delivered_at is not None:
        result["delivered_at"] = (
            delivered_at.isoformat() if isinstance(delivered_at, datetime) else delivered_at
        )
    return result


def settings(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(SETTINGS)
    result.update(changes)
    return result


def placed_order(**changes: Any) -> dict[str, Any]:
    """The order as known before delivery: no delivered_at."""
    result = order(**changes)
    del result["delivered_at"]
    return result


def event(kind: str, at: datetime, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "event_id": event_id or f"{kind}-1",
        "type": kind,
        "occurred_at": at.isoformat(),
        **fields,
    }
    if kind == "shipped" and "shipment" not in fields:
        result["shipment"] = {
            "carrier": "Correios",
            "tracking_code": "BR123456789",
            "tracking_url": "https://rastreio.example/BR123456789",
        }
    return result

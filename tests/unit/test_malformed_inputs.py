"""The edge, one malformed input at a time: each gets one problem line naming the field
that is wrong, and nothing else is raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from intake import (
    InvalidJourney,
    parse_json,
    validate_event,
    validate_feedback,
    validate_journey,
    validate_journey_id,
)
from models.limits import MAX_DOCUMENT_BYTES
from tests import builders

NOW = builders.VALIDATED_AT  # 2026-03-11 10:00 in São Paulo


def journey(order: dict[str, Any] | None = None, plan: Any = None, **settings: Any) -> None:
    validate_journey(order or builders.order(), builders.settings(**settings), plan, now=NOW)


def with_customer(**changes: Any) -> Callable[[], None]:
    return lambda: journey(builders.order(customer=changes))


def with_order(**changes: Any) -> Callable[[], None]:
    return lambda: journey(builders.order(**changes))


def with_settings(**changes: Any) -> Callable[[], None]:
    return lambda: journey(**changes)


def with_plan_step(**second: Any) -> Callable[[], None]:
    plan = {"steps": [{"id": "thanks", "template": "thanks"}, {"id": "q", "template": "thanks"}]}
    plan["steps"][1].update(second)
    return lambda: journey(plan=plan)


def with_event(**changes: Any) -> Callable[[], object]:
    event = {**builders.event("shipped", NOW), **changes}
    return lambda: validate_event(builders.placed_order(), event, builders.settings(), now=NOW)


def document(data: bytes) -> Callable[[], object]:
    return lambda: parse_json(data, "order")


ITEM = {"sku": "SKU-1", "name": "Caneca", "quantity": 1}
STEP = {"id": "s", "template": "thanks"}

CASES = [
    # the customer
    ("blank name", with_customer(name="   "), "order.customer.name"),
    ("name with a line break", with_customer(name="Ana\nSouza"), "order.customer.name"),
    ("name with a NUL", with_customer(name="Ana\x00"), "order.customer.name"),
    ("name with a bidi override", with_customer(name="Ana\u202e"), "order.customer.name"),
    ("name with a lone surrogate", with_customer(name="Ana\ud800"), "order.customer.name"),
    ("name too long", with_customer(name="A" * 121), "order.customer.name"),
    ("timezone naming a folder", with_customer(timezone="America"), "order.customer.timezone"),
    ("timezone very long", with_customer(timezone="A/" * 3000), "order.customer.timezone"),
    ("timezone as a path", with_customer(timezone="../../etc/passwd"), "order.customer.timezone"),
    ("phone with a newline", with_customer(phone="+5511987654321\n"), "order.customer.phone"),
    ("phone in other digits", with_customer(phone="+٥٥١١٩٨٧٦٥٤٣٢١"), "order.customer.phone"),
    ("phone without +", with_customer(phone="5511987654321"), "order.customer.phone"),
    ("email with a space", with_customer(email="ana@example.com "), "order.customer.email"),
    ("email with a newline", with_customer(email="ana@example.com\n"), "order.customer.email"),
    ("locale unknown", with_customer(locale="es"), "order.customer.locale"),
    ("channel unknown", with_customer(preferred_channel="sms"), "order.customer.preferred_channel"),
    # the order
    (
        "delivered at the end of the calendar",
        with_order(delivered_at="9999-12-31T23:59:59Z"),
        "order.delivered_at",
    ),
    (
        "delivered two years ago",
        with_order(delivered_at="2024-03-01T10:00:00-03:00"),
        "order.delivered_at",
    ),
    (
        "delivered next week",
        with_order(delivered_at="2026-03-18T10:00:00-03:00"),
        "order.delivered_at",
    ),
    (
        "delivered without an offset",
        with_order(delivered_at="2026-03-10T14:30:00"),
        "order.delivered_at",
    ),
    (
        "promised in five years",
        with_order(promised_delivery_by="2031-03-10T10:00:00-03:00"),
        "order.promised_delivery_by",
    ),
    ("no items", with_order(items=[]), "order.items"),
    ("too many items", with_order(items=[ITEM] * 101), "order.items"),
    ("huge quantity", with_order(items=[{**ITEM, "quantity": 10_001}]), "order.items.0.quantity"),
    ("blank sku", with_order(items=[{**ITEM, "sku": " "}]), "order.items.0.sku"),
    ("order id with the separator", with_order(order_id="PED:1"), "order.order_id"),
    ("store id too long", with_order(store_id="s" * 65), "order.store_id"),
    ("unknown field", with_order(surprise=1), "order.surprise"),
    # the store's settings
    (
        "window opening with an offset",
        with_settings(send_window={"start": "09:00Z"}),
        "settings.send_window.start",
    ),
    (
        "window closing with an offset",
        with_settings(send_window={"end": "20:00+03:00"}),
        "settings.send_window.end",
    ),
    (
        "window closing before it opens",
        with_settings(send_window={"start": "20:00", "end": "09:00"}),
        "settings.send_window",
    ),
    (
        "link lifetime of a million days",
        with_settings(feedback_link_ttl="P1000000D"),
        "settings.feedback_link_ttl",
    ),
    (
        "link lifetime of nothing",
        with_settings(feedback_link_ttl="PT0S"),
        "settings.feedback_link_ttl",
    ),
    (
        "negative reminder delay",
        with_settings(feedback_reminder_after="-P1D"),
        "settings.feedback_reminder_after",
    ),
    ("grace of a month and a day", with_settings(delivery_grace="P31D"), "settings.delivery_grace"),
    (
        "wait limit beyond a year",
        with_settings(delivery_wait_limit="P400D"),
        "settings.delivery_wait_limit",
    ),
    (
        "first message after three days",
        with_settings(wait_after_delivery="P3D"),
        "settings.wait_after_delivery",
    ),
    ("blank store name", with_settings(store_name=" \t "), "settings.store_name"),
    (
        "template key with a newline",
        with_settings(whatsapp_templates={"a\nb": {"name": "x"}}),
        "settings.whatsapp_templates",
    ),
    (
        "coupon code with a control character",
        with_settings(coupon={"code": "V\x07", "benefit": "10%"}),
        "settings.coupon.code",
    ),
    ("review URL that is not one", with_settings(review_url="loja-um"), "settings.review_url"),
    ("low rating of 0", with_settings(low_rating=0), "settings.low_rating"),
    # the plan
    ("step waiting 100000 days", with_plan_step(wait="P100000D"), "plan.steps.1.wait"),
    ("step waiting a negative time", with_plan_step(wait="-PT1H"), "plan.steps.1.wait"),
    (
        "21 steps",
        lambda: journey(plan={"steps": [{**STEP, "id": f"s{n}"} for n in range(21)]}),
        "plan.steps",
    ),
    # events
    ("event in 1900", with_event(occurred_at="1900-01-01T00:00:00Z"), "event.occurred_at"),
    (
        "event three hours ahead",
        with_event(occurred_at="2026-03-11T13:00:00-03:00"),
        "event.occurred_at",
    ),
    (
        "shipment promised in two years",
        with_event(
            shipment={
                "carrier": "Correios",
                "tracking_code": "BR1",
                "tracking_url": "https://r.example/BR1",
                "promised_by": "2028-03-11T10:00:00-03:00",
            }
        ),
        "event.shipment.promised_by",
    ),
    ("blank event id", with_event(event_id="  "), "event.event_id"),
    (
        "reason with a control character",
        with_event(type="returned", shipment=None, reason="x\x1b[2J"),
        "event.reason",
    ),
    # feedback and ids
    ("rating of 6", lambda: validate_feedback(6), "feedback.rating"),
    ("rating as text", lambda: validate_feedback("five"), "feedback.rating"),
    ("comment with a NUL", lambda: validate_feedback(4, "ok\x00"), "feedback.comment"),
    ("store id with a space", lambda: validate_journey_id("loja 1", "PED-1"), "store_id"),
    # documents
    ("not UTF-8", document(b'{"name": "Jo\xe3o"}'), "order"),
    ("nested 100 levels", document(b"[" * 100 + b"]" * 100), "order"),
    ("nested beyond the parser", document(b"[" * 100_000), "order"),
    ("a number of 5000 digits", document(b'{"n": ' + b"9" * 5000 + b"}"), "order"),
    ("NaN", document(b'{"n": NaN}'), "order"),
    ("a float beyond infinity", document(b'{"n": 1e999}'), "order"),
    ("larger than the limit", document(b" " * (MAX_DOCUMENT_BYTES + 1)), "order"),
    ("an array, not an object", lambda: journey(parse_json(b"[1, 2]", "order")), "order"),
]


@pytest.mark.parametrize(
    ("case", "field"), [pytest.param(run, field, id=name) for name, run, field in CASES]
)
def test_each_malformed_input_gets_one_line_naming_its_field(
    case: Callable[[], object], field: str
) -> None:
    with pytest.raises(InvalidJourney) as refused:
        case()
    problems = refused.value.problems
    assert [line.split(": ")[0] for line in problems] == [field], problems
    assert all(len(line) < 300 for line in problems), "a problem line quotes too much"


def test_the_table_covers_at_least_forty_inputs() -> None:
    assert len(CASES) >= 40


def test_a_comment_may_span_lines_and_a_valid_order_passes() -> None:
    assert validate_feedback(5, "Chegou rápido.\r\nObrigada!\tNota 5").rating == 5
    journey()  # the builders' order and settings, as a control for the table above

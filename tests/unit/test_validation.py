"""Validation at the edge: one line per invalid field, and a dry run of every message."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from intake import InvalidJourney, RenderMemo, validate_journey
from messages.rendering import Renderer
from models import default_plan
from tests import builders


def problems(order=None, settings=None, plan=None) -> list[str]:
    with pytest.raises(InvalidJourney) as exc:
        validate_journey(
            order if order is not None else builders.order(),
            settings if settings is not None else builders.settings(),
            plan,
            now=builders.VALIDATED_AT,
        )
    return exc.value.problems


def test_valid_input_gives_the_journey_with_the_default_plan() -> None:
    checked = validate_journey(builders.order(), builders.settings(), now=builders.VALIDATED_AT)
    assert checked.journey.plan == default_plan()
    assert checked.journey_id == "post-purchase:loja-1:PED-1"
    # The delivered order becomes the journey's order and its delivered event.
    assert "delivered_at" not in checked.journey.order.model_dump()
    assert checked.event.type == "delivered"
    assert checked.event.occurred_at.isoformat() == builders.ORDER["delivered_at"]


def test_every_invalid_field_gets_its_own_line() -> None:
    lines = problems(
        builders.order(delivered_at="2026-03-10T14:30:00", customer={"locale": "fr"}),
        builders.settings(wait_after_delivery="P3D"),
    )
    assert len(lines) == 3
    assert any(line.startswith("order.delivered_at: ") and "timezone" in line for line in lines)
    assert any(line.startswith("order.customer.locale: ") for line in lines)
    assert "settings.wait_after_delivery: must be between 1 day and 2 days, got 3 days" in lines


def test_no_contact_for_the_channel_is_named() -> None:
    order = builders.order(customer={"phone": None})
    assert problems(order) == ["order.customer.phone: required for channel whatsapp"]
    order = builders.order(customer={"email": None})
    assert problems(order, builders.settings(channel="email")) == [
        "order.customer.email: required for channel email"
    ]


def test_a_template_variable_the_store_lacks_fails_the_dry_run() -> None:
    lines = problems(settings=builders.settings(coupon=None, social_handle=None))
    assert lines == [
        "plan.steps.2 (photo_invite): template pt-BR/photo_invite: "
        "'dict object' has no attribute 'social_handle'",
        "plan.steps.4 (come_back_coupon): template pt-BR/come_back_coupon: 'coupon' is undefined",
    ]


def test_a_plan_without_the_coupon_step_needs_no_coupon() -> None:
    plan = {"steps": [{"id": "thanks", "template": "thanks"}]}
    checked = validate_journey(
        builders.order(), builders.settings(coupon=None), plan, now=builders.VALIDATED_AT
    )
    assert [step.id for step in checked.journey.plan.steps] == ["thanks"]


def test_a_plan_naming_an_unknown_template_is_rejected() -> None:
    plan = {"steps": [{"id": "thanks", "template": "thank_you"}]}
    [line] = problems(plan=plan)
    assert line.startswith("plan.steps.0 (thanks): template pt-BR/thank_you.txt.j2 not found")


def test_no_whatsapp_opt_in_is_named_when_there_is_no_fallback() -> None:
    order = builders.order(customer={"whatsapp_opt_in": False})
    assert problems(order) == ["order.customer.whatsapp_opt_in: required for channel whatsapp"]


def test_with_a_fallback_a_customer_reachable_on_it_is_accepted() -> None:
    order = builders.order(customer={"whatsapp_opt_in": False, "phone": None})
    checked = validate_journey(
        order, builders.settings(fallback_channels=["email"]), now=builders.VALIDATED_AT
    )
    assert checked.journey.order.customer.email == "ana@example.com"


def test_with_a_fallback_only_a_customer_no_channel_can_reach_is_rejected() -> None:
    order = builders.order(customer={"whatsapp_opt_in": False, "email": None})
    assert problems(order, builders.settings(fallback_channels=["email"])) == [
        "order.customer: no channel can reach the customer "
        "(whatsapp: no WhatsApp opt-in; email: no email)"
    ]


def test_a_preferred_channel_comes_before_the_stores() -> None:
    # Prefers email and never opted in to WhatsApp: reachable, though the store uses WhatsApp.
    order = builders.order(customer={"preferred_channel": "email", "whatsapp_opt_in": False})
    checked = validate_journey(order, builders.settings(), now=builders.VALIDATED_AT)
    assert checked.journey.order.customer.preferred_channel == "email"
    # A preference it cannot honour falls back to the store's channel...
    order = builders.order(customer={"preferred_channel": "email", "email": None})
    validate_journey(order, builders.settings(), now=builders.VALIDATED_AT)
    # ... and when neither can reach the customer, both are named.
    order = builders.order(
        customer={"preferred_channel": "email", "email": None, "whatsapp_opt_in": False}
    )
    assert problems(order) == [
        "order.customer: no channel can reach the customer "
        "(email: no email; whatsapp: no WhatsApp opt-in)"
    ]


def test_no_marketing_consent_does_not_refuse_the_journey() -> None:
    order = builders.order(customer={"marketing_opt_in": False})
    checked = validate_journey(order, builders.settings(), now=builders.VALIDATED_AT)
    assert checked.journey.order.customer.marketing_opt_in is False


def test_whatsapp_template_parameters_are_checked_by_the_dry_run() -> None:
    mapping = {
        "thanks": {"name": "pos_venda_obrigado", "parameters": ["customer.first_name"]},
        "come_back_coupon": {"name": "volte_sempre", "parameters": ["coupon.percent"]},
    }
    assert problems(settings=builders.settings(whatsapp_templates=mapping)) == [
        "plan.steps.4 (come_back_coupon): variable 'coupon.percent' is undefined"
    ]


def test_a_backfill_memo_renders_each_shape_of_order_data_once(tmp_path: Path) -> None:
    # A store whose thanks message names the second item: a one-item order cannot have it.
    templates = tmp_path / "templates"
    shutil.copytree(Renderer().templates_dir, templates)
    thanks = templates / "pt-BR" / "thanks.txt.j2"
    thanks.write_text(
        thanks.read_text(encoding="utf-8").replace(
            "{% endblock %}\n{% block text %}",
            "{% endblock %}\n{% block text %}\n{{ order['items'][1].name }}",
        ),
        encoding="utf-8",
    )
    renderer, memo = Renderer(templates), RenderMemo()
    store = builders.settings()
    two_items = [{"sku": "A", "name": "Caneca"}, {"sku": "B", "name": "Pires"}]

    def check(order_id: str, **changes: Any) -> list[str]:
        order = builders.order(order_id=order_id, **changes)
        try:
            validate_journey(
                order, store, renderer=renderer, render_memo=memo, now=builders.VALIDATED_AT
            )
        except InvalidJourney as err:
            return err.problems
        return []

    [first] = check("PED-1")
    assert first.startswith("plan.steps.0 (thanks): template pt-BR/thanks:")
    assert check("PED-2", items=two_items) == []
    # Another one-item order, another customer: answered from the memo, alike.
    assert check("PED-3", customer={"name": "Bruno Lima"}) == [first]
    assert check("PED-4", customer={"locale": "en"}) == []  # en templates are untouched
    assert len(memo) == 3

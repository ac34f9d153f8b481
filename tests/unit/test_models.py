"""Orders, settings and plans reject what would break a journey later."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from models import DeliveredOrder, JourneyPlan, JourneySettings, SendWindow, default_plan
from tests import builders


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {".".join(map(str, e["loc"])): e["msg"] for e in exc.value.errors()}


def test_a_valid_order_and_settings_parse() -> None:
    order = DeliveredOrder.model_validate(builders.order())
    settings = JourneySettings.model_validate(builders.settings())
    assert order.journey_id == "post-purchase:loja-1:PED-1"
    assert order.customer.first_name == "Ana"
    assert settings.wait_after_delivery == timedelta(days=1)


def test_naive_delivered_at_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        DeliveredOrder.model_validate(builders.order(delivered_at="2026-03-10T14:30:00"))
    assert "timezone" in errors_of(exc)["delivered_at"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("locale", "fr", "'pt-BR' or 'en'"),
        ("timezone", "Mars/Olympus", "unknown IANA timezone"),
        ("phone", "11987654321", "E.164"),
        ("email", "not-an-email", "email"),
    ],
)
def test_bad_customer_fields_are_named(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        DeliveredOrder.model_validate(builders.order(customer={field: value}))
    assert message in errors_of(exc)[f"customer.{field}"]


def test_ids_cannot_contain_the_workflow_id_separator() -> None:
    with pytest.raises(ValidationError) as exc:
        DeliveredOrder.model_validate(builders.order(order_id="a:b"))
    assert "order_id" in errors_of(exc)


@pytest.mark.parametrize("wait", ["PT12H", "P3D", "P2DT1S"])
def test_wait_after_delivery_outside_one_to_two_days_is_rejected(wait: str) -> None:
    with pytest.raises(ValidationError) as exc:
        JourneySettings.model_validate(builders.settings(wait_after_delivery=wait))
    assert "must be between 1 day and 2 days, got " in errors_of(exc)["wait_after_delivery"]


def test_send_window_must_open_before_it_closes() -> None:
    with pytest.raises(ValidationError, match="must be before end"):
        SendWindow.model_validate({"start": "20:00", "end": "09:00"})


def test_unknown_fields_are_errors_not_silently_dropped() -> None:
    with pytest.raises(ValidationError) as exc:
        JourneySettings.model_validate(builders.settings(chanel="email"))
    assert "chanel" in errors_of(exc)


def test_default_plan_has_the_five_post_delivery_steps_in_order() -> None:
    plan = default_plan()
    assert [s.id for s in plan.steps] == [
        "thanks",
        "feedback_request",
        "photo_invite",
        "delivery_questions",
        "come_back_coupon",
    ]
    assert plan.steps[1].kind == "feedback_request"
    assert all(s.wait >= timedelta(days=3) for s in plan.steps[1:])


def test_plan_rejects_repeated_step_ids_and_a_first_wait() -> None:
    step = {"id": "thanks", "template": "thanks"}
    with pytest.raises(ValidationError, match="repeated: thanks"):
        JourneyPlan.model_validate({"steps": [step, {**step, "wait": "P1D"}]})
    with pytest.raises(ValidationError, match="its wait must be 0"):
        JourneyPlan.model_validate({"steps": [{**step, "wait": "P1D"}]})

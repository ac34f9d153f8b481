"""Channel choice per customer: preference, store channel, fallbacks, consent."""

import pytest

from models import Channel, Customer, JourneySettings, MessageCategory, Step, default_plan
from models.channels import message_category, no_route_lines, route, route_reason
from tests import builders

UTILITY, MARKETING = MessageCategory.UTILITY, MessageCategory.MARKETING


def customer(**changes: object) -> Customer:
    return Customer.model_validate({**builders.ORDER["customer"], **changes})


def settings(**changes: object) -> JourneySettings:
    return JourneySettings.model_validate(builders.settings(**changes))


def usable(candidates) -> list[Channel]:
    return [c.channel for c in candidates if c.usable]


def test_without_fallbacks_the_store_channel_is_the_only_candidate() -> None:
    [only] = route(customer(), settings(), UTILITY)
    assert (only.channel, only.role, only.usable) == (Channel.WHATSAPP, "store channel", True)


def test_the_customer_preference_comes_first_then_the_store_channel_then_fallbacks() -> None:
    candidates = route(
        customer(preferred_channel="email"),
        settings(channel="whatsapp", fallback_channels=["email", "whatsapp"]),
        UTILITY,
    )
    assert [(c.channel, c.role) for c in candidates] == [
        (Channel.EMAIL, "customer preference"),
        (Channel.WHATSAPP, "store channel"),
    ]


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"phone": None}, ["no phone"]),
        ({"whatsapp_opt_in": False}, ["no WhatsApp opt-in"]),
        ({"phone": None, "whatsapp_opt_in": False}, ["no phone", "no WhatsApp opt-in"]),
    ],
)
def test_whatsapp_needs_a_phone_and_the_opt_in(changes, reasons) -> None:
    whatsapp, email = route(customer(**changes), settings(fallback_channels=["email"]), UTILITY)
    assert [o.reason for o in whatsapp.obstacles] == reasons
    assert email.usable
    assert route_reason([whatsapp, email], Channel.EMAIL, {}) == (
        f"store fallback; whatsapp skipped: {', '.join(reasons)}"
    )


def test_a_channel_found_unreachable_is_skipped() -> None:
    candidates = route(
        customer(), settings(fallback_channels=["email"]), UTILITY, [Channel.WHATSAPP]
    )
    assert usable(candidates) == [Channel.EMAIL]
    assert candidates[0].describe_obstacles() == "unreachable"


def test_marketing_needs_marketing_consent_on_every_channel() -> None:
    no_consent = customer(marketing_opt_in=False)
    store = settings(fallback_channels=["email"])
    assert usable(route(no_consent, store, MARKETING)) == []
    assert usable(route(no_consent, store, UTILITY)) == [Channel.WHATSAPP, Channel.EMAIL]
    assert usable(route(customer(), store, MARKETING)) == [Channel.WHATSAPP, Channel.EMAIL]


def test_category_comes_from_the_purpose_unless_the_template_mapping_says() -> None:
    plan = {s.id: s for s in default_plan().steps}
    plain = settings()
    assert message_category(plan["thanks"], plain) is UTILITY
    assert message_category(plan["feedback_request"], plain) is UTILITY
    assert message_category(plan["come_back_coupon"], plain) is MARKETING
    mapped = settings(
        whatsapp_templates={
            "thanks": {"name": "obrigado", "category": "marketing"},
            "come_back_coupon": {"name": "cupom"},
        }
    )
    assert message_category(plan["thanks"], mapped) is MARKETING
    assert message_category(plan["come_back_coupon"], mapped) is MARKETING
    step = Step(id="x", template="photo_invite", purpose="promotional")
    relabelled = settings(
        whatsapp_templates={"photo_invite": {"name": "foto", "category": "utility"}}
    )
    assert message_category(step, relabelled) is UTILITY


def test_no_route_lines_name_the_fields_or_every_channels_obstacles() -> None:
    alone = route(customer(phone=None, whatsapp_opt_in=False), settings(), UTILITY)
    assert no_route_lines(alone) == [
        "order.customer.phone: required for channel whatsapp",
        "order.customer.whatsapp_opt_in: required for channel whatsapp",
    ]
    both = route(
        customer(whatsapp_opt_in=False, email=None), settings(fallback_channels=["email"]), UTILITY
    )
    assert no_route_lines(both) == [
        "order.customer: no channel can reach the customer "
        "(whatsapp: no WhatsApp opt-in; email: no email)"
    ]


def test_settings_refuse_a_repeated_fallback_and_a_bad_parameter_path() -> None:
    with pytest.raises(ValueError, match="only once"):
        settings(fallback_channels=["email", "email"])
    with pytest.raises(ValueError, match="not a variable path"):
        settings(whatsapp_templates={"thanks": {"name": "obrigado", "parameters": ["{{1}}"]}})

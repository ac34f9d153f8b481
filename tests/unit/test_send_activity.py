"""A send through the real adapters and fake providers: channel choice, fallback
from an unreachable WhatsApp number to email, and consent before anything goes."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from models import Channel, MessageRequest
from tests.fake_email import FakeEmail
from tests.fake_whatsapp import FakeWhatsApp
from tests.messages import KEY, STEPS, request


@pytest.fixture
def activities(provider_activities: JourneyActivities) -> JourneyActivities:
    return provider_activities


async def send(activities: JourneyActivities, req: MessageRequest):
    activity = (
        activities.request_feedback
        if req.step.kind == "feedback_request"
        else (activities.send_message)
    )
    return await ActivityEnvironment().run(activity, req)


async def refused(activities: JourneyActivities, req: MessageRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        await send(activities, req)
    return exc.value


async def test_whatsapp_carries_the_mapped_template_with_rendered_parameters(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    receipt = await send(activities, request(STEPS["feedback_request"]))
    [sent] = whatsapp.sent
    assert (sent.template, sent.language, sent.to) == (
        "pos_venda_avaliacao",
        "pt_BR",
        "5511987654321",
    )
    assert sent.parameters[0] == "Ana"
    # The link to the web service's feedback page (the worker's JOURNEY_PUBLIC_URL).
    assert sent.parameters[1].startswith("http://localhost:8000/feedback?token=")
    assert (receipt.channel, receipt.message_id, receipt.route_reason) == (
        Channel.WHATSAPP,
        sent.id,
        "store channel",
    )
    assert receipt.unreachable == [] and email.requests == []


async def test_an_english_customer_gets_the_en_us_template(
    activities: JourneyActivities, whatsapp: FakeWhatsApp
) -> None:
    await send(activities, request(customer={"locale": "en"}))
    assert whatsapp.sent[0].language == "en_US"


async def test_an_unreachable_number_falls_back_to_email_in_the_same_send(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    whatsapp.unreachable.add("5511987654321")
    req = request(fallback_channels=["email"], customer={"name": "<b>Ana</b> Souza"})
    receipt = await send(activities, req)

    assert [r.status for r in whatsapp.requests] == [400] and whatsapp.sent == []
    [sent] = email.sent
    assert sent.idempotency_key == f"{KEY}:email"
    assert sent.payload["to"] == ["ana@example.com"]
    # The HTML body is autoescaped; the text alternative is plain text.
    assert "&lt;b&gt;Ana&lt;/b&gt;" in sent.payload["html"] and "<b>Ana" not in sent.payload["html"]
    assert "<b>Ana</b>" in sent.payload["text"]
    assert "List-Unsubscribe" in sent.headers
    assert receipt.channel is Channel.EMAIL
    assert receipt.unreachable == [Channel.WHATSAPP]
    assert receipt.route_reason is not None
    assert receipt.route_reason.startswith("store fallback; whatsapp skipped: RecipientUnreachable")

    # The same send retried (a worker died before reporting): WhatsApp refuses
    # again, the email goes with the same key, and the provider sends nothing new.
    again = await send(activities, req)
    assert again.message_id == receipt.message_id
    assert len(email.sent) == 1 and len(email.requests) == 2


async def test_a_channel_known_unreachable_is_not_tried_again(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    req = request(fallback_channels=["email"], unreachable=[Channel.WHATSAPP])
    receipt = await send(activities, req)
    assert whatsapp.requests == []
    assert email.sent[0].idempotency_key == KEY  # the first channel tried keeps the step's key
    assert receipt.route_reason == "store fallback; whatsapp skipped: unreachable"
    assert receipt.unreachable == []


async def test_without_a_fallback_an_unreachable_number_stops_with_its_type(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    whatsapp.unreachable.add("5511987654321")
    err = await refused(activities, request())
    assert (err.type, err.non_retryable) == ("RecipientUnreachable", True)
    assert email.requests == []


async def test_nothing_goes_by_whatsapp_without_the_opt_in(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    # Validation refuses such a journey; the send checks again, as the last line.
    req = request().model_copy(deep=True)
    customer = req.order.customer.model_copy(update={"whatsapp_opt_in": False})
    req = req.model_copy(update={"order": req.order.model_copy(update={"customer": customer})})
    err = await refused(activities, req)
    assert (err.type, err.non_retryable) == ("NoContact", True)
    assert "no WhatsApp opt-in" in err.message
    assert whatsapp.requests == [] and email.requests == []

    with_fallback = request(fallback_channels=["email"], customer={"whatsapp_opt_in": False})
    receipt = await send(activities, with_fallback)
    assert whatsapp.requests == [] and len(email.sent) == 1
    assert receipt.route_reason == "store fallback; whatsapp skipped: no WhatsApp opt-in"


@pytest.mark.parametrize("step_id", ["photo_invite", "come_back_coupon"])
async def test_no_marketing_message_without_marketing_consent(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail, step_id: str
) -> None:
    req = request(STEPS[step_id], customer={"marketing_opt_in": False}, fallback_channels=["email"])
    err = await refused(activities, req)
    assert (err.type, err.non_retryable) == ("NoMarketingConsent", True)
    assert whatsapp.requests == [] and email.requests == []
    # With consent the same step goes.
    await send(activities, request(STEPS[step_id]))
    assert len(whatsapp.sent) == 1


async def test_a_service_step_goes_without_marketing_consent(
    activities: JourneyActivities, whatsapp: FakeWhatsApp
) -> None:
    await send(
        activities, request(STEPS["delivery_questions"], customer={"marketing_opt_in": False})
    )
    assert len(whatsapp.sent) == 1


async def test_a_step_without_an_approved_template_goes_by_the_fallback(
    activities: JourneyActivities, whatsapp: FakeWhatsApp, email: FakeEmail
) -> None:
    req = request(fallback_channels=["email"])
    templates = dict(req.settings.whatsapp_templates)
    del templates["thanks"]
    req = req.model_copy(
        update={"settings": req.settings.model_copy(update={"whatsapp_templates": templates})}
    )
    receipt = await send(activities, req)
    assert whatsapp.requests == [] and len(email.sent) == 1
    assert receipt.channel is Channel.EMAIL and receipt.unreachable == []
    assert receipt.route_reason is not None and "TemplateRequired" in receipt.route_reason

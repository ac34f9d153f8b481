"""Whole journeys in virtual time through the real WhatsApp and email adapters,
pointed at the fake providers on loopback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from messages.feedback_links import verify_feedback_token
from messages.unsubscribe_links import verify_unsubscribe_token
from models import JourneyProgress, JourneyStatus, StepStatus
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.conftest import FEEDBACK_SECRET
from tests.fake_email import FakeEmail
from tests.fake_whatsapp import FakeWhatsApp, error
from tests.journeys import running_worker
from tests.providers import WHATSAPP_TEMPLATES

DEFAULT_STEPS = [
    "thanks",
    "feedback_request",
    "photo_invite",
    "delivery_questions",
    "come_back_coupon",
]


@pytest.fixture
def activities(provider_activities: JourneyActivities) -> JourneyActivities:
    return provider_activities


async def run_default_plan(
    env: WorkflowEnvironment,
    activities: JourneyActivities,
    customer: dict[str, Any] | None = None,
    **settings: Any,
) -> JourneyProgress:
    # Delivered at 10:00 in São Paulo, reported at noon: every step is due in the window.
    reported = await advance_to(env, "12:00")
    # The plan alone: the reminder's template is not among the approved ones here.
    settings.setdefault("feedback_reminder_after", None)
    order = builders.order(reported - timedelta(hours=2), customer=customer or {})
    store = builders.settings(whatsapp_templates=WHATSAPP_TEMPLATES, **settings)
    async with running_worker(env.client, activities) as task_queue:
        started = await start_journey(env.client, order, store, task_queue=task_queue, now=reported)
        return await started.handle.result()


async def test_the_default_plan_goes_out_as_approved_whatsapp_templates(
    time_skipping_env: WorkflowEnvironment,
    activities: JourneyActivities,
    whatsapp: FakeWhatsApp,
    email: FakeEmail,
) -> None:
    progress = await run_default_plan(time_skipping_env, activities)

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == [StepStatus.SENT] * 5
    assert [m.template for m in whatsapp.sent] == [
        WHATSAPP_TEMPLATES[step]["name"] for step in DEFAULT_STEPS
    ]
    assert [s.message_id for s in progress.steps] == [m.id for m in whatsapp.sent]
    assert all(m.to == "5511987654321" and m.language == "pt_BR" for m in whatsapp.sent)
    thanks, feedback, photo, _, coupon = whatsapp.sent
    assert thanks.parameters == ["Ana", "Loja Um", "PED-1"]
    assert photo.parameters == ["Ana", "@lojaum"]
    assert coupon.parameters == ["Ana", "10% de desconto", "VOLTE10"]
    token = parse_qs(urlsplit(feedback.parameters[1]).query)["token"][0]
    claims = verify_feedback_token(
        token, FEEDBACK_SECRET.encode(), now=progress.steps[1].scheduled_for
    )
    assert claims.journey_id == progress.journey_id
    assert email.requests == []


async def test_an_unreachable_number_moves_the_journey_to_email_and_marketing_waits_for_consent(
    time_skipping_env: WorkflowEnvironment,
    activities: JourneyActivities,
    whatsapp: FakeWhatsApp,
    email: FakeEmail,
) -> None:
    whatsapp.unreachable.add("5511987654321")
    progress = await run_default_plan(
        time_skipping_env,
        activities,
        customer={"marketing_opt_in": False},
        fallback_channels=["email"],
    )

    assert progress.status is JourneyStatus.COMPLETED
    outcome = {s.step_id: (s.status, s.channel, s.reason) for s in progress.steps}
    assert outcome == {
        "thanks": (StepStatus.SENT, "email", None),
        "feedback_request": (StepStatus.SENT, "email", None),
        "photo_invite": (StepStatus.SKIPPED, "whatsapp", "no marketing consent"),
        "delivery_questions": (StepStatus.SENT, "email", None),
        "come_back_coupon": (StepStatus.SKIPPED, "whatsapp", "no marketing consent"),
    }
    thanks = progress.steps[0]
    assert thanks.route_reason is not None and "131026" in thanks.route_reason
    assert whatsapp.sent == []
    # Only the first step tried WhatsApp: the journey remembers the number is unreachable.
    assert len(whatsapp.requests) == 1
    keys = [m.idempotency_key for m in email.sent]
    assert keys == [
        f"{progress.journey_id}:thanks:email",
        f"{progress.journey_id}:feedback_request",
        f"{progress.journey_id}:delivery_questions",
    ]
    assert [s.message_id for s in progress.steps if s.status is StepStatus.SENT] == [
        m.id for m in email.sent
    ]
    for sent in email.sent:
        assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https = sent.headers["List-Unsubscribe"].split(",")[0].strip("<> ")
        token = parse_qs(urlsplit(https).query)["token"][0]
        assert verify_unsubscribe_token(token, FEEDBACK_SECRET.encode()) == progress.journey_id


async def test_provider_limits_delay_a_step_by_the_backoff_they_ask_and_it_goes_once(
    time_skipping_env: WorkflowEnvironment,
    activities: JourneyActivities,
    whatsapp: FakeWhatsApp,
) -> None:
    # Attempt 1: throughput limit (6 s); attempt 2: the marketing cap (30 min doubled).
    whatsapp.queue(error(130429, "throughput"), error(131049, "marketing cap"))
    progress = await run_default_plan(time_skipping_env, activities)

    thanks = progress.steps[0]
    assert thanks.status is StepStatus.SENT and thanks.sent_at is not None
    delay = thanks.sent_at - thanks.scheduled_for
    assert timedelta(hours=1, seconds=6) <= delay < timedelta(hours=1, minutes=1)
    assert [m.template for m in whatsapp.sent] == [
        WHATSAPP_TEMPLATES[step]["name"] for step in DEFAULT_STEPS
    ]

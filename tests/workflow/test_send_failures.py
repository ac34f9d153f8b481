"""What a journey does when the provider fails: retries that never duplicate, and
refusals that are recorded, not retried."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities, WorkerConfig, build_activities
from models import JourneyStatus, StepStatus
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.conftest import FEEDBACK_SECRET
from tests.journeys import Journey, running_worker
from tests.provider_sink import Answer, ProviderSink

TWO_STEPS = {
    "steps": [
        {"id": "thanks", "template": "thanks"},
        {"id": "questions", "template": "delivery_questions", "wait": "P3D"},
    ]
}


@pytest.fixture
def sink() -> Iterator[ProviderSink]:
    with ProviderSink().running() as running:
        yield running


@pytest.fixture
async def webhook_activities(sink: ProviderSink) -> AsyncIterator[JourneyActivities]:
    activities = build_activities(
        WorkerConfig(
            feedback_secret=FEEDBACK_SECRET,
            adapter="webhook",
            webhook_url=sink.url,
            webhook_secret="hook-secret",
        )
    )
    yield activities
    await activities.aclose()


async def run_journey(env: WorkflowEnvironment, activities: JourneyActivities):
    # Delivered at 10:00 in São Paulo and reported an hour later: every step is due
    # inside the send window.
    reported = await advance_to(env, "11:00")
    async with running_worker(env.client, activities) as task_queue:
        started = await start_journey(
            env.client,
            builders.order(reported - timedelta(hours=1)),
            builders.settings(),
            TWO_STEPS,
            task_queue=task_queue,
            now=reported,
        )
        return await started.handle.result()


async def test_transient_failures_are_retried_with_one_key_and_delivered_once(
    time_skipping_env: WorkflowEnvironment,
    webhook_activities: JourneyActivities,
    sink: ProviderSink,
) -> None:
    sink.script(
        Answer(500, {"error": "boom"}),
        Answer(429, {"error": "slow down"}, {"Retry-After": "3"}),
        Answer(503),
    )
    progress = await run_journey(time_skipping_env, webhook_activities)

    assert [s.status for s in progress.steps] == [StepStatus.SENT, StepStatus.SENT]
    attempts = [r for r in sink.received if r.idempotency_key.endswith(":thanks")]
    assert [r.answered for r in attempts] == [500, 429, 503, 200]
    assert len({r.idempotency_key for r in attempts}) == 1
    delivered_keys = [r.idempotency_key for r in sink.delivered()]
    assert delivered_keys == [f"{progress.journey_id}:thanks", f"{progress.journey_id}:questions"]


async def test_a_rejected_message_is_not_retried_and_the_journey_goes_on(
    time_skipping_env: WorkflowEnvironment,
    webhook_activities: JourneyActivities,
    sink: ProviderSink,
) -> None:
    sink.script(Answer(400, {"error": "template not approved"}))
    progress = await run_journey(time_skipping_env, webhook_activities)

    thanks, questions = progress.steps
    assert thanks.status is StepStatus.FAILED
    assert thanks.error_type == "MessageRejected"
    assert "template not approved" in (thanks.error or "")
    assert questions.status is StepStatus.SENT
    assert progress.status is JourneyStatus.COMPLETED
    assert [r.answered for r in sink.received] == [400, 200]


async def test_an_invalid_recipient_stops_the_journey(
    time_skipping_env: WorkflowEnvironment,
    webhook_activities: JourneyActivities,
    sink: ProviderSink,
) -> None:
    sink.script(Answer(422, {"reason": "invalid_recipient"}))
    progress = await run_journey(time_skipping_env, webhook_activities)

    assert progress.status is JourneyStatus.STOPPED
    assert progress.stop_reason is not None and "RecipientRejected" in progress.stop_reason
    thanks, questions = progress.steps
    assert thanks.status is StepStatus.FAILED and thanks.error_type == "RecipientRejected"
    assert questions.status is StepStatus.SKIPPED
    assert questions.reason == "journey stopped: RecipientRejected"
    assert len(sink.received) == 1


async def test_an_opt_out_cancels_a_send_that_is_still_retrying(
    time_skipping_env: WorkflowEnvironment,
    webhook_activities: JourneyActivities,
    sink: ProviderSink,
) -> None:
    env = time_skipping_env
    sink.script(*[Answer(503, {"error": "down"})] * 50)
    await advance_to(env, "14:00")
    async with running_worker(env.client, webhook_activities) as task_queue:
        journey = Journey(env, task_queue)
        await journey.report("delivered")
        # Delivered at 14:00, the first message is due at 14:00 the next day, inside the
        # window; its provider then fails for the next three hours.
        await journey.wait(days=1, hours=3)
        attempts = len(sink.received)
        assert attempts >= 2 and sink.delivered() == []
        await journey.report("opted_out")
        progress = await journey.result()

    thanks = progress.steps[0]
    assert (thanks.step_id, thanks.status, thanks.reason) == (
        "thanks",
        StepStatus.SKIPPED,
        "customer opted out",
    )
    assert progress.status is JourneyStatus.STOPPED
    assert sink.delivered() == []
    assert len(sink.received) <= attempts + 1  # at most the attempt already in flight

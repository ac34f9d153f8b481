"""Provider faults: transient ones are retried under one idempotency key until the
message is delivered, once; permanent refusals are not retried and are recorded in
the journey's progress, which goes on (a rejected message) or stops (an invalid
recipient)."""

from __future__ import annotations

from collections import Counter

from temporalio.testing import WorkflowEnvironment

from activities import WorkerConfig, build_activities
from models import JourneyStatus, StepStatus
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.conftest import FEEDBACK_SECRET
from tests.harness import Harness, assert_exactly_once, expected_keys
from tests.journeys import running_worker
from tests.processes import wait_until
from tests.provider_sink import RESET, Answer, ProviderSink
from workflows import OrderJourney

THREE_STEPS = {
    "steps": [
        {"id": "thanks", "template": "thanks"},
        {"id": "questions", "template": "delivery_questions", "wait": "P3D"},
        # A long last wait: the progress query reads the journey while it still runs.
        {"id": "coupon", "template": "come_back_coupon", "wait": "P20D"},
    ]
}


async def test_with_a_third_of_requests_failing_each_message_is_delivered_once(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    env = time_skipping_env
    sink = ProviderSink(fail_every=3, retry_after=2)
    activities = build_activities(
        WorkerConfig(
            feedback_secret=FEEDBACK_SECRET,
            adapter="webhook",
            webhook_url=sink.url,
            webhook_secret="hook-secret",
        )
    )
    delivered = await advance_to(env, "10:00")
    try:
        with sink.running():
            async with running_worker(env.client, activities) as task_queue:
                journeys = [
                    await start_journey(
                        env.client,
                        builders.order(delivered, order_id=f"PED-{n}"),
                        builders.settings(),
                        task_queue=task_queue,
                        now=delivered,
                    )
                    for n in range(1, 5)
                ]
                progresses = [await j.handle.result() for j in journeys]
    finally:
        await activities.aclose()

    assert all(p.status is JourneyStatus.COMPLETED for p in progresses)
    assert all(s.status is StepStatus.SENT for p in progresses for s in p.steps)
    records = sink.snapshot()
    assert_exactly_once(records, expected_keys(journeys))
    statuses = Counter(a.status for a in records.attempts)
    assert statuses[500] and statuses[429] and statuses[RESET], statuses
    assert statuses[500] + statuses[429] + statuses[RESET] == len(records.attempts) // 3
    # Every failed attempt was retried under the same key until one was accepted.
    assert not any(a.duplicate for a in records.attempts)


async def test_an_answer_slower_than_the_http_timeout_is_retried_without_a_duplicate(
    harness: Harness,
) -> None:
    # The provider takes the message, then answers after the client has given up.
    await harness.sink.script(Answer(200, {"id": "slow-1"}, delay=4, key_suffix=":thanks"))
    worker = harness.worker(http_timeout_seconds="1")
    journeys = await harness.start_journeys(1)
    [progress] = await harness.results(journeys)

    assert progress.status is JourneyStatus.COMPLETED
    assert progress.steps[0].message_id == "slow-1"
    records = await harness.sink.records()
    key = f"{journeys[0].journey_id}:thanks"
    attempts = [(a.status, a.duplicate) for a in records.attempts if a.key == key]
    assert attempts == [(200, False), (200, True)]
    assert_exactly_once(records, expected_keys(journeys))
    assert worker.running()


async def test_permanent_refusals_are_recorded_and_not_retried(harness: Harness) -> None:
    await harness.sink.script(
        Answer(400, {"error": "template not approved"}, key_suffix="PED-1:questions"),
        Answer(422, {"reason": "invalid_recipient"}, key_suffix="PED-2:questions"),
    )
    harness.worker()
    rejected, unreachable = await harness.start_journeys(2, THREE_STEPS)

    # While the first journey waits for its last step, its progress shows the refusal.
    async def refusal_recorded() -> bool:
        progress = await rejected.handle.query(OrderJourney.progress)
        return len(progress.steps) == 2

    await wait_until(refusal_recorded, 30, "refusal in the progress")
    running = await rejected.handle.query(OrderJourney.progress)
    assert running.status is JourneyStatus.WAITING and running.next_step == "coupon"
    thanks, questions = running.steps
    assert thanks.status is StepStatus.SENT
    assert questions.status is StepStatus.FAILED
    assert questions.error_type == "MessageRejected"
    assert "template not approved" in (questions.error or "")

    went_on, stopped = await harness.results([rejected, unreachable])
    assert went_on.status is JourneyStatus.COMPLETED
    assert [s.status for s in went_on.steps] == [
        StepStatus.SENT,
        StepStatus.FAILED,
        StepStatus.SENT,
    ]
    assert stopped.status is JourneyStatus.STOPPED
    assert stopped.stop_reason is not None and "RecipientRejected" in stopped.stop_reason
    assert [(s.step_id, s.status, s.error_type) for s in stopped.steps] == [
        ("thanks", StepStatus.SENT, None),
        ("questions", StepStatus.FAILED, "RecipientRejected"),
        ("coupon", StepStatus.SKIPPED, None),
    ]
    assert await unreachable.handle.query(OrderJourney.progress) == stopped

    records = await harness.sink.records()
    # Each refusal was the only attempt of its key; the stopped journey sent no more.
    attempts = records.attempts_per_key()
    assert attempts[f"{rejected.journey_id}:questions"] == 1
    assert attempts[f"{unreachable.journey_id}:questions"] == 1
    assert f"{unreachable.journey_id}:coupon" not in attempts
    assert set(records.deliveries_per_key()) == {
        f"{rejected.journey_id}:thanks",
        f"{rejected.journey_id}:coupon",
        f"{unreachable.journey_id}:thanks",
    }

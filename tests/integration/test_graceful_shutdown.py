"""SIGTERM on the worker: in-flight sends finish within the grace period
(JOURNEY_SHUTDOWN_GRACE_SECONDS); a send that outlasts it is cut off and retried by
the next worker, once, and the provider's idempotency key keeps it a single delivery.
"""

from __future__ import annotations

import asyncio

from models import JourneyStatus, StepStatus
from tests.harness import Harness, assert_exactly_once, expected_keys, messages_per_journey
from tests.processes import wait_until
from tests.provider_sink import Answer


async def first_send_in_flight(harness: Harness, key: str) -> None:
    async def arrived() -> bool:
        return key in (await harness.sink.records()).attempts_per_key()

    await wait_until(arrived, 30, "first send in flight")


async def test_sigterm_lets_an_in_flight_send_finish_and_it_is_never_repeated(
    harness: Harness,
) -> None:
    await harness.sink.script(Answer(200, {"id": "slow-1"}, delay=3, key_suffix=":thanks"))
    worker = harness.worker(shutdown_grace_seconds="30")
    journeys = await harness.start_journeys(1)
    key = f"{journeys[0].journey_id}:thanks"

    await first_send_in_flight(harness, key)
    assert await asyncio.to_thread(worker.stop, 30) == 0
    # The worker waited for the answer and reported it: the send is not attempted again.
    assert worker.logged("sent thanks")
    harness.worker()
    [progress] = await harness.results(journeys)

    assert progress.status is JourneyStatus.COMPLETED
    assert progress.steps[0].message_id == "slow-1"
    records = await harness.sink.records()
    assert set(records.attempts_per_key().values()) == {1}, records.attempts_per_key()
    assert_exactly_once(records, expected_keys(journeys))


async def test_a_send_longer_than_the_grace_period_is_cut_off_and_retried_once(
    harness: Harness,
) -> None:
    await harness.sink.script(Answer(200, {"id": "slow-1"}, delay=20, key_suffix=":thanks"))
    worker = harness.worker(shutdown_grace_seconds="1")
    journeys = await harness.start_journeys(1)
    key = f"{journeys[0].journey_id}:thanks"

    await first_send_in_flight(harness, key)
    assert await asyncio.to_thread(worker.stop, 15) == 0
    assert not worker.logged("sent thanks")  # cut off before the provider answered
    harness.worker()
    [progress] = await harness.results(journeys)

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == [StepStatus.SENT] * len(messages_per_journey())
    records = await harness.sink.records()
    attempts = [a for a in records.attempts if a.key == key]
    # The cut-off request and exactly one retry, which the provider knew by its key.
    assert [(a.status, a.duplicate) for a in attempts] == [(200, False), (200, True)]
    assert progress.steps[0].message_id == "slow-1"
    assert_exactly_once(records, expected_keys(journeys))

"""Crashes and restarts on a small real deployment (tests/harness.py): the dev server
on a SQLite file, workers as processes, the provider sink as a process. Whatever is
killed, every message reaches the provider exactly once, counted by idempotency key.
"""

from __future__ import annotations

import asyncio

import pytest

from models import JourneyStatus, StepStatus
from tests.harness import Harness, assert_exactly_once, expected_keys, messages_per_journey
from tests.processes import wait_until
from tests.provider_sink import Answer
from workflows import PostPurchaseJourney

SENT_ALL = [StepStatus.SENT] * len(messages_per_journey())


async def test_worker_killed_during_a_wait_finishes_the_journey_exactly_once(
    harness: Harness,
) -> None:
    worker = harness.worker()
    journeys = await harness.start_journeys(1)

    # Kill the worker right after the first message, while the journey waits for the next.
    await wait_until(lambda: harness.delivered_at_least(1), 30, "first message")
    worker.kill()
    killed_after = await harness.delivered()
    await asyncio.sleep(1.5)  # journey time moves on with no worker at all
    assert await harness.delivered() == killed_after

    harness.worker()
    [progress] = await harness.results(journeys)

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == SENT_ALL
    assert_exactly_once(await harness.sink.records(), expected_keys(journeys))
    assert killed_after < len(messages_per_journey()), (
        "the kill must land during the journey, not after it"
    )


@pytest.mark.parametrize(
    ("dedupe", "deliveries_of_the_cut_send"),
    [
        pytest.param(True, 1, id="provider-honours-keys"),
        pytest.param(False, 2, id="provider-ignores-keys"),
    ],
)
async def test_worker_killed_while_a_send_is_in_flight(
    harness: Harness, dedupe: bool, deliveries_of_the_cut_send: int
) -> None:
    """The provider accepts the first message and is slow to answer; the worker dies
    before the answer arrives, so Temporal retries the send once the attempt times
    out. A provider that honours the key answers the retry with the same message id;
    one that ignores it delivers that very message twice, and no other."""
    await harness.sink.configure(dedupe=dedupe)
    await harness.sink.script(Answer(200, delay=60, key_suffix=":thanks"))
    worker = harness.worker()
    journeys = await harness.start_journeys(1)
    cut_key = f"{journeys[0].journey_id}:thanks"

    async def in_flight() -> bool:
        return any(a.key == cut_key for a in (await harness.sink.records()).attempts)

    await wait_until(in_flight, 30, "first send in flight")
    worker.kill()
    harness.worker()
    # The retry waits for the attempt's start-to-close timeout (30 s in the workflow).
    [progress] = await harness.results(journeys, 90)

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == SENT_ALL
    records = await harness.sink.records()
    per_key = records.deliveries_per_key()
    assert per_key[cut_key] == deliveries_of_the_cut_send
    assert records.attempts_per_key()[cut_key] == 2
    if dedupe:
        [retry] = [a for a in records.attempts if a.key == cut_key and a.duplicate]
        assert retry.status == 200
        first = next(d for d in records.deliveries if d.key == cut_key)
        assert progress.steps[0].message_id == first.message_id
        assert_exactly_once(records, expected_keys(journeys))
    else:
        others = {k: n for k, n in per_key.items() if k != cut_key}
        assert set(others) == expected_keys(journeys) - {cut_key}
        assert set(others.values()) == {1}, others


async def test_dev_server_restarted_on_its_database_mid_journey(harness: Harness) -> None:
    worker = harness.worker()
    journeys = await harness.start_journeys(3)

    await wait_until(lambda: harness.delivered_at_least(3), 30, "first messages")
    assert await asyncio.to_thread(harness.server.stop) == 0
    during_outage = await harness.delivered()
    await asyncio.sleep(1)  # journey timers come due while the server is down
    harness.server.start()
    await harness.server.ready(harness.client)
    # A send in flight when the server stopped may need its 30 s attempt timeout.
    progresses = await harness.results(journeys, 90)

    assert during_outage < 15, "the outage must land during the journeys"
    assert worker.running(), "the worker rides out the outage"
    assert all(p.status is JourneyStatus.COMPLETED for p in progresses)
    assert_exactly_once(await harness.sink.records(), expected_keys(journeys))


async def test_two_workers_on_one_queue_one_killed(harness: Harness) -> None:
    # A long second wait, so the kill lands while every journey waits.
    plan = {
        "steps": [
            {"id": "thanks", "template": "thanks"},
            {"id": "questions", "template": "delivery_questions", "wait": "P12D"},
            {"id": "coupon", "template": "come_back_coupon", "wait": "P1D"},
        ]
    }
    first, second = harness.worker(), harness.worker()
    await harness.polling(first, second)
    journeys = await harness.start_journeys(6, plan)

    await wait_until(
        lambda: first.logged("sent ") and second.logged("sent "), 30, "sends by both workers"
    )

    async def all_waiting() -> bool:
        progresses = [await j.handle.query(PostPurchaseJourney.progress) for j in journeys]
        return all(p.status is JourneyStatus.WAITING and p.steps for p in progresses)

    await wait_until(all_waiting, 30, "every journey waiting after its first message")
    first.kill()
    progresses = await harness.results(journeys, 90)

    assert second.running()
    assert all(p.status is JourneyStatus.COMPLETED for p in progresses)
    assert_exactly_once(await harness.sink.records(), expected_keys(journeys, plan))

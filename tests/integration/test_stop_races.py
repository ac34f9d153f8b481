"""A stop that races a send: what the journey records is what the customer got.

On the dev server with the worker as its own process and a receiver on loopback (the
provider sink), each stop comes both ways: the customer's opt-out (PED-1) and an
operator's cancel (PED-2). A send in flight at the stop is waited for: a held request
the receiver takes is *sent*, landed after the stop; a stop while the send waits to
retry after a request that got no answer asks the receiver (*sent*) or, when it cannot
be asked, records the *outcome unknown*; a stop before any attempt is *skipped*, with
the receiver never called. Nothing is ever sent after the stop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx
from temporalio.client import WorkflowFailureError

from journey.stops import CANCELLED, FOUND_AFTER_STOP, OPTED_OUT
from models import JourneyProgress, JourneyStatus, StepStatus
from operators.status import journey_status
from starter import JourneyStarted
from tests.harness import Harness, waiting_to_retry
from tests.processes import free_port, wait_until
from tests.prometheus import total
from tests.provider_sink import Answer, SinkRecords
from workflows import OrderJourney

# The first journey is opted out, the second cancelled by an operator.
STOPS = (OPTED_OUT, CANCELLED)


def thanks_key(journey: JourneyStarted) -> str:
    return f"{journey.journey_id}:thanks"


async def stop(journey: JourneyStarted, how: str) -> None:
    if how == OPTED_OUT:
        await journey.handle.execute_update(OrderJourney.opt_out, "asked to stop")
    else:
        await journey.handle.cancel()


async def record(journey: JourneyStarted) -> JourneyProgress:
    """The journey's own record once it has ended, opted out or cancelled."""
    with contextlib.suppress(WorkflowFailureError):  # a cancelled run fails its result
        await journey.handle.result()
    return await journey.handle.query(OrderJourney.progress)


async def current_details(journey: JourneyStarted) -> str:
    """What the Web UI shows as the run's current details."""
    metadata = await journey.handle.query("__temporal_workflow_metadata")
    return str(metadata.current_details)


async def request_arrived(harness: Harness, *journeys: JourneyStarted) -> None:
    async def arrived() -> bool:
        attempts = (await harness.sink.records()).attempts_per_key()
        return all(thanks_key(j) in attempts for j in journeys)

    await wait_until(arrived, 30, "thanks request at the receiver")


async def all_waiting_to_retry(*journeys: JourneyStarted) -> None:
    """Until each journey's send has had its first attempt and waits for its second."""

    async def waiting() -> bool:
        return all([await waiting_to_retry(j.handle) for j in journeys])

    await wait_until(waiting, 30, "send waiting to retry")


async def cancelled_between_attempts(journey: JourneyStarted) -> bool:
    """The server cancelled the send itself, no attempt running: the send had no word."""
    history = await journey.handle.fetch_history()
    return any(
        event.HasField("activity_task_canceled_event_attributes") for event in history.events
    )


async def scrape(address: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(f"http://{address}/metrics")
        response.raise_for_status()
        return response.text


def assert_skipped_after(progress: JourneyProgress, how: str) -> None:
    """Every step after the first was dropped by the stop, and the journey says why."""
    reason = OPTED_OUT if how == OPTED_OUT else f"journey {CANCELLED}"
    assert all((s.status, s.reason) == (StepStatus.SKIPPED, reason) for s in progress.steps[1:])
    assert progress.status is JourneyStatus.STOPPED


Moment = Callable[..., Awaitable[None]]


async def race(
    harness: Harness, answer: Callable[[int], Answer], moment: Moment, **worker_env: str
) -> list[tuple[JourneyStarted, str, JourneyProgress]]:
    """Two journeys whose first message's request gets `answer(n)` from the receiver,
    stopped at `moment` of that send: PED-1 opted out, PED-2 cancelled. Each journey,
    its stop and its record once it has ended."""
    for n in (1, 2):
        await harness.sink.script(replace(answer(n), key_suffix=f"PED-{n}:thanks"))
    harness.worker(**worker_env)
    journeys = await harness.start_journeys(2)
    await moment(*journeys)
    for journey, how in zip(journeys, STOPS, strict=True):
        await stop(journey, how)
    return [(j, how, await record(j)) for j, how in zip(journeys, STOPS, strict=True)]


def assert_one_request_each(records: SinkRecords, journeys: list[JourneyStarted]) -> None:
    """Each first message was requested once: nothing went out again after the stop."""
    assert records.attempts_per_key() == {thanks_key(j): 1 for j in journeys}


async def test_a_stop_during_a_held_request_records_it_sent_and_landed_after_the_stop(
    harness: Harness,
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    # The receiver holds the request 5 s, then takes it: within the 10 s HTTP timeout.
    stopped = await race(
        harness,
        lambda n: Answer(200, {"id": f"held-{n}"}, delay=5),
        lambda *journeys: request_arrived(harness, *journeys),
        metrics_address=metrics,
    )

    for n, (journey, how, progress) in enumerate(stopped, start=1):
        thanks = progress.steps[0]
        assert (thanks.step_id, thanks.status, thanks.message_id) == (
            "thanks",
            StepStatus.SENT,
            f"held-{n}",
        )
        assert thanks.after_stop == how
        assert thanks.stop_note == f"landed after the stop ({how})"
        assert_skipped_after(progress, how)
        assert f"landed after the stop ({how})" in await journey_status(
            harness.client, journey.journey_id
        )
        details = await current_details(journey)
        assert "- sent `thanks` by whatsapp" in details
        assert f"landed after the stop ({how})" in details
    records = await harness.sink.records()
    assert_one_request_each(records, [j for j, _, _ in stopped])
    assert records.deliveries_per_key() == {thanks_key(j): 1 for j, _, _ in stopped}
    text = await scrape(metrics)
    assert total(text, "journey_stopped_sends", outcome="landed_after_stop") == 2
    assert total(text, "journey_stopped", reason="cancelled") == 1


async def test_a_stop_during_a_request_held_past_the_http_timeout_asks_the_receiver(
    harness: Harness,
) -> None:
    # Taken as it arrives, answered after the worker's 1 s timeout: the attempt fails on
    # its timeout before the stop reaches it, and no other follows.
    stopped = await race(
        harness,
        lambda n: Answer(200, {"id": f"held-{n}"}, delay=3),
        lambda *journeys: request_arrived(harness, *journeys),
        http_timeout_seconds="1",
    )

    for n, (_, how, progress) in enumerate(stopped, start=1):
        thanks = progress.steps[0]
        assert (thanks.status, thanks.message_id, thanks.after_stop, thanks.reason) == (
            StepStatus.SENT,
            f"held-{n}",
            how,
            FOUND_AFTER_STOP,
        )
        assert_skipped_after(progress, how)
    records = await harness.sink.records()
    assert set(records.lookups) == {thanks_key(j) for j, _, _ in stopped}
    assert_one_request_each(records, [j for j, _, _ in stopped])


async def test_a_stop_while_a_send_waits_to_retry_asks_the_receiver_and_finds_it_sent(
    harness: Harness,
) -> None:
    # The receiver takes the request, but answers after the worker's 1 s timeout.
    stopped = await race(
        harness,
        lambda n: Answer(200, {"id": f"late-{n}"}, delay=2.5),
        all_waiting_to_retry,
        http_timeout_seconds="1",
    )

    for n, (journey, how, progress) in enumerate(stopped, start=1):
        thanks = progress.steps[0]
        assert (thanks.status, thanks.message_id, thanks.after_stop) == (
            StepStatus.SENT,
            f"late-{n}",
            how,
        )
        assert thanks.reason == FOUND_AFTER_STOP
        assert thanks.sent_at is None  # nobody saw when it landed
        assert_skipped_after(progress, how)
        assert await cancelled_between_attempts(journey)
    records = await harness.sink.records()
    # Asked with a lookup, never sent again.
    assert set(records.lookups) == {thanks_key(j) for j, _, _ in stopped}
    assert_one_request_each(records, [j for j, _, _ in stopped])


async def test_a_stop_while_a_send_waits_to_retry_with_a_receiver_that_cannot_be_asked(
    harness: Harness,
) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    await harness.sink.configure(lookups=False)
    stopped = await race(
        harness,
        lambda n: Answer(200, delay=2.5),
        all_waiting_to_retry,
        http_timeout_seconds="1",
        metrics_address=metrics,
    )

    for journey, how, progress in stopped:
        thanks = progress.steps[0]
        assert (thanks.status, thanks.after_stop, thanks.message_id) == (
            StepStatus.UNKNOWN,
            how,
            None,
        )
        assert thanks.reason is not None and "whatsapp by webhook cannot say" in thanks.reason
        assert_skipped_after(progress, how)
        assert await cancelled_between_attempts(journey)
        status = await journey_status(harness.client, journey.journey_id)
        assert "Outcome unknown\n  thanks" in status
        assert "- outcome unknown `thanks`: a request of it left" in await current_details(journey)
    records = await harness.sink.records()
    # Unknown, and truly so: the receiver did take it. It was never sent again.
    assert records.deliveries_per_key() == {thanks_key(j): 1 for j, _, _ in stopped}
    assert_one_request_each(records, [j for j, _, _ in stopped])
    text = await scrape(metrics)
    assert total(text, "journey_stopped_sends", outcome="unknown") == 2
    assert total(text, "journey_messages", outcome="unknown") == 2


async def test_a_stop_before_any_attempt_skips_the_message_and_never_calls_the_receiver(
    harness: Harness,
) -> None:
    harness.worker()
    # Real time: the first message is a day away when the stop comes.
    journeys = await harness.start_journeys(2, speedup=1)

    async def waiting(journey: JourneyStarted) -> bool:
        progress = await journey.handle.query(OrderJourney.progress)
        return progress.next_step == "thanks"

    for journey in journeys:
        await wait_until(lambda j=journey: waiting(j), 30, "journey waiting for thanks")
    for journey, how in zip(journeys, STOPS, strict=True):
        await stop(journey, how)

    for journey, how in zip(journeys, STOPS, strict=True):
        progress = await record(journey)
        reason = OPTED_OUT if how == OPTED_OUT else f"journey {CANCELLED}"
        assert progress.steps and all(
            (s.status, s.reason, s.after_stop) == (StepStatus.SKIPPED, reason, None)
            for s in progress.steps
        )
        assert progress.status is JourneyStatus.STOPPED
    records = await harness.sink.records()
    assert records.attempts == [] and records.lookups == []


async def cancel_requested(journey: JourneyStarted) -> bool:
    history = await journey.handle.fetch_history()
    return any(
        e.HasField("activity_task_cancel_requested_event_attributes") for e in history.events
    )


async def test_a_send_whose_worker_is_lost_after_the_stop_is_waited_out_and_asked_after(
    harness: Harness,
) -> None:
    # The receiver takes the request as it arrives and holds it.
    await harness.sink.script(Answer(200, {"id": "taken-1"}, delay=30, key_suffix=":thanks"))
    sending = harness.worker()
    [journey] = await harness.start_journeys(1)
    await request_arrived(harness, journey)
    await stop(journey, OPTED_OUT)
    # The journey asks the send to stop; its worker dies before the send can answer,
    # most likely before its first heartbeat (2 s) recorded the request as out.
    await wait_until(lambda: cancel_requested(journey), 30, "cancel of the send")
    sending.kill()
    harness.worker()

    progress = await record(journey)
    thanks = progress.steps[0]
    assert (thanks.status, thanks.message_id, thanks.reason, thanks.after_stop) == (
        StepStatus.SENT,
        "taken-1",
        FOUND_AFTER_STOP,
        OPTED_OUT,
    )
    assert_skipped_after(progress, OPTED_OUT)
    # The wait is bounded: the lost attempt ended on its heartbeat timeout and, with a
    # cancel asked, was not retried. Then the journey asked the receiver.
    history = await journey.handle.fetch_history()
    assert any(e.HasField("activity_task_timed_out_event_attributes") for e in history.events)
    records = await harness.sink.records()
    assert records.attempts_per_key() == {thanks_key(journey): 1}
    assert thanks_key(journey) in records.lookups

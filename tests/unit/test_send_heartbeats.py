"""A send heartbeats while it waits on a provider, and a quick one never does."""

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import heartbeating

EVERY = timedelta(milliseconds=50)


@activity.defn
async def waits_on_the_provider(seconds: float) -> None:
    with heartbeating(lambda: [{"in_flight": "key-1"}], every=EVERY):
        await asyncio.sleep(seconds)


async def heartbeats_during(seconds: float) -> list[tuple[object, ...]]:
    beats: list[tuple[object, ...]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    await env.run(waits_on_the_provider, seconds)
    await asyncio.sleep(3 * EVERY.total_seconds())  # no beat may follow the send
    return beats


async def beats_during(seconds: float) -> int:
    return len(await heartbeats_during(seconds))


async def test_a_slow_send_heartbeats_until_it_ends() -> None:
    assert 3 <= await beats_during(0.26) <= 5


async def test_a_quick_send_costs_no_heartbeat() -> None:
    assert await beats_during(0.01) == 0


async def test_every_beat_carries_the_details_it_is_given() -> None:
    # Temporal keeps only the last beat's details: a bare beat would erase the trail.
    beats = await heartbeats_during(0.12)
    assert beats and all(beat == ({"in_flight": "key-1"},) for beat in beats)

"""A send heartbeats while it waits on a provider, and a quick one never does."""

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import heartbeating

EVERY = timedelta(milliseconds=50)


@activity.defn
async def waits_on_the_provider(seconds: float) -> None:
    with heartbeating(EVERY):
        await asyncio.sleep(seconds)


async def beats_during(seconds: float) -> int:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    await env.run(waits_on_the_provider, seconds)
    await asyncio.sleep(3 * EVERY.total_seconds())  # no beat may follow the send
    return len(beats)


async def test_a_slow_send_heartbeats_until_it_ends() -> None:
    assert 3 <= await beats_during(0.26) <= 5


async def test_a_quick_send_costs_no_heartbeat() -> None:
    assert await beats_during(0.01) == 0

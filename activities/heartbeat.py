"""Heartbeats while a send is open, so a killed worker is noticed in seconds, not at
the 30-second start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity

HEARTBEAT_EVERY = timedelta(seconds=2)


@contextlib.asynccontextmanager
async def heartbeating(every: timedelta = HEARTBEAT_EVERY) -> AsyncIterator[None]:
    async def beat() -> None:
        # The first beat waits: a send that answers quickly costs no heartbeat at all.
        while True:
            await asyncio.sleep(every.total_seconds())
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

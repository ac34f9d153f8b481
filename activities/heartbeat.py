"""Heartbeats while a send is open, so a killed worker is noticed in seconds, not at
the 30-second start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from temporalio import activity

HEARTBEAT_EVERY = timedelta(seconds=2)


@contextlib.contextmanager
def heartbeating(
    details: Callable[[], list[Any]] = list, every: timedelta = HEARTBEAT_EVERY
) -> Iterator[None]:
    """Beat every `every` while the block runs, each beat carrying `details()`: Temporal
    keeps only the last beat's details, so a bare beat would erase them. The first beat
    waits: a send that answers quickly costs no heartbeat at all, and only a timer
    handle, not a task."""
    loop = asyncio.get_running_loop()
    seconds = every.total_seconds()
    handle: asyncio.TimerHandle

    def beat() -> None:
        nonlocal handle
        activity.heartbeat(*details())
        handle = loop.call_later(seconds, beat)

    handle = loop.call_later(seconds, beat)
    try:
        yield
    finally:
        handle.cancel()

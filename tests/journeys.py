"""Running journeys against a test server, for the workflow tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities
from models import JourneyProgress
from starter import report_event, submit_feedback
from tests import builders
from worker import build_worker
from workflows import OrderJourney


@asynccontextmanager
async def running_worker(
    client: Client, activities: JourneyActivities, task_queue: str | None = None
) -> AsyncIterator[str]:
    task_queue = task_queue or f"journeys-{uuid.uuid4()}"
    worker: Worker = build_worker(client, activities, task_queue=task_queue)
    async with worker:
        yield task_queue


def local_midnight(moment: datetime, timezone: str, days: int = 0) -> datetime:
    """Midnight of `moment`'s local date in `timezone`, shifted by whole days."""
    local = moment.astimezone(ZoneInfo(timezone))
    day = local.date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Journey:
    """One order's journey on a time-skipping server, driven like a store backend."""

    def __init__(self, env: WorkflowEnvironment, task_queue: str, **settings: Any) -> None:
        self.env = env
        self.task_queue = task_queue
        self.settings = builders.settings(**settings)
        self.order = builders.placed_order()
        self.handle: WorkflowHandle[OrderJourney, JourneyProgress] | None = None

    async def report(self, kind: str, event_id: str | None = None, **fields: Any) -> None:
        now = await self.env.get_current_time()
        at = fields.pop("at", None) or now
        result = await report_event(
            self.env.client,
            self.order,
            builders.event(kind, at, event_id, **fields),
            self.settings,
            task_queue=self.task_queue,
            now=now,  # dates are checked against the server's clock, not the machine's
        )
        # Keep the handle of the call that started the journey: on the time-skipping
        # server only that one lets time run while the test awaits the result.
        if self.handle is None or result.started:
            self.handle = result.handle

    async def wait(self, **duration: float) -> None:
        await self.env.sleep(timedelta(**duration))

    async def feedback(self, rating: int, comment: str | None = None) -> str:
        return await submit_feedback(self.env.client, "loja-1", "PED-1", rating, comment)

    async def result(self) -> JourneyProgress:
        assert self.handle is not None
        return await self.handle.result()

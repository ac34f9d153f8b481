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

from temporalio.client import Client
from temporalio.worker import Worker

from activities import JourneyActivities
from worker import build_worker


@asynccontextmanager
async def running_worker(client: Client, activities: JourneyActivities) -> AsyncIterator[str]:
    task_queue = f"journeys-{uuid.uuid4()}"
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

"""Sleeping journeys: resident memory of a worker process holding thousands of
journeys that wait for their first send.

The worker is `worker.py` itself, as its own process, with its workflow cache bounded
(JOURNEY_MAX_CACHED_WORKFLOWS). Journeys are started by the backfill, so they sleep a
day or more; once the worker has handled every first workflow task, its RSS is read
from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.common import FEEDBACK_SECRET, ROOT, Row, dev_server, progress, rss_mib, verdict
from bench.orders import SETTINGS, order
from intake import validate_store
from intake.backfill import backfill

TARGET_MIB = 150


async def backlog(client: Client, task_queue: str) -> int:
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
    )
    return int(answer.stats.approximate_backlog_count)


async def asleep(client: Client, workflow_id: str) -> bool:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events)


async def settle(client: Client, task_queue: str, last_ids: list[str]) -> None:
    """Until the worker has put every journey to sleep: nothing queued, and the last
    journeys started have their first timer."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if await backlog(client, task_queue) == 0 and all(
            await asyncio.gather(*(asleep(client, i) for i in last_ids))
        ):
            return
        await asyncio.sleep(1)
    raise TimeoutError("the worker did not put every journey to sleep in 10 minutes")


def steady_rss(pid: int, seconds: float = 3.0) -> float:
    """The median of a few readings once the worker is idle."""
    readings = []
    for _ in range(6):
        time.sleep(seconds / 6)
        readings.append(rss_mib(pid))
    return sorted(readings)[len(readings) // 2]


async def measure(levels: list[int], cache: int) -> list[Row]:
    settings, plan = validate_store(SETTINGS)
    rows: list[Row] = []
    async with dev_server() as server:
        task_queue = f"bench-{uuid.uuid4()}"
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "TEMPORAL_ADDRESS": server.target,
                "JOURNEY_TASK_QUEUE": task_queue,
                "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
                "JOURNEY_OUTBOX_PATH": str(Path(tmp) / "outbox.jsonl"),
                "JOURNEY_MAX_CACHED_WORKFLOWS": str(cache),
                "JOURNEY_LOG_LEVEL": "WARNING",
            }
            with (Path(tmp) / "worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, str(ROOT / "worker.py")],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                await asyncio.sleep(2)
                idle = steady_rss(worker.pid, 1.0)
                rows.append(Row("sleeping: worker RSS, idle", f"{idle:.0f} MiB"))
                started = 0
                delivered = datetime.now(UTC) - timedelta(hours=1)
                readings: list[float] = []
                for level in levels:
                    ids = [f"PED-{n}" for n in range(started, level)]
                    lines = [json.dumps(order("sleep", i, delivered)) for i in ids]
                    summary = await backfill(
                        server.client, lines, settings, plan, task_queue=task_queue
                    )
                    assert summary.started == len(ids), summary.describe()
                    started = level
                    last = [f"post-purchase:sleep:{i}" for i in ids[-20:]]
                    await settle(server.client, task_queue, last)
                    rss = await asyncio.to_thread(steady_rss, worker.pid)
                    readings.append(rss)
                    progress(f"sleeping: {level} journeys asleep, worker RSS {rss:.0f} MiB")
                    rows.append(
                        Row(
                            f"sleeping: worker RSS, {level:,} journeys asleep (cache {cache})",
                            f"{rss:.0f} MiB",
                            target=f"<= {TARGET_MIB} MiB",
                            verdict=verdict(rss <= TARGET_MIB),
                        )
                    )
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode}")
            finally:
                worker.terminate()
                worker.wait(timeout=60)
    growth = readings[-1] - readings[0]
    rows.append(
        Row(
            f"sleeping: RSS growth {levels[0]:,} to {levels[-1]:,}",
            f"{growth:+.0f} MiB",
            target="flat (< 10%)",
            verdict=verdict(growth < 0.1 * readings[0]),
        )
    )
    return rows

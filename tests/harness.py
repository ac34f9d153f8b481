"""A small deployment to break on purpose: the dev server on a SQLite file, workers as
OS processes and the provider sink as its own process, all on loopback ports picked
at random. Tests kill and restart the parts and then count what reached the sink.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from messages.rendering import Renderer
from models import JourneyPlan, JourneyProgress, StepKind, default_plan
from models.sending import SEND_MESSAGE
from models.stages import FEEDBACK_REMINDER
from starter import JourneyStarted, start_journey
from tests import builders
from tests.processes import DevServer, SinkProcess, WorkerProcess, wait_until
from tests.provider_sink import SinkRecords

# Four days of journey time per real second: the default plan (about three weeks)
# takes about 6 s.
SPEEDUP = 4 * 86_400


class Harness:
    def __init__(self, temporal_cli: str, workdir: Path) -> None:
        self.workdir = workdir
        self.server = DevServer(temporal_cli, workdir / "temporal.db", workdir / "server.log")
        self.sink = SinkProcess(workdir)
        self.task_queue = f"journeys-{uuid.uuid4()}"
        self.workers: list[WorkerProcess] = []
        self._client: Client | None = None
        self._renderer = Renderer()  # compiled once for every dry run

    @property
    def client(self) -> Client:
        assert self._client is not None, "the harness is not started"
        return self._client

    async def start(self) -> Harness:
        self.server.start()
        await asyncio.to_thread(self.sink.start)
        self._client = await self.server.connect()
        return self

    async def close(self) -> None:
        for worker in self.workers:
            if worker.running():
                worker.kill()
        self.sink.stop()
        await asyncio.to_thread(self.server.stop)

    def worker(self, **journey_env: str) -> WorkerProcess:
        """Start one more worker process on the harness's task queue."""
        name = f"worker-{len(self.workers) + 1}"
        worker = WorkerProcess(
            self.server.target,
            self.task_queue,
            self.workdir / f"{name}.log",
            **{**self.sink.webhook_env(), **journey_env},
        ).start()
        self.workers.append(worker)
        return worker

    async def start_journeys(
        self, count: int, plan: dict[str, Any] | None = None, speedup: int = SPEEDUP
    ) -> list[JourneyStarted]:
        """Start `count` journeys (orders PED-1, PED-2, ...) delivered an hour ago."""
        delivered = datetime.now(UTC) - timedelta(hours=1)
        gate = asyncio.Semaphore(16)

        async def start(n: int) -> JourneyStarted:
            async with gate:
                return await start_journey(
                    self.client,
                    builders.order(delivered, order_id=f"PED-{n}"),
                    builders.settings(),
                    plan,
                    speedup=speedup,
                    task_queue=self.task_queue,
                    renderer=self._renderer,
                )

        return list(await asyncio.gather(*(start(n) for n in range(1, count + 1))))

    async def results(
        self, journeys: list[JourneyStarted], seconds: float = 60
    ) -> list[JourneyProgress]:
        async with asyncio.timeout(seconds):
            return list(await asyncio.gather(*(j.handle.result() for j in journeys)))

    async def delivered(self) -> int:
        return len((await self.sink.records()).deliveries)

    async def delivered_at_least(self, count: int) -> bool:
        return await self.delivered() >= count

    async def polling(self, *workers: WorkerProcess, seconds: float = 30) -> None:
        """Wait until each worker says, on /healthz, that it polls its task queue."""

        async def all_ready() -> bool:
            return all([await w.ready() for w in workers])

        await wait_until(all_ready, seconds, "workers ready on /healthz", 0.1)


async def waiting_to_retry(handle: WorkflowHandle[Any, Any]) -> bool:
    """The journey's send has had its first attempt and waits for its second."""
    description = await handle.describe()
    return any(
        pending.activity_type.name == SEND_MESSAGE
        and pending.attempt == 2
        and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
        for pending in description.raw_description.pending_activities
    )


def messages_per_journey(plan: dict[str, Any] | None = None) -> list[str]:
    """The step ids a delivered journey with no feedback sends: the plan's steps and,
    after a feedback request, the one reminder."""
    steps = (JourneyPlan.model_validate(plan) if plan else default_plan()).steps
    ids = [step.id for step in steps]
    if any(step.kind is StepKind.FEEDBACK_REQUEST for step in steps):
        ids.append(FEEDBACK_REMINDER.id)
    return ids


def expected_keys(journeys: list[JourneyStarted], plan: dict[str, Any] | None = None) -> set[str]:
    """Every idempotency key the journeys send under, with `plan` or the default."""
    return {f"{j.journey_id}:{step_id}" for j in journeys for step_id in messages_per_journey(plan)}


def assert_exactly_once(records: SinkRecords, expected: set[str]) -> Counter[str]:
    """Each expected message reached the provider once; none lost, none extra."""
    per_key = records.deliveries_per_key()
    lost = expected - set(per_key)
    duplicated = {key: n for key, n in per_key.items() if n > 1}
    unexpected = set(per_key) - expected
    assert not lost, f"lost: {sorted(lost)}"
    assert not duplicated, f"delivered more than once: {duplicated}"
    assert not unexpected, f"unexpected: {sorted(unexpected)}"
    return per_key

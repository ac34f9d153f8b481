"""On the real dev server, with the worker as its own process: a crash during a wait
loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from connection import DATA_CONVERTER
from models import JourneyStatus, StepStatus
from starter import start_journey
from tests import builders
from tests.processes import WorkerProcess
from tests.provider_sink import Answer, ProviderSink

# Four days of journey time per real second: the default plan takes about 6 s.
SPEEDUP = 4 * 86_400


@pytest.fixture
async def dev_server(temporal_cli: str) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER, dev_server_existing_path=temporal_cli
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def sink() -> Iterator[ProviderSink]:
    with ProviderSink().running() as running:
        yield running


async def wait_for(condition, seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"no {what} within {seconds} s") from None


async def test_worker_killed_during_a_wait_finishes_the_journey_exactly_once(
    dev_server: WorkflowEnvironment, sink: ProviderSink, tmp_path: Path
) -> None:
    client = dev_server.client
    task_queue = f"journeys-{uuid.uuid4()}"
    worker = WorkerProcess(
        client.service_client.config.target_host,
        task_queue,
        tmp_path / "worker.log",
        adapter="webhook",
        webhook_url=sink.url,
        webhook_secret="hook-secret",
    ).start()
    order = builders.order(datetime.now(UTC) - timedelta(hours=1))
    started = await start_journey(
        client, order, builders.settings(), speedup=SPEEDUP, task_queue=task_queue
    )

    # Kill the worker right after the first message, while the journey waits for the next.
    await wait_for(lambda: len(sink.delivered()) >= 1, 30, "the first message")
    worker.kill()
    killed_after = len(sink.delivered())
    await asyncio.sleep(1.5)  # journey time moves on with no worker at all
    assert len(sink.delivered()) == killed_after

    replacement = WorkerProcess(
        client.service_client.config.target_host,
        task_queue,
        tmp_path / "worker-2.log",
        adapter="webhook",
        webhook_url=sink.url,
        webhook_secret="hook-secret",
    ).start()
    try:
        progress = await asyncio.wait_for(started.handle.result(), timeout=60)
    finally:
        assert replacement.stop() == 0

    assert progress.status is JourneyStatus.COMPLETED
    assert [s.status for s in progress.steps] == [StepStatus.SENT] * 6
    per_key = Counter(r.idempotency_key for r in sink.delivered())
    expected_keys = {f"{started.journey_id}:{s.step_id}" for s in progress.steps}
    assert set(per_key) == expected_keys
    assert all(count == 1 for count in per_key.values()), per_key
    assert killed_after < 6, "the kill must land during the journey, not after it"


async def test_sigterm_lets_an_in_flight_send_finish_and_it_is_never_repeated(
    dev_server: WorkflowEnvironment, sink: ProviderSink, tmp_path: Path
) -> None:
    client = dev_server.client
    task_queue = f"journeys-{uuid.uuid4()}"
    target = client.service_client.config.target_host
    webhook = {"adapter": "webhook", "webhook_url": sink.url, "webhook_secret": "hook-secret"}
    worker = WorkerProcess(target, task_queue, tmp_path / "worker.log", **webhook).start()
    sink.script(Answer(200, {"id": "slow-1"}, delay=3.0))
    order = builders.order(datetime.now(UTC) - timedelta(hours=1))
    started = await start_journey(
        client, order, builders.settings(), speedup=SPEEDUP, task_queue=task_queue
    )

    await wait_for(lambda: sink.arrivals >= 1, 30, "first send in flight")
    assert sink.received == []  # the provider has not answered yet
    exit_code = await asyncio.to_thread(worker.stop, 30)

    # The worker waited for the answer before it exited.
    assert exit_code == 0
    assert [r.answered for r in sink.received] == [200]
    replacement = WorkerProcess(target, task_queue, tmp_path / "worker-2.log", **webhook).start()
    try:
        progress = await asyncio.wait_for(started.handle.result(), timeout=60)
    finally:
        replacement.stop()
    assert progress.steps[0].message_id == "slow-1"
    per_key = Counter(r.idempotency_key for r in sink.received)
    assert len(per_key) == 6 and set(per_key.values()) == {1}, per_key

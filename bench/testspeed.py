"""Test speed: a whole 30-day journey on the time-skipping test server.

The journey is the default plan's five steps with the coupon moved to day 30.

Two figures: the in-process run (server start, worker, the journey, shutdown), and
the wall time of pytest running one such test from the suite, imports included.
Optionally, the whole suite's wall time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from bench.common import ROOT, Row, binary, median, outbox_config, progress, verdict
from bench.orders import SETTINGS, order
from models import JourneyPlan, JourneyStatus, default_plan
from starter import start_journey
from tests.protection import converter
from worker import build_worker

TARGET_SECONDS = 1.0
# The test server lacks a capability the SDK core warns about on every worker start.
QUIET_RUNTIME = Runtime(
    telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
    )
)
ONE_TEST = "tests/workflow/test_send_times.py::test_default_journey_after_a_23h_delivery"


def thirty_day_plan() -> JourneyPlan:
    steps = default_plan().steps
    last = steps[-1].model_copy(update={"wait": timedelta(days=17)})
    return JourneyPlan(steps=[*steps[:-1], last])


async def one_journey() -> float:
    began = time.perf_counter()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(),
        test_server_existing_path=binary("temporal-test-server"),
        runtime=QUIET_RUNTIME,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = outbox_config(Path(tmp))
            activities = build_activities(config)
            task_queue = f"bench-{uuid.uuid4()}"
            worker: Worker = build_worker(env.client, activities, task_queue=task_queue)
            async with worker:
                now = await env.get_current_time()
                started = await start_journey(
                    env.client,
                    order("speed", "PED-1", now - timedelta(hours=1)),
                    SETTINGS,
                    thirty_day_plan(),
                    task_queue=task_queue,
                )
                progress_ = await started.handle.result()
            await activities.aclose()
        assert progress_.status is JourneyStatus.COMPLETED
        span = progress_.steps[-1].scheduled_for - now
        assert span >= timedelta(days=29), span
    finally:
        await env.shutdown()
    return time.perf_counter() - began


def pytest_wall(args: list[str]) -> tuple[float, str]:
    """Wall seconds and pytest's closing line ("96 passed in 40.1s")."""
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    closing = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0:
        progress(result.stdout[-3000:])
    return seconds, closing.strip("= ")


async def measure(rounds: int, suite: bool) -> list[Row]:
    await one_journey()  # warm-up: imports and the binary's first start
    runs = []
    for round_ in range(rounds):
        runs.append(await one_journey())
        progress(f"test speed round {round_ + 1}/{rounds}: {runs[-1]:.2f} s")
    in_process = median(runs)
    one_test = median([pytest_wall([ONE_TEST])[0] for _ in range(rounds)])
    rows = [
        Row(
            "test speed: one 30-day journey, time-skipping, in process",
            f"{in_process:.2f} s",
            target=f"<= {TARGET_SECONDS:.0f} s",
            verdict=verdict(in_process <= TARGET_SECONDS),
        ),
        Row(
            "test speed: pytest of the suite's default-journey test, wall",
            f"{one_test:.2f} s",
        ),
    ]
    if suite:
        progress("test speed: running the whole suite")
        seconds, closing = pytest_wall([])
        rows.append(Row(f"test speed: whole suite, wall ({closing})", f"{seconds:.0f} s"))
    return rows

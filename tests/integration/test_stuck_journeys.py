"""A journey that fails anyway is seen and handled: an input that bypassed the edge
(started with the `temporal` CLI, say) makes its workflow task fail on every attempt.
Operators see it as stuck, with the error, in `status` and `list`; the controls refuse
it with one line; the worker's metrics count the failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from operators.stuck import STUCK_AFTER_ATTEMPTS
from tests import builders
from tests.processes import ROOT, WorkerProcess, free_port, wait_until
from tests.prometheus import total
from tests.protection import protection_env

WORKFLOW_ID = "post-purchase:loja-1:STUCK-1"


def bypassing_the_edge() -> dict[str, Any]:
    """An order journey input the edge refuses: its send window has a UTC offset."""
    order = builders.placed_order(order_id="STUCK-1")
    store = builders.settings(send_window={"start": "09:00Z", "end": "20:00"})
    return {"order": order, "settings": store, "events": []}


def cli(env: WorkflowEnvironment, *args: str) -> subprocess.CompletedProcess[str]:
    target = env.client.service_client.config.target_host
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TEMPORAL_ADDRESS": target, **protection_env()},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_stuck_journey_is_shown_refused_and_counted(
    indexed_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    env = indexed_env
    address = f"127.0.0.1:{free_port()}"
    worker = WorkerProcess(
        env.client.service_client.config.target_host,
        "stuck",
        tmp_path / "worker.log",
        metrics_address=address,
        adapter="outbox",
        outbox_path=str(tmp_path / "outbox.jsonl"),
    ).start()
    try:
        handle = await env.client.start_workflow(
            "OrderJourney", bypassing_the_edge(), id=WORKFLOW_ID, task_queue="stuck"
        )

        async def failing() -> bool:
            description = await handle.describe()
            return description.raw_description.pending_workflow_task.attempt >= (
                STUCK_AFTER_ATTEMPTS
            )

        await wait_until(failing, 60, "the workflow task to fail twice", 0.5)

        status = await asyncio.to_thread(cli, env, "status", WORKFLOW_ID)
        assert status.returncode == 0, status.stderr
        assert "Run       running · STUCK" in status.stdout
        stuck_line = next(line for line in status.stdout.splitlines() if line.startswith("Stuck"))
        assert "Failed decoding arguments" in stuck_line
        assert "send_window.start" in stuck_line  # the cause, as the worker saw it

        listing = await asyncio.to_thread(cli, env, "list", "--stuck")
        assert listing.returncode == 0, listing.stderr
        rows = [line.split() for line in listing.stdout.splitlines()]
        assert [WORKFLOW_ID, "stuck"] in [row[:2] for row in rows]

        for command in (
            ["opt-out", WORKFLOW_ID, "--reason", "asked by phone"],
            ["cancel", WORKFLOW_ID],
            ["feedback", "loja-1", "STUCK-1", "--rating", "4"],
        ):
            refused = await asyncio.to_thread(cli, env, *command)
            assert refused.returncode == 3, (command, refused.stderr)
            [line] = refused.stderr.splitlines()
            assert "the journey is stuck: its workflow task fails" in line, line
            assert "Traceback" not in refused.stdout + refused.stderr

        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(f"http://{address}/metrics")).text
        failures = total(
            metrics, "temporal_workflow_task_execution_failed", workflow_type="OrderJourney"
        )
        assert failures >= STUCK_AFTER_ATTEMPTS
    finally:
        worker.stop()

"""The worker: runs post-purchase journeys and their sends.

    python worker.py

Temporal connection: `temporalio.envconfig` (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_PROFILE, ...). Channels and secrets:
JOURNEY_* variables, see `activities/config.py` and the README.

Operations: JOURNEY_METRICS_ADDRESS serves Prometheus metrics, JOURNEY_LOG_FORMAT=json
prints JSON lines (see `observability.py`).

SIGINT or SIGTERM stops polling for new work and lets in-flight sends finish within
JOURNEY_SHUTDOWN_GRACE_SECONDS (default 30) before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import py_compile
import signal
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import JourneyActivities, WorkerConfig, build_activities
from customer_data import ProtectionError
from models import TASK_QUEUE, Channel
from runtime.connection import TemporalUnreachable, connect, exit_process
from runtime.health import Health, Readiness
from runtime.observability import configure_logging, metrics_runtime
from workflows import OrderJourney, PostPurchaseJourney

log = logging.getLogger("journey.worker")

# Pure, deterministic libraries the models use. Passing them through keeps the sandbox
# from re-importing them for every workflow run (pydantic loads email_validator and
# idna lazily, on the first email it validates).
PASSTHROUGH_MODULES = ("pydantic", "pydantic_core", "annotated_types", "email_validator", "idna")


def cache_workflow_bytecode(*workflow_classes: type) -> None:
    """Compile the workflow modules once, for the sandbox's many imports of them.

    The sandbox imports a workflow's module afresh for every run it starts. When
    bytecode is not written (PYTHONDONTWRITEBYTECODE, usual in container images) each
    of those imports compiles the source again, about a millisecond per journey. The
    modules are compiled once into a private cache (sys.pycache_prefix) instead, so the
    source tree is never written to.
    """
    if not sys.dont_write_bytecode:
        return
    if sys.pycache_prefix is None:
        sys.pycache_prefix = str(Path(tempfile.gettempdir()) / f"journey-pycache-{os.getuid()}")
    for cls in workflow_classes:
        module = sys.modules[cls.__module__]
        package = sys.modules.get(cls.__module__.rpartition(".")[0])
        for source in {getattr(module, "__file__", None), getattr(package, "__file__", None)}:
            if source and source.endswith(".py"):
                py_compile.compile(source, doraise=False, quiet=2)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox, shared by the worker and the replayer."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


def worker_options(
    *, shutdown_grace: timedelta = timedelta(seconds=30), max_cached_workflows: int = 250
) -> dict[str, Any]:
    """Every Worker setting but the client, task queue, workflows and activities: the
    benchmarks run their bare floor workflow under exactly these."""
    return {
        "graceful_shutdown_timeout": shutdown_grace,
        "workflow_runner": sandbox_runner(),
        "max_cached_workflows": max_cached_workflows,
    }


def build_worker(
    client: Client,
    activities: JourneyActivities,
    *,
    task_queue: str = TASK_QUEUE,
    shutdown_grace: timedelta = timedelta(seconds=30),
    max_cached_workflows: int = 250,
) -> Worker:
    cache_workflow_bytecode(OrderJourney, PostPurchaseJourney)
    return Worker(
        client,
        task_queue=task_queue,
        # PostPurchaseJourney stays registered until no run started before OrderJourney
        # remains (see docs/changing-journeys.md).
        workflows=[OrderJourney, PostPurchaseJourney],
        activities=activities.all,
        **worker_options(shutdown_grace=shutdown_grace, max_cached_workflows=max_cached_workflows),
    )


async def serve(config: WorkerConfig) -> None:
    task_queue = config.task_queue
    shutdown_grace = timedelta(seconds=config.shutdown_grace_seconds)
    client = await connect(metrics_runtime(config.metrics_address))
    activities = build_activities(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(
        client,
        activities,
        task_queue=task_queue,
        shutdown_grace=shutdown_grace,
        max_cached_workflows=config.max_cached_workflows,
    )
    health = Health()
    try:
        async with health.served(config.health_address), worker:
            health.state = Readiness.READY
            log.info(
                "worker polling task queue %r on %s (whatsapp by %s, email by %s, metrics %s)",
                task_queue,
                client.service_client.config.target_host,
                config.adapter_for(Channel.WHATSAPP),
                config.adapter_for(Channel.EMAIL),
                f"on http://{config.metrics_address}/metrics" if config.metrics_address else "off",
            )
            await stop.wait()
            health.state = Readiness.STOPPING
            log.info("shutting down: finishing in-flight sends (up to %s)", shutdown_grace)
    finally:
        await activities.aclose()
    log.info("worker stopped")


def main() -> int:
    try:
        config = WorkerConfig()  # fields come from the environment
    except ValidationError as err:
        for item in err.errors():
            message = item["msg"].removeprefix("Value error, ")
            if item["loc"]:
                message = f"JOURNEY_{'_'.join(map(str, item['loc'])).upper()}: {message}"
            print(message, file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    try:
        asyncio.run(serve(config))
    except (ProtectionError, TemporalUnreachable) as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_process(main())

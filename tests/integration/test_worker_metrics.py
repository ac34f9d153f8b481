"""The worker's Prometheus endpoint and JSON logs, with the worker as its own process."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from models import JourneyProgress, StepStatus
from starter import report_event
from tests import builders
from tests.processes import WorkerProcess, free_port, wait_until
from tests.prometheus import samples, total

SPEEDUP = 86_400 * 20  # twenty journey days a second: the whole plan in about a second


async def test_counters_on_the_metrics_endpoint_match_the_journeys(
    indexed_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = indexed_env.client
    address = f"127.0.0.1:{free_port()}"
    task_queue = "metrics"
    worker = WorkerProcess(
        client.service_client.config.target_host,
        task_queue,
        tmp_path / "worker.log",
        metrics_address=address,
        log_format="json",
        adapter="outbox",
        outbox_path=str(tmp_path / "outbox.jsonl"),
    ).start()
    try:
        # A script waits for the worker this way: /healthz says ready once it polls.
        await wait_until(worker.ready, 30, "the worker ready on /healthz", 0.1)
        now = datetime.now(UTC)
        settings = builders.settings()
        completed = await report_event(
            client,
            builders.placed_order(order_id="M-1"),
            builders.event("delivered", now),
            settings,
            speedup=SPEEDUP,
            task_queue=task_queue,
        )
        progress: JourneyProgress = await completed.handle.result()
        opted = await report_event(
            client,
            builders.placed_order(order_id="M-2"),
            builders.event("opted_out", now, reason="asked to stop"),
            settings,
            task_queue=task_queue,
        )
        stopped: JourneyProgress = await opted.handle.result()
        assert stopped.stop_reason == "opted out: asked to stop"

        sent = [s for s in progress.steps if s.status is StepStatus.SENT]
        assert len(sent) >= 5
        expected = Counter((str(s.channel), s.template) for s in sent)

        async def scrape() -> str:
            async with httpx.AsyncClient(timeout=5) as http:
                response = await http.get(f"http://{address}/metrics")
                response.raise_for_status()
                return response.text

        async def counted() -> bool:
            text = await scrape()
            return total(text, "journey_completed") == 1 and total(text, "journey_stopped") == 1

        await wait_until(counted, 15, "journey counters on the endpoint", 0.3)
        text = await scrape()
        assert total(text, "journey_started") == 2
        assert total(text, "journey_completed") == 1
        assert total(text, "journey_stopped", reason="opted_out") == 1
        for (channel, template), count in expected.items():
            labels = {"channel": channel, "template": template}
            assert total(text, "journey_messages", outcome="sent", **labels) == count, template
            assert total(text, "journey_provider_answers", outcome="accepted", **labels) == count
        assert total(text, "journey_messages", outcome="sent") == len(sent)
        assert total(text, "journey_messages", outcome="failed") == 0
        # The SDK's own metrics share the endpoint.
        assert total(text, "temporal_workflow_completed") >= 2
        assert samples(text, "temporal_activity_execution_latency_count")

        # JSON log lines carry the workflow and order of what they are about.
        entries = [
            json.loads(line)
            for line in (tmp_path / "worker.log").read_text().splitlines()
            if line.startswith("{")
        ]
        about_m1 = [e for e in entries if e.get("order_id") == "M-1"]
        assert any(e["message"].startswith("sent thanks by whatsapp") for e in about_m1)
        assert any(e["message"].startswith("journey of order M-1 started") for e in about_m1)
        assert all(e["workflow_id"] == "post-purchase:loja-1:M-1" for e in about_m1)
        assert all(e["store_id"] == "loja-1" for e in about_m1)
        # No contact of the customer in any line, masked addresses only.
        log = (tmp_path / "worker.log").read_text()
        customer = builders.ORDER["customer"]
        for contact in (customer["email"], customer["phone"].lstrip("+"), customer["name"]):
            assert contact not in log
        assert not any("Ana" in e["message"] for e in entries)
        assert any("+55 11 9****-4321" in e["message"] for e in about_m1)
    finally:
        worker.stop()

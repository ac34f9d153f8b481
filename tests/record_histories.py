"""Record the workflow histories the replay test checks: `python -m tests.record_histories`.

Run it after a change that is meant to alter what new journeys do, and commit the new
files next to the old ones: old files prove running journeys still replay, new ones pin
the new behaviour. Never edit or delete a history of a version that may still run.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities, WorkerConfig, build_activities
from connection import DATA_CONVERTER
from starter import start_journey
from tests import builders
from tests.conftest import FEEDBACK_SECRET
from tests.journeys import running_worker
from tests.provider_sink import Answer, ProviderSink

HISTORIES = Path(__file__).resolve().parent / "histories"
TWO_STEPS = {
    "steps": [
        {"id": "thanks", "template": "thanks"},
        {"id": "questions", "template": "delivery_questions", "wait": "P3D"},
    ]
}


async def _record(
    name: str, activities: JourneyActivities, plan: dict[str, Any] | None, test_server: str
) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=test_server
    )
    try:
        now = await env.get_current_time()
        order = builders.order(now - timedelta(hours=1), order_id=f"HIST-{name}")
        async with running_worker(env.client, activities) as task_queue:
            started = await start_journey(
                env.client, order, builders.settings(), plan, task_queue=task_queue
            )
            await started.handle.result()
            history = await started.handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
        print(f"wrote tests/histories/{name}.json")
    finally:
        await env.shutdown()


async def main(version: str) -> None:
    test_server = shutil.which("temporal-test-server", path=str(Path(sys.executable).parent))
    assert test_server, "temporal-test-server is missing: run through python3 dev.py test first"
    HISTORIES.mkdir(exist_ok=True)
    with ProviderSink().running() as sink:
        activities = build_activities(
            WorkerConfig(
                feedback_secret=FEEDBACK_SECRET,
                adapter="webhook",
                webhook_url=sink.url,
                webhook_secret="hook-secret",
            )
        )
        await _record(f"{version}-default-journey", activities, None, test_server)
        sink.script(Answer(500), Answer(400, {"error": "rejected"}))
        await _record(f"{version}-retried-then-rejected", activities, TWO_STEPS, test_server)
        sink.script(Answer(422, {"reason": "invalid_recipient"}))
        await _record(f"{version}-invalid-recipient", activities, TWO_STEPS, test_server)
        await activities.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "v1"))

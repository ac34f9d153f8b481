"""What an operator sees of a journey in the Temporal Web UI, in a real browser:
the run's summary, why it waits, and its current details.

Needs Debian's `chromium` (dev.py test installs it; `apt-get install chromium`) and
the `playwright` package; no browser is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from journey.schedule import describe_local
from models import search
from runtime.connection import DATA_CONVERTER
from starter import report_event
from tests import builders
from tests.browser.chromium import chromium
from tests.journeys import running_worker
from tests.processes import free_port

SCREENSHOT = Path(__file__).resolve().parents[2] / ".journey" / "web-ui-journey.png"


@pytest.fixture
async def ui_env(temporal_cli: str) -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=temporal_cli,
        search_attributes=search.ALL,
        ui=True,
        ui_port=ui_port,
    )
    try:
        yield env, ui_port
    finally:
        await env.shutdown()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium() as browser:
        yield await browser.new_page(viewport={"width": 1400, "height": 1100})


async def test_the_journey_page_shows_summary_timer_and_current_details(
    ui_env: tuple[WorkflowEnvironment, int], outbox_activities: JourneyActivities, page: Page
) -> None:
    env, ui_port = ui_env
    delivered = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    async with running_worker(env.client, outbox_activities) as task_queue:
        result = await report_event(
            env.client,
            builders.placed_order(),
            builders.event("delivered", delivered),
            builders.settings(),
            task_queue=task_queue,
            search_attributes=True,
        )
        progress = await result.handle.query("progress")
        # Delivered two hours ago: the first message waits for a day after delivery.
        assert progress["next_step"] == "thanks"
        when = describe_local(delivered, "America/Sao_Paulo").removesuffix(" America/Sao_Paulo")

        run_path = quote(result.journey_id, safe="")
        url = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{run_path}"
        await page.goto(url, wait_until="domcontentloaded", timeout=30_000)
        # The timer's summary on the timeline: when and why the journey waits.
        await expect(
            page.get_by_text("send 'thanks': 1 day after delivery, in the send window").first
        ).to_be_visible(timeout=30_000)
        await page.get_by_role("tab", name="User Metadata").click()
        # The UI renders each piece of metadata as markdown in its own frame:
        # Summary, Details, Current Details.
        frames = page.frame_locator("iframe")
        await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
        # The static summary, with the delivery date.
        await expect(
            frames.nth(0).get_by_text(f"Order PED-1 of store loja-1, delivered {when}")
        ).to_be_visible(timeout=30_000)
        # The current details: the stage, and what comes next and why.
        current = frames.nth(2)
        await expect(current.get_by_text("Stage delivered · waiting")).to_be_visible(timeout=30_000)
        await expect(
            current.get_by_text(
                re.compile(r"Next thanks .*: 1 day after delivery, in the send window")
            )
        ).to_be_visible(timeout=30_000)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

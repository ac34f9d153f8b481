"""What an operator sees of a journey in the Temporal Web UI, in a real browser:
the run's summary, why it waits, and its current details, all decoded through the web
service's codec server, since every payload is encrypted; and ciphertext without an
operator's credentials.

The set-up is `python3 dev.py run`'s: the dev server's UI calls the codec server at
`--ui-codec-endpoint` (the operator token in its path), the web service runs as its
own process. Needs Debian's `chromium` (dev.py test installs it; `apt-get install
chromium`) and the `playwright` package; no browser is downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Locator, Page, expect
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from journey.schedule import describe_local
from models import search
from starter import report_event
from tests import builders
from tests.browser.chromium import chromium
from tests.journeys import running_worker
from tests.processes import free_port, wait_until
from tests.protection import converter
from tests.web_process import (
    last_moment_at,
    start_service,
    stop,
    stored_input,
    wait_ready,
)

SCREENSHOT = Path(__file__).resolve().parents[2] / ".journey" / "web-ui-journey.png"
OPERATOR_TOKEN = "operator-token-of-the-web-ui-tests-0123456789"


@dataclass(frozen=True)
class WebUI:
    env: WorkflowEnvironment
    url: str  # the Web UI
    codec: str  # the codec server, without a token
    codec_log: Path  # the web service's log: one line a request, by route

    def codec_answered(self, status: int) -> bool:
        return f"POST /codec/decode {status}" in self.codec_log.read_text(errors="replace")


@pytest.fixture
async def web_ui(temporal_cli: str, tmp_path: Path) -> AsyncIterator[WebUI]:
    """The dev server's Web UI, decoding through the web service's codec server."""
    ui_port, web_port = free_port(), free_port()
    ui_url, codec = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{web_port}/codec"
    env = await WorkflowEnvironment.start_local(
        data_converter=converter(),
        dev_server_existing_path=temporal_cli,
        search_attributes=search.ALL,
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-codec-endpoint", f"{codec}/{OPERATOR_TOKEN}"],
    )
    log = tmp_path / "web.log"
    web = start_service(
        env.client.service_client.config.target_host,
        web_port,
        log,
        operator_tokens=OPERATOR_TOKEN,
        ui_origins=ui_url,
    )
    try:
        await asyncio.to_thread(wait_ready, web, f"http://127.0.0.1:{web_port}", log)
        yield WebUI(env, ui_url, codec, log)
    finally:
        await asyncio.to_thread(stop, web)
        await env.shutdown()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium() as browser:
        yield await browser.new_page(viewport={"width": 1400, "height": 1100})


async def test_the_journey_page_shows_summary_timer_and_current_details(
    web_ui: WebUI, outbox_activities: JourneyActivities, page: Page
) -> None:
    env = web_ui.env
    # Delivered at 14:00 in São Paulo, within the last day: the first message waits
    # for a day after delivery.
    delivered = last_moment_at("14:00")
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
        assert progress["next_step"] == "thanks"
        when = describe_local(delivered, "America/Sao_Paulo").removesuffix(" America/Sao_Paulo")

        run_path = quote(result.journey_id, safe="")
        url = f"{web_ui.url}/namespaces/default/workflows/{run_path}"
        await page.goto(url, wait_until="domcontentloaded", timeout=30_000)
        # Every payload is encrypted: what follows is decoded by the codec server.
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


async def configure_codec(page: Page, endpoint: str, *, include_credentials: bool) -> None:
    """The codec setting an operator makes in the UI (its data encoder settings, kept in
    the browser's local storage), then the page again with it."""
    await page.evaluate(
        """([endpoint, credentials]) => {
            localStorage.setItem("endpoint", JSON.stringify(endpoint));
            localStorage.setItem("includeCredentials", JSON.stringify(credentials));
            localStorage.setItem("overrideRemoteCodecConfiguration", "true");
        }""",
        [endpoint, include_credentials],
    )
    await page.reload(wait_until="domcontentloaded", timeout=30_000)


async def run_progress_query(page: Page) -> Locator:
    """The Queries tab's answer to `progress`, as the UI shows it."""
    await page.get_by_role("tab", name="Queries").click()
    await page.get_by_role("button", name="Run Query").click()
    return page.locator("#content")


async def test_with_an_operators_session_the_ui_decodes_and_without_it_shows_ciphertext(
    web_ui: WebUI, outbox_activities: JourneyActivities, page: Page
) -> None:
    env = web_ui.env
    delivered = last_moment_at("14:00")  # the journey waits a day for its first message
    async with running_worker(env.client, outbox_activities) as task_queue:
        result = await report_event(
            env.client,
            builders.placed_order(),
            builders.event("delivered", delivered),
            builders.settings(),
            task_queue=task_queue,
        )
        stored = await stored_input(env.client, result.journey_id)
        ciphertext = base64.b64encode(stored.data).decode()

        # The operator signs in to the codec server: a session cookie for it.
        await page.goto(f"{web_ui.codec}/sign-in", wait_until="domcontentloaded")
        await page.get_by_label("Operator token").fill(OPERATOR_TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Signed in")).to_be_visible()

        journey_url = f"{web_ui.url}/namespaces/default/workflows/"
        journey_url += quote(result.journey_id, safe="")
        await page.goto(journey_url, wait_until="domcontentloaded", timeout=30_000)
        content = page.locator("#content")
        codec_failed = content.get_by_text("Codec Server could not connect")
        # The run's input, beside its result (dialogs further down have an "Input" too).
        input_panel = (
            content.get_by_text("Input", exact=True).locator("xpath=..").filter(visible=True)
        )

        # The UI's codec setting without credentials: the browser keeps the cookie to
        # itself, the codec server refuses, and the UI shows what the server stores.
        await configure_codec(page, web_ui.codec, include_credentials=False)
        await expect(codec_failed).to_be_visible(timeout=30_000)
        await wait_until(lambda: web_ui.codec_answered(401), 10, "the codec server's refusal")
        await expect(input_panel).to_contain_text(ciphertext[:60], timeout=30_000)
        for readable in ('"order_id"', "PED-1", "Ana Souza", "ana@example.com", "Caneca"):
            await expect(input_panel).not_to_contain_text(readable)
        await expect(content).not_to_contain_text("1 day after delivery, in the send window")

        # With credentials the session goes along: the same page, decoded.
        await configure_codec(page, web_ui.codec, include_credentials=True)
        await expect(input_panel).to_contain_text('"order_id": "PED-1"', timeout=30_000)
        # The codec server opens the customer's sealed contact data for the operator.
        await expect(input_panel).to_contain_text('"email": "ana@example.com"')
        await expect(input_panel).not_to_contain_text(ciphertext[:60])
        await expect(
            content.get_by_text("send 'thanks': 1 day after delivery, in the send window").first
        ).to_be_visible(timeout=30_000)
        await expect(codec_failed).to_have_count(0)
        assert web_ui.codec_answered(200)
        # The progress query, decoded: what comes next, the contact data masked.
        answer = await run_progress_query(page)
        await expect(answer).to_contain_text('"next_step": "thanks"', timeout=30_000)
        next_at = (delivered + timedelta(days=1)).isoformat()
        await expect(answer).to_contain_text(f'"next_at": "{next_at}"')
        await expect(answer).to_contain_text("a***@example.com")
        await page.screenshot(path=str(SCREENSHOT.with_name("web-ui-decoded.png")), full_page=True)

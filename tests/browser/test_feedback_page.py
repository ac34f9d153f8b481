"""A customer rates a purchase from the link in the message the journey sent, on a phone:
a real Chromium against the web service on loopback, a worker whose links point at it,
and the journey on the time-skipping server. In Portuguese and in English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect
from temporalio.testing import WorkflowEnvironment

from activities import WorkerConfig, build_activities
from tests import builders
from tests.browser.chromium import chromium
from tests.clock import advance_to
from tests.conftest import FEEDBACK_SECRET
from tests.customer_pages import REVIEW_URL, registered_store
from tests.journeys import Journey, outbox_lines, running_worker
from tests.processes import wait_until
from tests.protection import revealed
from tests.web_service import running_service
from workflows import OrderJourney

PHONE: ViewportSize = {"width": 390, "height": 844}
STAR_ON, STAR_OFF = "rgb(245, 166, 35)", "rgb(201, 204, 209)"  # templates/pages/pages.css
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".journey"


@dataclass(frozen=True)
class Words:
    """What the customer reads and taps, in the customer's language."""

    heading: str
    two_stars: str
    three_stars: str
    comment: str
    send: str
    thanks: str
    low_rating: str
    review: str


WORDS = {
    "pt-BR": Words(
        heading="Como foi sua compra?",
        two_stars="2 estrelas",
        three_stars="3 estrelas",
        comment="Quer contar mais? (opcional)",
        send="Enviar avaliação",
        thanks="Obrigado pela sua avaliação!",
        low_rating="Alguém da loja vai falar com você em breve para ajudar.",
        review="Deixar uma avaliação pública",
    ),
    "en": Words(
        heading="How was your purchase?",
        two_stars="2 stars",
        three_stars="3 stars",
        comment="Anything else you'd like to tell us? (optional)",
        send="Send rating",
        thanks="Thank you for your rating!",
        low_rating="Someone from the store will reach out to you soon to help.",
        review="Leave a public review",
    ),
}


@pytest.fixture
async def phone() -> AsyncIterator[Page]:
    """A phone-sized page that lays out as a phone does (it honours the viewport meta)."""
    async with chromium() as browser:
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
        )
        yield await context.new_page()


def sent(outbox: Path, step_id: str) -> dict[str, Any] | None:
    return next((line for line in outbox_lines(outbox) if line["step_id"] == step_id), None)


@pytest.mark.parametrize("locale", ["pt-BR", "en"])
async def test_a_customer_rates_two_stars_from_the_link_in_the_message(
    locale: str, time_skipping_env: WorkflowEnvironment, phone: Page, tmp_path: Path
) -> None:
    env, words, outbox = time_skipping_env, WORDS[locale], tmp_path / "outbox.jsonl"
    stores = registered_store(tmp_path / "stores")
    async with running_service(env.client, stores_dir=stores) as base:
        activities = build_activities(
            WorkerConfig(feedback_secret=FEEDBACK_SECRET, outbox_path=outbox, public_url=base)
        )
        async with running_worker(env.client, activities) as task_queue:
            await advance_to(env, "10:00")
            journey = Journey(env, task_queue)
            journey.order = builders.placed_order(customer={"locale": locale})
            await journey.report("delivered")

            # Thanks a day after delivery, the feedback request three days after that.
            await env.sleep(timedelta(days=4, hours=1))
            await wait_until(
                lambda: sent(outbox, "feedback_request") is not None, 30, "feedback request"
            )
            request = sent(outbox, "feedback_request")
            assert request is not None and request["locale"] == locale
            found = re.search(rf"{re.escape(base)}/feedback\?token=\S+", request["text"])
            assert found, f"no link to {base}/feedback in: {request['text']}"

            await phone.goto(found.group(), wait_until="domcontentloaded")
            await expect(phone.get_by_role("heading", level=1)).to_have_text(words.heading)
            await expect(phone.get_by_text("Loja Um", exact=True)).to_be_visible()
            # One column that fits the phone: nothing to scroll sideways.
            width = await phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"]
            two = phone.get_by_role("radio", name=words.two_stars)
            await two.check()
            # Stars, styled by the page's own stylesheet (the CSP lets it load): the
            # second lights up with the first, the third stays off.
            stars = phone.locator(".stars label")
            await expect(stars.nth(1)).to_have_css("color", STAR_ON)
            await expect(stars.nth(2)).to_have_css("color", STAR_OFF)
            box = await stars.nth(1).bounding_box()
            assert box is not None and box["height"] >= 44  # a tap target for a thumb
            await phone.get_by_label(words.comment).fill("A caixa chegou amassada")
            await phone.get_by_role("button", name=words.send).click()

            await expect(phone.get_by_role("heading", level=1)).to_have_text(words.thanks)
            await expect(phone.get_by_text(words.low_rating)).to_be_visible()
            review = phone.get_by_role("link", name=words.review)
            await expect(review).to_have_attribute("href", REVIEW_URL)
            SCREENSHOTS.mkdir(exist_ok=True)
            await phone.screenshot(path=str(SCREENSHOTS / f"feedback-thanks-{locale}.png"))

            assert journey.handle is not None
            progress = await journey.handle.query(OrderJourney.progress)
            feedback = progress.facts.feedback
            assert feedback is not None
            assert (feedback.rating, await revealed(feedback.comment)) == (
                2,
                "A caixa chegou amassada",
            )

            # A low rating: the customer hears from support, and the store is alerted.
            await env.sleep(timedelta(hours=1))
            await wait_until(
                lambda: sent(outbox, "support_followup") is not None, 30, "support follow-up"
            )
            followup = sent(outbox, "support_followup")
            assert followup is not None and followup["locale"] == locale
            alerts = outbox_lines(outbox.with_name("alerts.jsonl"))
            assert [(a["kind"], a["order_id"]) for a in alerts] == [("low_rating", "PED-1")]
        await activities.aclose()

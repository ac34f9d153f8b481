"""The customer pages with journeys behind them: the web service on uvicorn (loopback),
a worker, and real journeys on the time-skipping server.

The service's Temporal client records every call it makes (a client interceptor,
Temporal's own hook), so a test sees that a bad link or a bad rating reaches no
journey; each journey's progress, read apart from the service, shows it untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, Interceptor, OutboundInterceptor
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from models import JourneyProgress, JourneyStatus
from starter import opt_out
from tests import builders
from tests.clock import advance_to
from tests.customer_pages import (
    REVIEW_URL,
    assert_a_safe_page,
    feedback_link,
    heading,
    registered_store,
    tampered,
    token_of,
    unsubscribe_link,
)
from tests.journeys import Journey, running_worker
from tests.protection import converter, revealed
from tests.web_service import running_service
from workflows import OrderJourney

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
BROKEN, EXPIRED, UNKNOWN_STORE = (
    "Não conseguimos abrir este link",
    "Este link expirou",
    "Não encontramos esta loja",
)
LOW_RATING = "Alguém da loja vai falar com você em breve para ajudar."
REVIEW_LINK = f'<a class="button secondary" href="{REVIEW_URL}" rel="noreferrer">'


class CallRecorder(Interceptor):
    """Names every call a client makes to Temporal about a workflow."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self.calls)


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, calls: list[str]) -> None:
        super().__init__(next)
        self._calls = calls

    async def describe_workflow(self, input: Any) -> Any:
        self._calls.append("describe_workflow")
        return await super().describe_workflow(input)

    def fetch_workflow_history_events(self, input: Any) -> Any:
        self._calls.append("fetch_workflow_history_events")
        return super().fetch_workflow_history_events(input)

    async def start_workflow_update(self, input: Any) -> Any:
        self._calls.append(f"update {input.update}")
        return await super().start_workflow_update(input)

    async def query_workflow(self, input: Any) -> Any:
        self._calls.append(f"query {input.query}")
        return await super().query_workflow(input)

    async def signal_workflow(self, input: Any) -> Any:
        self._calls.append(f"signal {input.signal}")
        return await super().signal_workflow(input)


@dataclass
class Site:
    env: WorkflowEnvironment
    task_queue: str
    base: str
    http: httpx.AsyncClient
    temporal_calls: list[str] = field(default_factory=list)

    async def delivered(self, order_id: str = "PED-1") -> Journey:
        """A journey of the tests' store, its order delivered now."""
        journey = Journey(self.env, self.task_queue)
        journey.order = builders.placed_order(order_id=order_id)
        await journey.report("delivered")
        return journey

    async def rate(self, token: str, rating: str, comment: str = "") -> httpx.Response:
        data = {"token": token, "rating": rating, "comment": comment}
        return await self.http.post(f"{self.base}/feedback", data=data)


async def progress(journey: Journey) -> JourneyProgress:
    """Read apart from the service: this call is not recorded."""
    assert journey.handle is not None
    return await journey.handle.query(OrderJourney.progress)


@pytest.fixture
async def site(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities, tmp_path: Path
) -> AsyncIterator[Site]:
    env = time_skipping_env
    recorder = CallRecorder()
    config = env.client.config()
    config["interceptors"] = [recorder]
    recorded = Client(**config)
    stores = registered_store(tmp_path / "stores")
    async with (
        running_worker(env.client, outbox_activities) as task_queue,
        running_service(recorded, stores_dir=stores) as base,
        httpx.AsyncClient(timeout=60) as http,
    ):
        yield Site(env, task_queue, base, http, recorder.calls)


async def test_a_rating_reaches_the_journey_once_and_a_second_is_told_it_arrived(
    site: Site,
) -> None:
    delivered = await advance_to(site.env, "10:00")
    journey = await site.delivered()
    token = token_of(feedback_link(site.base, delivered))

    thanked = await site.rate(token, "2", "A caixa chegou amassada")
    assert (thanked.status_code, heading(thanked)) == (200, "Obrigado pela sua avaliação!")
    assert_a_safe_page(thanked)
    assert "Recebemos sua nota: 2 de 5." in thanked.text
    assert LOW_RATING in thanked.text and REVIEW_LINK in thanked.text
    assert "update submit_feedback" in site.temporal_calls
    feedback = (await progress(journey)).facts.feedback
    assert feedback is not None
    assert (feedback.rating, await revealed(feedback.comment)) == (2, "A caixa chegou amassada")

    again = await site.rate(token, "5", "Mudei de ideia")
    assert (again.status_code, heading(again)) == (409, "Sua avaliação já chegou")
    assert REVIEW_LINK in again.text  # the public review page, for every customer
    assert (await progress(journey)).facts.feedback == feedback


async def test_a_good_rating_is_thanked_and_offered_the_public_review_page_too(
    site: Site,
) -> None:
    delivered = await advance_to(site.env, "10:00")
    journey = await site.delivered()
    thanked = await site.rate(token_of(feedback_link(site.base, delivered)), "5")
    assert (thanked.status_code, heading(thanked)) == (200, "Obrigado pela sua avaliação!")
    assert REVIEW_LINK in thanked.text and LOW_RATING not in thanked.text
    feedback = (await progress(journey)).facts.feedback
    assert feedback is not None and (feedback.rating, feedback.comment) == (5, None)


async def test_bad_links_and_bad_ratings_reach_no_journey(site: Site) -> None:
    delivered = await advance_to(site.env, "10:00")
    journey = await site.delivered()
    now = datetime.now(UTC)  # the service checks expiry by its own clock
    good = token_of(feedback_link(site.base, delivered))
    bad_links = {
        "forged": (token_of(feedback_link(site.base, delivered, secret=b"x" * 20)), 403, BROKEN),
        "tampered": (tampered(good), 403, BROKEN),
        "expired": (token_of(feedback_link(site.base, now - timedelta(days=31))), 410, EXPIRED),
        "an unsubscribe token": (token_of(unsubscribe_link(site.base)), 400, BROKEN),
        "another store's": (
            token_of(feedback_link(site.base, delivered, journey_id="post-purchase:loja-2:PED-1")),
            404,
            UNKNOWN_STORE,
        ),
        "malformed": ("not-a-token", 400, BROKEN),
    }
    for case, (token, status, says) in bad_links.items():
        shown = await site.http.get(f"{site.base}/feedback", params={"token": token})
        sent = await site.rate(token, "1", "Péssimo")
        for response in (shown, sent):
            assert (response.status_code, heading(response)) == (status, says), case
            assert_a_safe_page(response)
    for rating in ("0", "6", "três"):
        refused = await site.rate(good, rating)
        assert (refused.status_code, heading(refused)) == (422, "Como foi sua compra?"), rating
        assert "Escolha de 1 a 5 estrelas." in refused.text

    assert site.temporal_calls == []
    untouched = await progress(journey)
    assert untouched.facts.feedback is None and not untouched.opted_out


async def test_a_journey_that_has_ended_tells_the_customer_ratings_are_closed(
    site: Site,
) -> None:
    delivered = await advance_to(site.env, "10:00")
    journey = await site.delivered()
    await opt_out(site.env.client, "loja-1", "PED-1", "pediu pelo WhatsApp")
    ended = await journey.result()
    assert ended.opted_out

    late = await site.rate(token_of(feedback_link(site.base, delivered)), "4")
    assert (late.status_code, heading(late)) == (410, "As avaliações deste pedido foram encerradas")
    assert REVIEW_LINK in late.text
    assert_a_safe_page(late)


async def test_unsubscribe_asks_on_get_and_one_click_opts_out_every_time(site: Site) -> None:
    await advance_to(site.env, "10:00")
    journey = await site.delivered()
    link = unsubscribe_link(site.base)

    for _ in range(2):  # link scanners may follow it more than once
        shown = await site.http.get(link)
        assert (shown.status_code, heading(shown)) == (
            200,
            "Não quer mais receber mensagens sobre este pedido?",
        )
    unsaid = await site.http.post(link, data={"List-Unsubscribe": "please"})
    assert (unsaid.status_code, heading(unsaid)) == (400, "Nada foi alterado")
    assert site.temporal_calls == []
    assert not (await progress(journey)).opted_out

    # As a mail provider posts it: urlencoded, no cookie, no Referer, no CSRF token.
    for _ in range(2):
        done = await site.http.post(link, data=ONE_CLICK)
        assert (done.status_code, heading(done)) == (200, "Pronto, mensagens canceladas")
        assert not done.is_redirect and done.history == []
        assert_a_safe_page(done)
    result = await journey.result()
    assert result.opted_out and result.stop_reason is not None


async def test_one_click_in_multipart_form_data_opts_out(site: Site) -> None:
    await advance_to(site.env, "10:00")
    journey = await site.delivered("PED-7")
    link = unsubscribe_link(site.base, "post-purchase:loja-1:PED-7")
    # A form field, not a file: multipart/form-data as RFC 8058 allows it.
    done = await site.http.post(link, files={"List-Unsubscribe": (None, "One-Click")})
    assert done.request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert (done.status_code, heading(done)) == (200, "Pronto, mensagens canceladas")
    assert (await journey.result()).opted_out
    again = await site.http.post(link, files={"List-Unsubscribe": (None, "One-Click")})
    assert (again.status_code, heading(again)) == (200, "Pronto, mensagens canceladas")


async def test_one_click_for_a_journey_that_ended_on_its_own_answers_200(site: Site) -> None:
    await advance_to(site.env, "10:00")
    journey = Journey(site.env, site.task_queue)
    await journey.report("placed")
    await journey.report("cancelled")  # before delivery: the journey ends
    ended = await journey.result()
    assert ended.status is JourneyStatus.COMPLETED and not ended.opted_out
    # Nothing more will be sent: the provider gets its 2xx, the customer the same page.
    done = await site.http.post(unsubscribe_link(site.base), data=ONE_CLICK)
    assert (done.status_code, heading(done)) == (200, "Pronto, mensagens canceladas")


async def test_temporal_out_of_reach_gets_a_try_again_page(
    test_server: str, tmp_path: Path
) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(), test_server_existing_path=test_server
    )
    delivered = await advance_to(env, "10:00")
    client = await Client.connect(
        env.client.service_client.config.target_host,
        data_converter=converter(),
        retry_config=RetryConfig(max_retries=1, initial_interval_millis=10),
    )
    await env.shutdown()  # Temporal goes away while the service runs
    stores = registered_store(tmp_path / "stores")
    async with running_service(client, stores_dir=stores) as base, httpx.AsyncClient() as http:
        token = token_of(feedback_link(base, delivered))
        rated = await http.post(f"{base}/feedback", data={"token": token, "rating": "4"})
        unsubscribed = await http.post(unsubscribe_link(base), data=ONE_CLICK)
    for response in (rated, unsubscribed):
        assert (response.status_code, heading(response)) == (503, "Não deu certo agora")
        assert_a_safe_page(response)

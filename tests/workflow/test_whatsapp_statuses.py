"""WhatsApp's statuses reach a real journey through the real web service: a fake Meta
takes the journey's sends on loopback and POSTs signed status webhooks about them to
the service, which signals the journey on the time-skipping server. Delivered then
read shows in the progress and the operator's status; undeliverable moves the journey
to email once; forged, replayed and malformed webhooks get their status and nothing
is applied twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities import build_activities
from models import JourneyProgress, StepStatus
from models.conversation import DeliveryStatus
from operators.status import journey_status
from starter import start_journey
from tests import builders
from tests.clock import advance_to
from tests.fake_email import FakeEmail
from tests.fake_meta import (
    APP_SECRET,
    VERIFY_TOKEN,
    WEBHOOK,
    FakeMeta,
    signed,
    status_payload,
)
from tests.fake_whatsapp import Sent
from tests.journeys import running_worker
from tests.processes import wait_until
from tests.protection import converter
from tests.providers import APPROVED, WHATSAPP_TEMPLATES, provider_config
from tests.web_service import running_service
from whatsapp.signature import SIGNATURE_HEADER, sign
from workflows import OrderJourney

PHONE_SECRET = "phone-hash-secret-0123456789"


@dataclass
class Scene:
    env: WorkflowEnvironment
    meta: FakeMeta
    email: FakeEmail
    http: httpx.AsyncClient
    url: str
    handle: WorkflowHandle[OrderJourney, JourneyProgress]
    thanks_at: datetime  # when the thanks went out: a Wednesday at 10:00 in São Paulo

    async def progress(self) -> JourneyProgress:
        return await self.handle.query(OrderJourney.progress)

    async def thanks(self) -> Any:
        return (await self.progress()).steps[0]


@pytest.fixture
async def scene(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Scene]:
    """A journey delivered on a Tuesday at 10:00 in São Paulo whose thanks went by
    WhatsApp on Wednesday at 10:00, with email as the store's fallback; the service
    and a worker around it."""
    env = time_skipping_env
    delivered = await advance_to(env, "10:00", weekday=1)
    with (
        FakeMeta(templates=dict(APPROVED)).running() as meta,
        FakeEmail().running() as email,
    ):
        activities = build_activities(provider_config(meta, email))
        async with (
            running_worker(env.client, activities) as task_queue,
            running_service(
                env.client,
                task_queue=task_queue,
                whatsapp_app_secret=APP_SECRET,
                whatsapp_verify_token=VERIFY_TOKEN,
                phone_hash_secret=PHONE_SECRET,
            ) as url,
            httpx.AsyncClient(timeout=30) as http,
        ):
            meta.webhook_base = url
            started = await start_journey(
                env.client,
                builders.order(delivered),
                builders.settings(
                    whatsapp_templates=WHATSAPP_TEMPLATES,
                    fallback_channels=["email"],
                    feedback_reminder_after=None,
                ),
                task_queue=task_queue,
                now=delivered,
            )
            await env.sleep(timedelta(days=1, minutes=1))
            await wait_until(lambda: len(meta.sent) == 1, 30, "the thanks at the fake Meta")
            handle = started.handle
            await wait_until(lambda: _sent(handle), 30, "the thanks recorded as sent", interval=0.1)
            yield Scene(env, meta, email, http, url, handle, delivered + timedelta(days=1))
        await activities.aclose()


async def _sent(handle: WorkflowHandle[OrderJourney, JourneyProgress]) -> bool:
    progress = await handle.query(OrderJourney.progress)
    return bool(progress.steps) and progress.steps[0].status is StepStatus.SENT


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata")
    return str(metadata.current_details)


async def test_delivered_then_read_show_in_the_progress_the_details_and_the_status(
    scene: Scene,
) -> None:
    [thanks] = scene.meta.sent_copy()
    assert thanks.callback_data == f"pj1|{scene.handle.id}|thanks|thanks"
    delivered_at = scene.thanks_at + timedelta(seconds=40)  # Wednesday 10:00:40
    read_at = scene.thanks_at + timedelta(minutes=14)  # Wednesday 10:14
    for status, at in (
        ("sent", scene.thanks_at),
        ("delivered", delivered_at),
        ("read", read_at),
    ):
        answer = await scene.meta.report(scene.http, thanks, status, at)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"statuses": 1, "messages": 0}

    async def read_recorded() -> bool:
        delivery = (await scene.thanks()).delivery
        return delivery is not None and delivery.status is DeliveryStatus.READ

    await wait_until(read_recorded, 10, "the read status in the progress")
    delivery = (await scene.thanks()).delivery
    assert delivery is not None
    assert (delivery.delivered_at, delivery.read_at) == (delivered_at, read_at)
    details = await current_details(scene.handle)
    assert "delivered Wed" in details and "10:00 America/Sao_Paulo" in details
    assert "read Wed" in details and "10:14 America/Sao_Paulo" in details
    status = await journey_status(scene.env.client, scene.handle.id)
    thanks_lines = status.split("thanks", 1)[1].splitlines()[:3]
    assert thanks_lines[1].split() == ["delivered", "Wed", *_local(delivered_at).split()]
    assert thanks_lines[2].split() == ["read", "Wed", *_local(read_at).split()]
    metrics = (await scene.http.get(f"{scene.url}/metrics")).text
    for status_name in ("sent", "delivered", "read"):
        line = f'journey_whatsapp_statuses_total{{status="{status_name}",template="thanks"}} 1.0'
        assert line in metrics


def _local(moment: datetime) -> str:
    """As `starter.py status` prints a moment of a São Paulo journey, without the weekday."""
    return moment.astimezone(builders.VALIDATED_AT.tzinfo).strftime("%d %b %Y %H:%M %z")


async def test_undeliverable_moves_the_message_to_email_once_and_the_journey_after_it(
    scene: Scene,
) -> None:
    [thanks] = scene.meta.sent_copy()
    failed_at = scene.thanks_at + timedelta(seconds=30)
    failure = status_payload(thanks, "failed", failed_at, 131026)
    body, headers = signed(failure)
    for _ in range(2):  # Meta delivers the same webhook again: a retry
        answer = await scene.http.post(f"{scene.url}{WEBHOOK}", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
    # And reports the failure once more, a second later: a new delivery of the news.
    again = await scene.meta.report(
        scene.http, thanks, "failed", failed_at + timedelta(seconds=1), 131026
    )
    assert again.status_code == 200

    await wait_until(lambda: len(scene.email.sent) >= 1, 30, "the thanks by email")
    progress = await scene.handle.result()  # the rest of the plan, in skipped time
    by_email = [m.idempotency_key for m in scene.email.sent]
    journey = scene.handle.id
    # Every later message skips WhatsApp: the number cannot get it.
    assert by_email == [
        f"{journey}:thanks:email",
        f"{journey}:feedback_request",
        f"{journey}:photo_invite",
        f"{journey}:delivery_questions",
        f"{journey}:come_back_coupon",
    ]
    assert [m.template for m in scene.meta.sent_copy()] == ["pos_venda_obrigado"]
    whatsapp_thanks, email_thanks = progress.steps[0], progress.steps[1]
    assert whatsapp_thanks.delivery is not None
    assert whatsapp_thanks.delivery.error_code == 131026 and whatsapp_thanks.delivery.fell_back
    assert whatsapp_thanks.delivery.error == "131026 Message undeliverable: Message Undeliverable."
    assert (email_thanks.step_id, email_thanks.channel) == ("thanks", "email")
    assert email_thanks.route_reason is not None
    assert email_thanks.route_reason.startswith("whatsapp failed after it was sent (131026")
    assert [s.step_id for s in progress.steps].count("thanks") == 2


async def test_forged_replayed_and_malformed_webhooks_get_their_status_and_apply_nothing_twice(
    scene: Scene,
) -> None:
    [thanks] = scene.meta.sent_copy()
    url = f"{scene.url}{WEBHOOK}"
    failure = status_payload(thanks, "failed", scene.thanks_at, 131026)
    body, headers = signed(failure)
    forged = [
        {**headers, SIGNATURE_HEADER: "sha256=" + "0" * 64},
        {"Content-Type": "application/json"},
        signed(failure, secret="another-app-secret-0123456789")[1],
    ]
    for bad in forged:
        answer = await scene.http.post(url, content=body, headers=bad)
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "/problems/bad-signature"
    tampered = body.replace(b"131026", b"131027")
    assert (await scene.http.post(url, content=tampered, headers=headers)).status_code == 401

    for payload, detail in (
        (b"{not json", "body: not valid JSON"),
        (json.dumps({"object": "page", "entry": []}).encode(), "object: expected"),
        (json.dumps([1, 2]).encode(), "body: Input should be a valid dictionary"),
    ):
        malformed = await scene.http.post(url, content=payload, headers=_signed_raw(payload))
        assert malformed.status_code == 400, malformed.text
        assert malformed.json()["type"] == "/problems/malformed-payload"
        assert detail in malformed.json()["detail"]
    # Signed and well formed, but nothing Meta documents inside: acknowledged, counted.
    odd = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"statuses": [{"id": "wamid.X", "status": "lost"}]}}
    ]}]}  # fmt: skip
    odd_body = json.dumps(odd).encode()
    answer = await scene.http.post(url, content=odd_body, headers=_signed_raw(odd_body))
    assert answer.status_code == 200 and answer.json() == {"statuses": 0, "messages": 0}

    # None of that reached the journey: no fallback, no delivery recorded.
    assert (await scene.thanks()).delivery is None
    # The genuine delivered status, twice: 200 both times, applied once.
    delivered = status_payload(thanks, "delivered", scene.thanks_at + timedelta(seconds=5))
    genuine, genuine_headers = signed(delivered)
    for _ in range(2):
        answer = await scene.http.post(url, content=genuine, headers=genuine_headers)
        assert answer.status_code == 200
    later = status_payload(thanks, "delivered", scene.thanks_at + timedelta(minutes=9))
    assert (await scene.meta.post(scene.http, later)).status_code == 200

    async def delivered_recorded() -> bool:
        return (await scene.thanks()).delivery is not None

    await wait_until(delivered_recorded, 10, "the delivered status")
    delivery = (await scene.thanks()).delivery
    assert delivery is not None and delivery.delivered_at == scene.thanks_at + timedelta(seconds=5)
    metrics = (await scene.http.get(f"{scene.url}/metrics")).text
    assert 'journey_whatsapp_skipped_total{reason="malformed_status"} 1.0' in metrics
    assert (
        'journey_http_requests_total{method="POST",route="/v1/whatsapp/webhook",status="401"} 4.0'
        in metrics
    )
    assert scene.email.sent == []


def _signed_raw(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(APP_SECRET.encode(), body)}


async def test_meta_checks_the_callback_url_with_the_verify_token(scene: Scene) -> None:
    url = f"{scene.url}{WEBHOOK}"
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = await scene.http.get(url, params=good)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert answer.headers["content-type"].startswith("text/plain")
    wrong = await scene.http.get(url, params={**good, "hub.verify_token": "guess"})
    assert wrong.status_code == 403 and wrong.json()["type"] == "/problems/bad-verify-token"
    for bad in ({**good, "hub.mode": "unsubscribe"}, {"hub.verify_token": VERIFY_TOKEN},
                {**good, "hub.challenge": "<script>"}):  # fmt: skip
        answer = await scene.http.get(url, params=bad)
        assert answer.status_code == 400, answer.text


async def test_when_temporal_does_not_answer_meta_gets_a_503_to_deliver_it_again(
    test_server: str,
) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(), test_server_existing_path=test_server
    )
    secrets = {
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "phone_hash_secret": PHONE_SECRET,
    }
    sent = Sent("wamid.GONE", "5511987654321", "pos_venda_obrigado", "pt_BR", [],
                callback_data="pj1|post-purchase:loja-1:PED-1|thanks|thanks")  # fmt: skip
    # Delivered on Wednesday 11 March 2026 at 10:00 in São Paulo.
    payload = status_payload(sent, "delivered", builders.VALIDATED_AT)
    async with running_service(env.client, **secrets) as url, httpx.AsyncClient(timeout=30) as http:
        await env.shutdown()
        body, headers = signed(payload)
        answer = await http.post(f"{url}{WEBHOOK}", content=body, headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"] == "/problems/temporal-unavailable"

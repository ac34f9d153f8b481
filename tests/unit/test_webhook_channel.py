"""The webhook channel, its lookups and store alerts against a real HTTP server on
loopback."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.alerts import StoreAlerts
from activities.channels import WebhookAdapter
from activities.channels.base import ABSENT, CANNOT_TELL, Lookup
from activities.channels.webhook import SignedWebhook
from intake import validate_journey
from messages.rendering import Renderer
from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from models import Channel
from models.events import Feedback
from models.journey import AlertKind, AlertRequest, JourneyFacts
from tests import builders
from tests.messages import message
from tests.provider_sink import Answer, ProviderSink

SECRET = b"webhook-shared-secret"


@pytest.fixture
def sink() -> Iterator[ProviderSink]:
    with ProviderSink().running() as running:
        yield running


async def deliver(sink: ProviderSink):
    async with httpx.AsyncClient(timeout=5) as client:
        return await WebhookAdapter(sink.url, SECRET, client).deliver(message())


async def test_posts_the_message_signed_with_its_idempotency_key(sink: ProviderSink) -> None:
    sink.script(Answer(200, {"id": "prov-77"}))
    receipt = await deliver(sink)
    [request] = sink.received
    assert receipt.message_id == "prov-77"
    assert request.idempotency_key == "post-purchase:loja-1:PED-1:thanks"
    assert request.json["text"] == "Oi, Ana!" and request.json["to"] == "+5511987654321"
    assert verify_signature(
        SECRET,
        request.headers[TIMESTAMP_HEADER.lower()],
        request.raw_body,
        request.headers[SIGNATURE_HEADER.lower()],
        now=time.time(),
    )
    assert not verify_signature(
        b"wrong",
        request.headers[TIMESTAMP_HEADER.lower()],
        request.raw_body,
        request.headers[SIGNATURE_HEADER.lower()],
        now=time.time(),
    )
    tampered = request.raw_body.replace(b"Ana", b"Eve")
    assert not verify_signature(
        SECRET,
        request.headers[TIMESTAMP_HEADER.lower()],
        tampered,
        request.headers[SIGNATURE_HEADER.lower()],
        now=time.time(),
    )


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
async def test_server_errors_are_retryable(sink: ProviderSink, status: int) -> None:
    sink.script(Answer(status, {"error": "try later"}))
    with pytest.raises(ApplicationError) as exc:
        await deliver(sink)
    assert not exc.value.non_retryable
    assert exc.value.type == f"ProviderUnavailable{status}"


async def test_429_is_retried_after_the_delay_the_provider_asks(sink: ProviderSink) -> None:
    sink.script(Answer(429, {"error": "slow down"}, {"Retry-After": "7"}))
    with pytest.raises(ApplicationError) as exc:
        await deliver(sink)
    assert not exc.value.non_retryable
    assert exc.value.next_retry_delay == timedelta(seconds=7)


async def test_retry_after_as_an_http_date(sink: ProviderSink) -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    sink.script(Answer(503, {}, {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}))
    with pytest.raises(ApplicationError) as exc:
        await deliver(sink)
    assert exc.value.next_retry_delay is not None
    assert timedelta(seconds=80) <= exc.value.next_retry_delay <= timedelta(seconds=91)


async def test_400_is_a_permanent_rejection(sink: ProviderSink) -> None:
    sink.script(Answer(400, {"error": "bad template"}))
    with pytest.raises(ApplicationError) as exc:
        await deliver(sink)
    assert exc.value.non_retryable
    assert exc.value.type == "MessageRejected"
    assert "400" in str(exc.value)


async def test_an_invalid_recipient_is_named_as_such(sink: ProviderSink) -> None:
    sink.script(Answer(422, {"reason": "invalid_recipient"}))
    with pytest.raises(ApplicationError) as exc:
        await deliver(sink)
    assert exc.value.non_retryable
    assert exc.value.type == "RecipientRejected"


async def test_a_connection_refused_is_left_to_temporal_to_retry() -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        adapter = WebhookAdapter("http://127.0.0.1:9/messages", SECRET, client)
        with pytest.raises(httpx.ConnectError):
            await adapter.deliver(message())


async def look_up(sink: ProviderSink, key: str = message().idempotency_key) -> Lookup:
    async with httpx.AsyncClient(timeout=5) as client:
        return await WebhookAdapter(sink.url, SECRET, client).look_up(key, Channel.WHATSAPP)


async def test_a_lookup_finds_a_message_the_receiver_took_without_sending_it_again(
    sink: ProviderSink,
) -> None:
    sink.script(Answer(200, {"id": "prov-9"}))
    await deliver(sink)
    found = await look_up(sink)
    assert found.receipt is not None and found.receipt.looked_up
    assert found.receipt.message_id == "prov-9"
    assert len(sink.received) == 1 and len(sink.delivered()) == 1  # the GET sent nothing
    [key] = sink.snapshot().lookups
    assert key == message().idempotency_key


async def test_a_lookup_of_a_key_the_receiver_never_took_says_so(sink: ProviderSink) -> None:
    sink.script(Answer(503))
    with pytest.raises(ApplicationError):
        await deliver(sink)
    assert await look_up(sink) == ABSENT


async def test_a_receiver_without_lookups_cannot_tell(sink: ProviderSink) -> None:
    await deliver(sink)
    sink.lookups = False
    assert await look_up(sink) == CANNOT_TELL


async def test_a_lookup_is_signed_over_its_key() -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"reason": "unknown_idempotency_key"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        adapter = WebhookAdapter("http://receiver.example/messages", SECRET, client)
        assert await adapter.look_up("k-1", Channel.EMAIL) == ABSENT
    [request] = seen
    assert request.method == "GET" and request.headers["Idempotency-Key"] == "k-1"
    assert verify_signature(
        SECRET,
        request.headers[TIMESTAMP_HEADER],
        b"k-1",
        request.headers[SIGNATURE_HEADER],
        now=time.time(),
    )


async def test_a_store_alert_records_the_receivers_own_id(sink: ProviderSink) -> None:
    sink.script(Answer(200, {"id": "alert-77"}))
    journey = validate_journey(
        builders.order(), builders.settings(), now=builders.VALIDATED_AT
    ).journey
    alerts = StoreAlerts(
        Renderer(), webhook=SignedWebhook(sink.url, SECRET, httpx.AsyncClient(timeout=5))
    )
    key = f"{journey.order.journey_id}:alert_low_rating"
    request = AlertRequest(
        journey_id=journey.order.journey_id,
        kind=AlertKind.LOW_RATING,
        order=journey.order,
        settings=journey.settings,
        facts=JourneyFacts(feedback=Feedback(rating=2, comment="Chegou amassado")),
        idempotency_key=key,
    )
    try:
        receipt = await ActivityEnvironment().run(alerts.alert_store, request)
    finally:
        await alerts.aclose()
    [posted] = sink.received
    assert receipt.message_id == "alert-77" and receipt.idempotency_key == key
    assert posted.idempotency_key == key and posted.json["kind"] == "low_rating"
    assert verify_signature(
        SECRET,
        posted.headers[TIMESTAMP_HEADER.lower()],
        posted.raw_body,
        posted.headers[SIGNATURE_HEADER.lower()],
        now=time.time(),
    )

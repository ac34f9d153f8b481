"""The email API adapter against a fake Resend-style API on loopback."""

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import EmailApiAdapter, OutgoingMessage
from messages.unsubscribe_links import UnsubscribeLinks, verify_unsubscribe_token
from models import Channel
from tests import fake_email
from tests.fake_email import FakeEmail, error
from tests.messages import message as outbox_message

LINK_SECRET = b"link-secret-0123456789"
SENDER = "Loja Um <pedidos@loja-um.example>"


def message(attempt: int = 1, **changes: object) -> OutgoingMessage:
    return outbox_message().model_copy(
        update={
            "channel": Channel.EMAIL,
            "to": "ana@example.com",
            "attempt": attempt,
            **changes,
        }
    )


@pytest.fixture
def fake() -> Iterator[FakeEmail]:
    with FakeEmail().running() as running:
        yield running


def make_adapter(fake: FakeEmail, key: str = fake_email.API_KEY) -> EmailApiAdapter:
    links = UnsubscribeLinks("https://loja-um.example/sair", "sair@loja-um.example", LINK_SECRET)
    return EmailApiAdapter(fake.base_url, key, SENDER, links, httpx.AsyncClient(timeout=5))


@pytest.fixture
async def adapter(fake: FakeEmail) -> AsyncIterator[EmailApiAdapter]:
    adapter = make_adapter(fake)
    yield adapter
    await adapter.aclose()


async def refusal(adapter: EmailApiAdapter, attempt: int = 1, **changes: object):
    with pytest.raises(ApplicationError) as exc:
        await adapter.deliver(message(attempt, **changes))
    return exc.value


async def test_posts_the_email_with_key_bodies_and_unsubscribe_headers(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    receipt = await adapter.deliver(message())
    [request] = fake.requests
    assert request.path == "/emails"
    assert request.headers["authorization"] == f"Bearer {fake_email.API_KEY}"
    assert request.headers["idempotency-key"] == "post-purchase:loja-1:PED-1:thanks"
    body = request.json
    assert body["from"] == SENDER and body["to"] == ["ana@example.com"]
    assert (body["subject"], body["text"], body["html"]) == (
        "Obrigado!",
        "Oi, Ana!",
        "<p>Oi, Ana!</p>",
    )
    headers = body["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip().strip("<>") for part in headers["List-Unsubscribe"].split(","))
    assert https.startswith("https://loja-um.example/sair?token=")
    assert mailto.startswith("mailto:sair@loja-um.example?subject=unsubscribe%20")
    token = parse_qs(urlsplit(https).query)["token"][0]
    assert verify_unsubscribe_token(token, LINK_SECRET) == "post-purchase:loja-1:PED-1"
    [email] = fake.sent
    assert (receipt.message_id, receipt.adapter, receipt.channel) == (email.id, "resend", "email")


async def test_a_retry_with_the_same_key_sends_nothing_new(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    first = await adapter.deliver(message(attempt=1))
    again = await adapter.deliver(message(attempt=2))
    assert again.message_id == first.message_id
    assert len(fake.sent) == 1 and len(fake.requests) == 2
    # The attempt number is not content: both requests carried the same payload.
    assert fake.requests[0].raw_body == fake.requests[1].raw_body


async def test_429_retries_after_the_delay_asked_or_a_growing_one(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    fake.queue(error(429, "rate_limit_exceeded", "Too many requests.", **{"Retry-After": "5"}))
    err = await refusal(adapter)
    assert (err.type, err.non_retryable, err.next_retry_delay) == (
        "RateLimited",
        False,
        timedelta(seconds=5),
    )
    fake.queue(error(429, "daily_quota_exceeded", "You have reached your daily quota."))
    err = await refusal(adapter, attempt=4)
    assert err.next_retry_delay == timedelta(seconds=16)


async def test_a_concurrent_request_with_the_key_retries(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    fake.queue(error(409, "concurrent_idempotent_requests", "Same key is being processed."))
    err = await refusal(adapter)
    assert (err.type, err.non_retryable) == ("IdempotentRequestInFlight", False)


async def test_the_same_key_with_another_payload_is_a_conflict_not_a_second_email(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    await adapter.deliver(message())
    err = await refusal(adapter, text="Oi de novo, Ana!")
    assert (err.type, err.non_retryable) == ("IdempotencyConflict", True)
    assert len(fake.sent) == 1


async def test_a_refused_address_is_a_rejected_recipient(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    fake.refused.add("ana@example.com")
    err = await refusal(adapter)
    assert (err.type, err.non_retryable) == ("RecipientRejected", True)
    assert "`to`" in err.message


async def test_other_validation_errors_reject_the_message(
    fake: FakeEmail, adapter: EmailApiAdapter
) -> None:
    err = await refusal(adapter, subject="")
    assert (err.type, err.non_retryable) == ("MessageRejected", True)
    assert "missing_required_field" in err.message


async def test_a_wrong_key_is_an_auth_refusal(fake: FakeEmail) -> None:
    adapter = make_adapter(fake, key="re_revoked")
    try:
        err = await refusal(adapter)
    finally:
        await adapter.aclose()
    assert (err.type, err.non_retryable) == ("ProviderAuthRejected", True)
    assert fake.requests[0].status == 403 and fake.sent == []


async def test_server_errors_retry(fake: FakeEmail, adapter: EmailApiAdapter) -> None:
    fake.queue(error(500, "internal_server_error", "Unexpected error."))
    err = await refusal(adapter)
    assert err.non_retryable is False

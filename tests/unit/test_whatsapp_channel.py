"""The WhatsApp Cloud API adapter against a fake Cloud API on loopback."""

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import OutgoingMessage, TemplateCall, WhatsAppCloudAdapter
from tests import fake_whatsapp
from tests.fake_whatsapp import Approved, FakeWhatsApp, error
from tests.messages import message as outbox_message

TEMPLATES = {"pos_venda_obrigado": Approved("utility", parameters=2)}


def message(attempt: int = 1, template: TemplateCall | None = None) -> OutgoingMessage:
    call = template or TemplateCall(
        name="pos_venda_obrigado", language="pt_BR", parameters=["Ana", "Loja Um"]
    )
    return outbox_message().model_copy(update={"whatsapp_template": call, "attempt": attempt})


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    with FakeWhatsApp(templates=dict(TEMPLATES)).running() as running:
        yield running


@pytest.fixture
async def adapter(fake: FakeWhatsApp) -> AsyncIterator[WhatsAppCloudAdapter]:
    adapter = WhatsAppCloudAdapter(
        fake.base_url,
        fake_whatsapp.VERSION,
        fake_whatsapp.PHONE_NUMBER_ID,
        fake_whatsapp.TOKEN,
        httpx.AsyncClient(timeout=5),
    )
    yield adapter
    await adapter.aclose()


async def refusal(adapter: WhatsAppCloudAdapter, attempt: int = 1) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        await adapter.deliver(message(attempt))
    return exc.value


async def test_sends_an_approved_template_and_reads_the_message_id(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter
) -> None:
    receipt = await adapter.deliver(message())
    [request] = fake.requests
    assert request.path == f"/{fake_whatsapp.VERSION}/{fake_whatsapp.PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {fake_whatsapp.TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "template",
        "template": {
            "name": "pos_venda_obrigado",
            "language": {"code": "pt_BR"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ana"},
                        {"type": "text", "text": "Loja Um"},
                    ],
                }
            ],
        },
        # Echoed by Meta in the message's status webhooks: the journey, the step, the template.
        "biz_opaque_callback_data": "pj1|post-purchase:loja-1:PED-1|thanks|thanks",
    }
    [sent] = fake.sent
    assert (receipt.message_id, receipt.adapter, receipt.channel) == (
        sent.id,
        "cloud_api",
        "whatsapp",
    )


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (131026, "RecipientUnreachable"),
        (131047, "TemplateRequired"),
        (100, "InvalidParameter"),
        (368, "SenderBlocked"),
    ],
)
async def test_permanent_errors_are_named_and_not_retried(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter, code: int, error_type: str
) -> None:
    fake.queue(error(code, "details from Meta"))
    err = await refusal(adapter)
    assert (err.type, err.non_retryable) == (error_type, True)
    assert f"WhatsApp error {code}" in err.message and "details from Meta" in err.message


@pytest.mark.parametrize("code", [130429, 131056, 80007])
async def test_throughput_limits_retry_with_growing_backoff(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter, code: int
) -> None:
    delays = []
    for attempt in (1, 2, 3):
        fake.queue(error(code, "slow down"))
        err = await refusal(adapter, attempt)
        assert (err.type, err.non_retryable) == ("RateLimited", False)
        delays.append(err.next_retry_delay)
    assert delays == [timedelta(seconds=6), timedelta(seconds=12), timedelta(seconds=24)]


async def test_a_retry_after_longer_than_the_backoff_is_honoured(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter
) -> None:
    fake.queue(error(130429, "slow down", headers={"Retry-After": "90"}))
    err = await refusal(adapter)
    assert err.next_retry_delay == timedelta(seconds=90)


async def test_the_marketing_cap_is_retried_later_at_growing_intervals(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter
) -> None:
    delays = []
    for attempt in (1, 2, 5):
        fake.queue(error(131049, "per-user marketing limit"))
        err = await refusal(adapter, attempt)
        assert (err.type, err.non_retryable) == ("MarketingCapReached", False)
        delays.append(err.next_retry_delay)
    assert delays == [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=4)]


async def test_the_real_refusals_of_a_bad_request_are_classified(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter
) -> None:
    # Two parameters approved, one sent: Meta's 132000, a permanent refusal.
    short = TemplateCall(name="pos_venda_obrigado", language="pt_BR", parameters=["Ana"])
    with pytest.raises(ApplicationError) as exc:
        await adapter.deliver(message(template=short))
    assert (exc.value.type, exc.value.non_retryable) == ("MessageRejected", True)
    assert "132000" in exc.value.message
    # Not approved in this language.
    english_only = TemplateCall(name="pos_venda_obrigado", language="es_ES", parameters=["a", "b"])
    with pytest.raises(ApplicationError, match="132001"):
        await adapter.deliver(message(template=english_only))
    assert fake.sent == []


async def test_a_wrong_token_is_an_auth_refusal(fake: FakeWhatsApp) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        adapter = WhatsAppCloudAdapter(
            fake.base_url, fake_whatsapp.VERSION, fake_whatsapp.PHONE_NUMBER_ID, "stale", client
        )
        err = await refusal(adapter)
    assert (err.type, err.non_retryable) == ("ProviderAuthRejected", True)
    assert fake.requests[0].status == 401


async def test_server_errors_retry(fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter) -> None:
    fake.queue(error(2, "service temporarily unavailable", status=503))
    err = await refusal(adapter)
    assert err.non_retryable is False


async def test_a_step_without_an_approved_template_is_not_sent(
    fake: FakeWhatsApp, adapter: WhatsAppCloudAdapter
) -> None:
    plain = outbox_message()  # no template mapped for it
    with pytest.raises(ApplicationError) as exc:
        await adapter.deliver(plain)
    assert (exc.value.type, exc.value.non_retryable) == ("TemplateRequired", True)
    assert fake.requests == []

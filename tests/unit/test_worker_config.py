"""Which adapter carries each channel, and the settings each one needs."""

import pytest
from pydantic import ValidationError

from activities import WorkerConfig
from activities.channels import (
    EmailApiAdapter,
    OutboxAdapter,
    WebhookAdapter,
    WhatsAppCloudAdapter,
    make_adapters,
)
from models import Channel
from tests import fake_email
from tests.conftest import FEEDBACK_SECRET
from tests.fake_email import FakeEmail
from tests.messages import message as outbox_message

CLOUD = {"whatsapp_phone_number_id": "1098", "whatsapp_token": "t"}
RESEND = {
    "email_api_key": fake_email.API_KEY,
    "email_from": "pedidos@loja.example",
    "unsubscribe_url": "https://loja.example/sair",
    "unsubscribe_mailto": "sair@loja.example",
}


def config(**values: object) -> WorkerConfig:
    return WorkerConfig(feedback_secret=FEEDBACK_SECRET, **values)  # type: ignore[arg-type]


def problem_lines(**values: object) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        config(**values)
    [error] = exc.value.errors()
    return str(error["msg"]).removeprefix("Value error, ").splitlines()


async def test_journey_adapter_carries_every_channel_unless_overridden() -> None:
    adapters = make_adapters(config())
    assert isinstance(adapters[Channel.WHATSAPP], OutboxAdapter)
    assert adapters[Channel.WHATSAPP] is adapters[Channel.EMAIL]  # one outbox, one lock

    mixed = make_adapters(
        config(whatsapp_adapter="cloud_api", **CLOUD, **RESEND, email_adapter="resend")
    )
    assert isinstance(mixed[Channel.WHATSAPP], WhatsAppCloudAdapter)
    assert isinstance(mixed[Channel.EMAIL], EmailApiAdapter)
    for adapter in mixed.values():
        await adapter.aclose()

    hooked = make_adapters(
        config(email_adapter="webhook", webhook_url="http://127.0.0.1:9/", webhook_secret="s")
    )
    assert isinstance(hooked[Channel.EMAIL], WebhookAdapter)
    assert isinstance(hooked[Channel.WHATSAPP], OutboxAdapter)
    await hooked[Channel.EMAIL].aclose()


def test_each_chosen_adapter_names_what_it_lacks() -> None:
    assert problem_lines(whatsapp_adapter="cloud_api", email_adapter="resend") == [
        "JOURNEY_WHATSAPP_ADAPTER=cloud_api needs JOURNEY_WHATSAPP_PHONE_NUMBER_ID, "
        "JOURNEY_WHATSAPP_TOKEN",
        "JOURNEY_EMAIL_ADAPTER=resend needs JOURNEY_EMAIL_API_KEY, JOURNEY_EMAIL_FROM, "
        "JOURNEY_UNSUBSCRIBE_MAILTO",
        "JOURNEY_EMAIL_ADAPTER=resend needs an https:// JOURNEY_PUBLIC_URL (emails' one-click "
        "unsubscribe link), or an https:// JOURNEY_UNSUBSCRIBE_URL",
    ]
    assert problem_lines(email_adapter="webhook") == [
        "JOURNEY_EMAIL_ADAPTER=webhook needs JOURNEY_WEBHOOK_URL and JOURNEY_WEBHOOK_SECRET"
    ]
    assert problem_lines(
        email_adapter="resend", **{**RESEND, "unsubscribe_url": "http://loja.example/sair"}
    ) == ["JOURNEY_UNSUBSCRIBE_URL: must be an https:// URL"]


def test_links_point_at_the_web_service_by_default() -> None:
    assert config().feedback_page == "http://localhost:8000/feedback"
    behind_a_proxy = config(public_url="https://loja.example/jornada/")
    assert behind_a_proxy.feedback_page == "https://loja.example/jornada/feedback"
    assert behind_a_proxy.unsubscribe_page == "https://loja.example/jornada/unsubscribe"
    own_page = config(
        public_url="https://loja.example", unsubscribe_url="https://loja.example/sair"
    )
    assert own_page.unsubscribe_page == "https://loja.example/sair"
    with pytest.raises(ValidationError, match="public_url"):
        config(public_url="loja.example")


async def test_emails_unsubscribe_link_is_the_web_services_page(email: FakeEmail) -> None:
    resend = {**RESEND, "unsubscribe_url": None, "email_api_base": email.base_url}
    chosen = config(email_adapter="resend", public_url="https://jornada.loja.example", **resend)
    adapter = make_adapters(chosen)[Channel.EMAIL]
    await adapter.deliver(
        outbox_message().model_copy(update={"channel": Channel.EMAIL, "to": "ana@example.com"})
    )
    await adapter.aclose()
    [request] = email.requests
    https, _ = (
        part.strip().strip("<>") for part in request.json["headers"]["List-Unsubscribe"].split(",")
    )
    assert https.startswith("https://jornada.loja.example/unsubscribe?token=")


def test_the_cloud_api_cannot_carry_email() -> None:
    with pytest.raises(ValidationError, match="email_adapter"):
        config(email_adapter="cloud_api")

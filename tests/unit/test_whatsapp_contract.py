"""Meta's documented webhook payloads (tests/fixtures/meta_webhooks/, each naming the
reference it follows), read into what the journeys get: statuses for the journey their
callback data names, customers' messages for the store whose number got them, and
everything else left alone and counted."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from models.conversation import DeliveryStatus, FallbackScope, ReplyKind
from whatsapp.notifications import Malformed, read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meta_webhooks"
JOURNEY = "post-purchase:loja-exemplo:PED-1001"
SENT_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
INBOUND_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def test_every_fixture_is_named_in_the_readme_with_its_reference() -> None:
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for path in FIXTURES.glob("*.json"):
        assert f"`{path.name}`" in readme, path.name


@pytest.mark.parametrize(
    ("name", "status", "at"),
    [
        ("status_sent", DeliveryStatus.SENT, 1750263773),
        ("status_delivered", DeliveryStatus.DELIVERED, 1750263775),
        ("status_read", DeliveryStatus.READ, 1750264100),
    ],
)
def test_a_status_goes_to_the_journey_and_step_its_callback_data_names(
    name: str, status: DeliveryStatus, at: int
) -> None:
    reading = read(fixture(name))
    [notice] = reading.statuses
    assert notice.journey_id == JOURNEY
    update = notice.update
    assert (update.message_id, update.step_id, update.template, update.status) == (
        SENT_WAMID,
        "thanks",
        "thanks",
        status,
    )
    assert update.status_id == f"{SENT_WAMID}:{status}"
    assert update.at == datetime.fromtimestamp(at, UTC)
    assert update.fallback is FallbackScope.NONE and update.error is None
    assert reading.messages == [] and not reading.skipped


def test_undeliverable_is_a_failure_that_moves_the_customer_to_the_next_channel() -> None:
    [notice] = read(fixture("status_failed_undeliverable")).statuses
    update = notice.update
    assert update.status is DeliveryStatus.FAILED
    assert (update.error_code, update.error_type, update.fallback) == (
        131026,
        "RecipientUnreachable",
        FallbackScope.CHANNEL,
    )
    assert update.error == "131026 Message undeliverable: Message Undeliverable."


def test_a_rate_limit_failure_is_recorded_without_moving_the_customer() -> None:
    [notice] = read(fixture("status_failed_rate_limit")).statuses
    assert notice.update.error_code == 131056
    assert notice.update.fallback is FallbackScope.NONE
    assert notice.update.error_type == "MessageFailed"


def test_a_status_without_our_callback_data_is_left_alone() -> None:
    reading = read(fixture("status_without_callback"))
    assert reading.statuses == [] and reading.skipped == {"not_ours": 1}


@pytest.mark.parametrize(
    ("name", "kind", "text", "quoted", "media"),
    [
        ("message_text", ReplyKind.TEXT, "Does it come in another color?", None, None),
        ("message_text_quoting", ReplyKind.TEXT, "Chegou quebrado", SENT_WAMID, None),
        ("message_button", ReplyKind.TEXT, "Parar", SENT_WAMID, None),
        ("message_interactive", ReplyKind.TEXT, "Gostei muito", SENT_WAMID, None),
        ("message_image", ReplyKind.MEDIA, "Veja a caixa", None, "image"),
        ("message_reaction", ReplyKind.TEXT, "\N{CRYING FACE}", SENT_WAMID, None),
    ],
)
def test_a_customers_message_is_read_for_the_store_whose_number_got_it(
    name: str, kind: ReplyKind, text: str, quoted: str | None, media: str | None
) -> None:
    reading = read(fixture(name))
    [message] = reading.messages
    assert (message.phone_number_id, message.sender) == ("109876543210", "5511987654321")
    reply = message.reply
    assert (reply.message_id, reply.kind, reply.text, reply.in_reply_to, reply.media_type) == (
        INBOUND_WAMID,
        kind,
        text,
        quoted,
        media,
    )
    assert reply.received_at == datetime.fromtimestamp(1750264200, UTC)
    # The contact's profile name is never read: only the number, to find the journeys.
    assert "Sheena" not in repr(message)


def test_an_unsupported_message_and_another_fields_change_are_left_alone() -> None:
    assert read(fixture("message_unsupported")).skipped == {"unsupported_type": 1}
    errors = fixture("message_unsupported")
    value = errors["entry"][0]["changes"][0]["value"]
    value["errors"] = value.pop("messages")[0]["errors"]  # Meta's errors webhook
    assert read(errors).skipped == {"account_error": 1}
    other = read(fixture("template_status_update"))
    assert (other.statuses, other.messages, other.skipped) == ([], [], {"other_field": 1})


def test_a_batch_is_read_item_by_item_and_one_bad_item_spoils_nothing_else() -> None:
    batch = fixture("status_delivered")
    value = batch["entry"][0]["changes"][0]["value"]
    good = value["statuses"][0]
    value["statuses"] = [
        good,
        {**good, "status": "deleted"},  # not a status of the four
        {**good, "timestamp": "yesterday"},
        {"id": "wamid.X"},  # no status, no timestamp
        {**copy.deepcopy(good), "id": "wamid.OTHER", "status": "read"},
    ]
    value["messages"] = [fixture("message_text")["entry"][0]["changes"][0]["value"]["messages"][0]]
    batch["entry"].append(fixture("message_image")["entry"][0])
    reading = read(batch)
    assert [(n.update.message_id, n.update.status) for n in reading.statuses] == [
        (SENT_WAMID, DeliveryStatus.DELIVERED),
        ("wamid.OTHER", DeliveryStatus.READ),
    ]
    assert [m.reply.kind for m in reading.messages] == [ReplyKind.TEXT, ReplyKind.MEDIA]
    assert reading.skipped == {"malformed_status": 3}


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        ([], "body: Input should be a valid dictionary"),
        ({"object": "page", "entry": []}, "object: expected 'whatsapp_business_account'"),
        ({"object": "whatsapp_business_account"}, "entry: Field required"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}, "entry.0.changes"),
    ],
)
def test_what_is_not_a_notification_is_refused_naming_why(document: Any, detail: str) -> None:
    with pytest.raises(Malformed, match=detail.replace(".", r"\.").replace("(", r"\(")):
        read(document)


def test_control_characters_in_a_customers_text_are_replaced_and_long_text_is_cut() -> None:
    document = fixture("message_text")
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] = "linha 1\nlinha\u202e 2\x00" + "a" * 5000
    [read_message] = read(document).messages
    text = read_message.reply.text
    assert isinstance(text, str) and text.startswith("linha 1\nlinha\ufffd 2\ufffd")
    assert len(text) == 4096 and text.endswith("…")

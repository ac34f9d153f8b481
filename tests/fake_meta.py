"""A fake Meta, both ways: the Cloud API the worker sends through (`FakeWhatsApp`), and
the webhooks Meta POSTs to the web service about those messages and the customers'
own, signed with the app secret, in the documented shapes of
tests/fixtures/meta_webhooks/."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.fake_whatsapp import FakeWhatsApp, Sent
from whatsapp.signature import SIGNATURE_HEADER, sign

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "meta_webhooks"
APP_SECRET = "meta-app-secret-for-tests-0123"
VERIFY_TOKEN = "meta-verify-token-0123456789"
WEBHOOK = "/v1/whatsapp/webhook"
ERRORS = {
    131026: ("Message undeliverable", "Message Undeliverable."),
    131047: (
        "Re-engagement message",
        "More than 24 hours have passed since the recipient last replied.",
    ),
    131000: ("Something went wrong", "Message failed to send because of an unknown error."),
}


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return document


def _value(document: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = document["entry"][0]["changes"][0]["value"]
    return value


def status_payload(
    sent: Sent, status: str, at: datetime, error_code: int | None = None
) -> dict[str, Any]:
    """Meta's status webhook for a message the fake took, echoing its callback data."""
    document = fixture("status_sent")
    item = _value(document)["statuses"][0]
    item.update(id=sent.id, status=status, timestamp=str(int(at.timestamp())), recipient_id=sent.to)
    if sent.callback_data is None:
        del item["biz_opaque_callback_data"]
    else:
        item["biz_opaque_callback_data"] = sent.callback_data
    if status != "sent":
        item.pop("pricing")
    if error_code is not None:
        title, details = ERRORS[error_code]
        item["errors"] = [
            {
                "code": error_code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return document


def message_payload(
    sender: str,
    text: str,
    at: datetime,
    message_id: str,
    quoting: str | None = None,
    phone_number_id: str = "109876543210",
) -> dict[str, Any]:
    """Meta's webhook for a customer's text to the business (`sender`: digits)."""
    document = fixture("message_text_quoting" if quoting else "message_text")
    value = _value(document)
    value["metadata"]["phone_number_id"] = phone_number_id
    value["contacts"][0]["wa_id"] = sender
    item = value["messages"][0]
    item.update(
        {"from": sender, "id": message_id, "timestamp": str(int(at.timestamp()))},
        text={"body": text},
    )
    if quoting:
        item["context"]["id"] = quoting
    return document


def signed(payload: Any, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret.encode(), body)}


@dataclass
class FakeMeta(FakeWhatsApp):
    """The Cloud API, and Meta's side of the webhook to `webhook_base` (the service)."""

    webhook_base: str = ""

    async def post(self, http: httpx.AsyncClient, payload: Any) -> httpx.Response:
        body, headers = signed(payload)
        return await http.post(f"{self.webhook_base}{WEBHOOK}", content=body, headers=headers)

    async def report(
        self,
        http: httpx.AsyncClient,
        sent: Sent,
        status: str,
        at: datetime,
        error_code: int | None = None,
    ) -> httpx.Response:
        """POST a status of `sent`, as Meta does once it knows."""
        return await self.post(http, status_payload(sent, status, at, error_code))

    async def customer_says(
        self,
        http: httpx.AsyncClient,
        sender: str,
        text: str,
        at: datetime,
        message_id: str,
        quoting: str | None = None,
    ) -> httpx.Response:
        """The customer writes to the business: the window for free-form text opens."""
        self.open_window(sender)
        return await self.post(http, message_payload(sender, text, at, message_id, quoting))

    def sent_copy(self) -> list[Sent]:
        with self.lock:
            return copy.deepcopy(self.sent)

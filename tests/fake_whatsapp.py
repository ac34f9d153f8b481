"""A fake WhatsApp Cloud API: `POST /{version}/{phone_number_id}/messages`.

It checks what Meta checks — the bearer token, the phone number id, the
`messaging_product`, the recipient, that only approved templates go outside the
24-hour window (free text gets 131047), the template's language and its number of
body parameters — and answers with Meta's success and error shapes. Free-form text
goes only to a number whose 24-hour customer service window a message of the customer
opened (`open_window`). Tests make a number unreachable (131026) or queue errors to
answer the next requests with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fake_provider import FakeProvider, Reply, parse_json
from whatsapp.phones import canonical_phone

TOKEN = "wa-test-token"
PHONE_NUMBER_ID = "109876543210"
VERSION = "v23.0"

MESSAGES = {
    100: "(#100) Invalid parameter",
    131026: "(#131026) Message Undeliverable.",
    130429: "(#130429) Rate limit hit",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    80007: "(#80007) Rate limit issues",
    131049: "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
    131047: "(#131047) Re-engagement message",
    368: "(#368) Temporarily blocked for policies violations",
    190: "Invalid OAuth access token - Cannot parse access token",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
}


def _account(to: str) -> str:
    return canonical_phone(to) or to


def error(
    code: int, details: str, status: int = 400, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(
        status,
        {
            "error": {
                "message": MESSAGES.get(code, f"(#{code})"),
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": details},
                "fbtrace_id": "AbCdEfGhIjKlMnOp",
            }
        },
        headers or {},
    )


@dataclass(frozen=True)
class Approved:
    """A template as approved in WhatsApp Manager."""

    category: str
    parameters: int
    languages: frozenset[str] = frozenset({"pt_BR", "en_US"})


@dataclass
class Sent:
    id: str
    to: str
    template: str  # "" for free-form text
    language: str
    parameters: list[str]
    callback_data: str | None = None  # biz_opaque_callback_data, echoed in statuses
    text: str | None = None  # free-form text
    reply_to: str | None = None  # the customer's message it quotes


@dataclass
class FakeWhatsApp(FakeProvider):
    templates: dict[str, Approved] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)  # digits, as in `to`
    queued: list[Reply] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    windows: set[str] = field(default_factory=set)  # digits with an open service window

    def __post_init__(self) -> None:
        FakeProvider.__init__(self)

    def open_window(self, to: str) -> None:
        """The customer (digits, as in `to`) wrote: free-form text may go for 24 hours.
        Meta knows a Brazilian mobile with or without its ninth digit as one account."""
        with self.lock:
            self.windows.add(_account(to))

    def queue(self, *replies: Reply) -> None:
        with self.lock:
            self.queued.extend(replies)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return error(190, "invalid or missing access token", status=401)
        if path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
            return error(100, f"Unsupported post request: {path}")
        request = parse_json(body)
        if not isinstance(request, dict):
            return error(100, "the body is not a JSON object")
        problem = self._invalid(request)
        if problem is not None:
            return problem
        if self.queued:
            return self.queued.pop(0)
        to = request["to"]
        if to in self.unreachable:
            return error(
                131026, "Message failed to send because the user's number is not on WhatsApp"
            )
        callback_data = request.get("biz_opaque_callback_data")
        if request["type"] == "text":
            message = Sent(
                id=f"wamid.FAKE{len(self.sent) + 1:04d}",
                to=to,
                template="",
                language="",
                parameters=[],
                callback_data=callback_data,
                text=request["text"]["body"],
                reply_to=(request.get("context") or {}).get("message_id"),
            )
        else:
            template = request["template"]
            message = Sent(
                id=f"wamid.FAKE{len(self.sent) + 1:04d}",
                to=to,
                template=template["name"],
                language=template["language"]["code"],
                parameters=[
                    p["text"] for c in template.get("components", []) for p in c["parameters"]
                ],
                callback_data=callback_data,
            )
        self.sent.append(message)
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": message.id, "message_status": "accepted"}],
            },
        )

    def _invalid(self, request: dict[str, Any]) -> Reply | None:
        if request.get("messaging_product") != "whatsapp":
            return error(100, "The parameter messaging_product is required.")
        if not re.fullmatch(r"\d{8,15}", str(request.get("to", ""))):
            return error(100, "Invalid parameter: to")
        callback_data = request.get("biz_opaque_callback_data")
        if callback_data is not None and (
            not isinstance(callback_data, str) or len(callback_data) > 512
        ):
            return error(100, "Invalid parameter: biz_opaque_callback_data (up to 512 characters)")
        if request.get("type") == "text" and _account(request["to"]) in self.windows:
            text = request.get("text")
            if (
                not isinstance(text, dict)
                or not isinstance(text.get("body"), str)
                or not text["body"]
            ):
                return error(100, "The parameter text['body'] is required.")
            return None
        if request.get("type") != "template":
            # No customer message in the last 24 hours: only templates may go.
            return error(131047, "More than 24 hours have passed since the customer last replied")
        template = request.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("name"), str):
            return error(100, "The parameter template['name'] is required.")
        approved = self.templates.get(template["name"])
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if approved is None or code not in approved.languages:
            return error(132001, f"template name ({template['name']}) does not exist in {code}")
        parameters: list[Any] = []
        for component in template.get("components", []):
            if component.get("type") != "body" or not isinstance(component.get("parameters"), list):
                return error(100, "Invalid parameter: components")
            parameters.extend(component["parameters"])
        if any(
            p.get("type") != "text" or not isinstance(p.get("text"), str) or not p["text"]
            for p in parameters
        ):
            return error(100, "Invalid parameter: body parameters must be non-empty text")
        if len(parameters) != approved.parameters:
            return error(
                132000, f"expected {approved.parameters} parameters, got {len(parameters)}"
            )
        return None

"""A fake transactional email API in the style of Resend: `POST /emails`.

It checks what Resend checks — the bearer key, the required fields, the `from` and
`to` formats, the idempotency key — and answers with Resend's success and error
shapes (`{"statusCode", "name", "message"}`). A repeated `Idempotency-Key` with the
same payload gets the first answer and sends nothing; with another payload, 409
`invalid_idempotent_request`. Tests mark addresses the provider refuses, or queue
answers for the next requests.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fake_provider import FakeProvider, Reply, parse_json

API_KEY = "re_test_0123456789"
_ADDRESS = r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+"
_FROM = re.compile(rf"^(?:{_ADDRESS}|[^<>]+ <{_ADDRESS}>)$")


def error(status: int, name: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"statusCode": status, "name": name, "message": message}, headers)


INVALID_TO = (
    "Invalid `to` field. The email address needs to follow the `email@example.com` "
    "or `Name <email@example.com>` format."
)


@dataclass
class Email:
    id: str
    idempotency_key: str
    payload: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.payload.get("headers", {}))


@dataclass
class FakeEmail(FakeProvider):
    refused: set[str] = field(default_factory=set)  # addresses answered 422 invalid `to`
    queued: list[Reply] = field(default_factory=list)
    sent: list[Email] = field(default_factory=list)
    _by_key: dict[str, tuple[str, Reply]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        FakeProvider.__init__(self)

    def queue(self, *replies: Reply) -> None:
        with self.lock:
            self.queued.extend(replies)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        authorization = headers.get("authorization")
        if not authorization:
            return error(401, "missing_api_key", "Missing API key in the authorization header.")
        if authorization != f"Bearer {API_KEY}":
            return error(403, "invalid_api_key", "API key is invalid")
        if path != "/emails":
            return error(404, "not_found", "The requested endpoint does not exist.")
        payload = parse_json(body)
        if not isinstance(payload, dict):
            return error(422, "validation_error", "The body is not a JSON object.")
        problem = self._invalid(payload)
        if problem is not None:
            return problem
        if self.queued:
            return self.queued.pop(0)
        key = headers.get("idempotency-key")
        digest = hashlib.sha256(body).hexdigest()
        if key is not None:
            if not 1 <= len(key) <= 256:
                return error(400, "invalid_idempotency_key", "Keys are 1 to 256 characters.")
            if key in self._by_key:
                seen_digest, reply = self._by_key[key]
                if seen_digest != digest:
                    return error(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    )
                return reply
        to = payload["to"] if isinstance(payload["to"], list) else [payload["to"]]
        if any(address in self.refused for address in to):
            return error(422, "validation_error", INVALID_TO)
        email = Email(f"email-{len(self.sent) + 1:04d}", key or "", payload)
        self.sent.append(email)
        reply = Reply(200, {"id": email.id})
        if key is not None:
            self._by_key[key] = (digest, reply)
        return reply

    def _invalid(self, payload: dict[str, Any]) -> Reply | None:
        for name in ("from", "to", "subject"):
            if not payload.get(name):
                return error(422, "missing_required_field", f"Missing `{name}` field.")
        if not (payload.get("html") or payload.get("text")):
            return error(422, "missing_required_field", "Missing `html` or `text` field.")
        if not isinstance(payload["from"], str) or not _FROM.match(payload["from"]):
            return error(422, "validation_error", "Invalid `from` field.")
        to = payload["to"] if isinstance(payload["to"], list) else [payload["to"]]
        if not 1 <= len(to) <= 50 or not all(
            isinstance(a, str) and re.fullmatch(_ADDRESS, a) for a in to
        ):
            return error(422, "validation_error", INVALID_TO)
        headers = payload.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            return error(422, "validation_error", "Invalid `headers` field.")
        return None

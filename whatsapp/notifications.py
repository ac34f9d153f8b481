"""Meta's webhook notifications for the `messages` field, read into what journeys need.

The shape, from the Cloud API's webhook reference (the `messages` field: "Status
messages" and the incoming messages it lists):

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>", "changes": [{"field": "messages", "value": {
         "messaging_product": "whatsapp",
         "metadata": {"display_phone_number": "...", "phone_number_id": "..."},
         "statuses": [{"id": "wamid...", "status": "delivered", "timestamp": "1749416383",
                       "recipient_id": "...", "biz_opaque_callback_data": "...",
                       "errors": [{"code": 131026, "title": "...", ...}]}],
         "contacts": [...],
         "messages": [{"from": "...", "id": "wamid...", "timestamp": "...",
                       "type": "text", "text": {"body": "..."},
                       "context": {"from": "...", "id": "wamid..."}}]}}]}]}

The envelope must have this shape, or the whole notification is refused (`Malformed`).
Each status and message inside is read on its own: one Meta never documented is left
alone and counted, and the others are applied, since sending the same payload again
would not make it readable. Unknown fields are ignored: Meta adds them over time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.base import control_character
from models.conversation import CustomerReply, DeliveryStatus, ReplyKind, StatusUpdate
from models.limits import EARLIEST_DATE, LATEST_DATE
from whatsapp.callback import decode
from whatsapp.failures import classify

OBJECT = "whatsapp_business_account"
FIELD = "messages"
MAX_TEXT = 4096  # the longest text WhatsApp carries
MAX_ERROR = 300
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker", "location", "contacts"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MetaError(_Lenient):
    code: int
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None

    def describe(self) -> str:
        details = (self.error_data or {}).get("details")
        text = f"{self.code} {self.title or self.message or ''}".strip()
        if isinstance(details, str) and details and details != self.title:
            text += f": {details}"
        return _clean(text, MAX_ERROR, prose=False)


class Status(_Lenient):
    id: str = Field(min_length=1, max_length=256)
    status: str
    timestamp: str
    recipient_id: str | None = None
    biz_opaque_callback_data: str | None = None
    errors: list[MetaError] = Field(default_factory=list)


class Context(_Lenient):
    id: str | None = Field(default=None, max_length=256)


class Message(_Lenient):
    sender: str | None = Field(default=None, alias="from")
    id: str = Field(min_length=1, max_length=256)
    timestamp: str
    type: str
    context: Context | None = None
    text: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None


class Metadata(_Lenient):
    phone_number_id: str = Field(min_length=1, max_length=64)


class Value(_Lenient):
    metadata: Metadata | None = None
    statuses: list[Any] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)
    errors: list[Any] = Field(default_factory=list)  # about the account, not a message


class Change(_Lenient):
    field: str
    value: dict[str, Any]


class Entry(_Lenient):
    changes: list[Change]


class Notification(_Lenient):
    object: str
    entry: list[Entry]


class Malformed(Exception):
    """Not a WhatsApp Business Account notification; the message says why."""


@dataclass(frozen=True)
class StatusNotice:
    """A status of a message this product sent, for the journey that sent it."""

    journey_id: str
    update: StatusUpdate


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message to one of the business's numbers. `sender` is customer
    data (the `from` wa_id): it is hashed to find journeys, never logged or kept."""

    phone_number_id: str
    sender: str | None
    reply: CustomerReply


@dataclass
class Reading:
    statuses: list[StatusNotice] = field(default_factory=list)
    messages: list[InboundMessage] = field(default_factory=list)
    # What was left alone, by why: a metric label each.
    skipped: Counter[str] = field(default_factory=Counter)


def read(document: Any) -> Reading:
    """What a notification says, or `Malformed` when it is not one."""
    try:
        notification = Notification.model_validate(document)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Malformed(f"{where}: {first['msg']}") from None
    if notification.object != OBJECT:
        raise Malformed(f"object: expected {OBJECT!r}, got {notification.object[:60]!r}")
    reading = Reading()
    for entry in notification.entry:
        for change in entry.changes:
            if change.field != FIELD:
                reading.skipped["other_field"] += 1  # template or account updates
                continue
            _read_value(change.value, reading)
    return reading


def _read_value(raw: dict[str, Any], reading: Reading) -> None:
    try:
        value = Value.model_validate(raw)
    except ValidationError:
        reading.skipped["malformed_change"] += 1
        return
    if value.errors:
        reading.skipped["account_error"] += len(value.errors)
    for item in value.statuses:
        notice, skipped = _status(item)
        if notice is not None:
            reading.statuses.append(notice)
        else:
            reading.skipped[skipped] += 1
    for item in value.messages:
        if value.metadata is None:
            reading.skipped["malformed_message"] += 1
            continue
        message, skipped = _message(item, value.metadata.phone_number_id)
        if message is not None:
            reading.messages.append(message)
        else:
            reading.skipped[skipped] += 1


def _status(item: Any) -> tuple[StatusNotice | None, str]:
    try:
        status = Status.model_validate(item)
    except ValidationError:
        return None, "malformed_status"
    at = moment(status.timestamp)
    if at is None or status.status not in DeliveryStatus.__members__.values():
        return None, "malformed_status"
    sent_by = decode(status.biz_opaque_callback_data)
    if sent_by is None:
        return None, "not_ours"  # a message another tool sent from the same number
    kind = DeliveryStatus(status.status)
    update = StatusUpdate(
        status_id=f"{status.id}:{kind}",
        message_id=status.id,
        step_id=sent_by.step_id,
        template=sent_by.template,
        status=kind,
        at=at,
    )
    if kind is DeliveryStatus.FAILED:
        error = status.errors[0] if status.errors else None
        failure = classify(error.code if error else None)
        update = update.model_copy(
            update={
                "error_code": error.code if error else None,
                "error": error.describe() if error else "failed without an error",
                "error_type": failure.error_type,
                "fallback": failure.fallback,
            }
        )
    return StatusNotice(sent_by.journey_id, update), ""


def _message(item: Any, phone_number_id: str) -> tuple[InboundMessage | None, str]:
    try:
        message = Message.model_validate(item)
    except ValidationError:
        return None, "malformed_message"
    at = moment(message.timestamp)
    if at is None:
        return None, "malformed_message"
    kind, text, quoted = _content(message, item)
    if kind is None:
        return None, "unsupported_type"
    reply = CustomerReply(
        message_id=message.id,
        received_at=at,
        kind=kind,
        text=_clean(text, MAX_TEXT) if text else None,
        media_type=message.type if kind is ReplyKind.MEDIA else None,
        in_reply_to=quoted or (message.context.id if message.context else None),
    )
    return InboundMessage(phone_number_id, message.sender, reply), ""


def _content(
    message: Message, item: dict[str, Any]
) -> tuple[ReplyKind | None, str | None, str | None]:
    """The kind, the text (a caption, for media) and the message a reaction reacts to."""
    if message.type == "text" and message.text:
        return ReplyKind.TEXT, _text(message.text.get("body")), None
    if message.type == "button" and message.button:
        return ReplyKind.TEXT, _text(message.button.get("text")), None
    if message.type == "interactive" and message.interactive:
        chosen = message.interactive.get("button_reply") or message.interactive.get("list_reply")
        title = chosen.get("title") if isinstance(chosen, dict) else None
        return ReplyKind.TEXT, _text(title), None
    if message.type == "reaction" and message.reaction:
        emoji = _text(message.reaction.get("emoji"))
        if not emoji:
            return None, None, None  # a reaction taken back
        return ReplyKind.TEXT, emoji, _text(message.reaction.get("message_id"))
    if message.type in MEDIA_TYPES:
        body = item.get(message.type)
        caption = body.get("caption") if isinstance(body, dict) else None
        return ReplyKind.MEDIA, _text(caption), None
    return None, None, None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _clean(text: str, limit: int, *, prose: bool = True) -> str:
    """Control characters the journey's models refuse become U+FFFD; then cut to `limit`."""
    while (found := control_character(text, prose=prose)) is not None:
        text = text.replace(found, "\ufffd")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def moment(timestamp: str) -> datetime | None:
    """Meta's Unix seconds as a moment, or None when they are not a date of this century."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return None
    at = datetime.fromtimestamp(int(timestamp), UTC)
    return at if EARLIEST_DATE <= at < LATEST_DATE else None

"""The delivered order as the store backend reports it."""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email

from models.base import Channel, Moment, Name, Strict, not_blank
from models.limits import MAX_ITEMS, MAX_QUANTITY
from models.sealed import Sealed, TextOrSealed, masked

Locale = Literal["pt-BR", "en"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("pt-BR", "en")

# Ids become part of the workflow id `post-purchase:{store}:{order}`, so they may not
# contain the separator and stay short enough for provider idempotency keys.
BusinessId = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]


@functools.lru_cache(maxsize=4096)
def _normalized_email(value: str) -> str:
    # pydantic's EmailStr check (email_validator), remembered: a journey's address is
    # decoded again for every send and every replay.
    if value != value.strip():
        raise ValueError("must not have spaces or line breaks around it")
    return validate_email(value)[1]


Email = Annotated[
    str, AfterValidator(_normalized_email), WithJsonSchema({"type": "string", "format": "email"})
]

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def check_e164(value: str) -> str:
    if not _E164.fullmatch(value):
        shown = value if len(value) <= 30 else f"{value[:30]}..."
        raise ValueError(f"{shown!r} is not an E.164 number such as +5511987654321")
    return value


@functools.cache
def iana_timezones() -> frozenset[str]:
    """The IANA database's keys, e.g. 'America/Sao_Paulo'. Names of its folders
    ('America') and files that are not zones are not among them."""
    return frozenset(zoneinfo.available_timezones())


# The customer's personal data: sealed at the edge when customer data is protected.
ContactField = Literal["name", "email", "phone"]
CONTACT_FIELDS: tuple[ContactField, ...] = ("name", "email", "phone")


PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=120), AfterValidator(not_blank)
]


class Customer(Strict):
    id: BusinessId | None = None
    name: Annotated[str | Sealed, TextOrSealed(PersonName)]
    locale: Locale = "pt-BR"
    timezone: str = "America/Sao_Paulo"
    email: Annotated[str | Sealed | None, TextOrSealed(Email | None)] = None
    phone: Annotated[str | Sealed | None, TextOrSealed(str | None)] = Field(
        default=None, description="E.164, e.g. +5511987654321"
    )
    whatsapp_opt_in: bool = Field(
        default=False, description="The customer agreed to hear from the store on WhatsApp."
    )
    marketing_opt_in: bool = Field(
        default=False, description="The customer agreed to marketing messages, on any channel."
    )
    preferred_channel: Channel | None = Field(
        default=None, description="Overrides the store's channel for this customer."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in iana_timezones():
            shown = value if len(value) <= 60 else f"{value[:60]}..."
            raise ValueError(f"unknown IANA timezone {shown!r}, e.g. 'America/Sao_Paulo'")
        return value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | Sealed | None) -> str | Sealed | None:
        return check_e164(value) if isinstance(value, str) else value

    @property
    def first_name(self) -> str:
        return self.plain("name").split()[0]

    def plain(self, field: ContactField) -> str:
        """A contact field's text; sealed data must be unsealed first (activities do,
        through the vault), so reading it sealed is a bug, not a customer's problem."""
        value = getattr(self, field)
        if not isinstance(value, str):
            raise TypeError(f"customer.{field} is {'sealed' if value else 'missing'}")
        return value

    @property
    def sealed(self) -> bool:
        return any(isinstance(getattr(self, f), Sealed) for f in CONTACT_FIELDS)

    def masks(self) -> dict[str, str]:
        """What operators see of the contact data: masked, sealed or not."""
        shown = {
            "name": masked(self.name, "name"),
            "email": masked(self.email, "email"),
            "phone": masked(self.phone, "phone"),
        }
        return {field: text for field, text in shown.items() if text is not None}


class OrderItem(Strict):
    sku: Name = Field(min_length=1, max_length=64)
    name: Name = Field(min_length=1, max_length=200)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class Order(Strict):
    """An order as the store knows it, whatever has happened to it so far."""

    store_id: BusinessId
    order_id: BusinessId
    customer: Customer
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)
    promised_delivery_by: Moment | None = Field(
        default=None,
        description="The delivery date promised at checkout; starts the delivery watch.",
    )

    @property
    def journey_id(self) -> str:
        return journey_id(self.store_id, self.order_id)


class DeliveredOrder(Order):
    delivered_at: Moment

    def without_delivery(self) -> Order:
        return Order.model_validate(self.model_dump(exclude={"delivered_at"}))


class CustomerIdentifiers(Strict):
    """Who a data subject's request (an erasure) is about: a store's customer, known by
    any of their id, email or phone."""

    store_id: BusinessId
    customer_id: BusinessId | None = None
    email: Email | None = None
    phone: Annotated[str, AfterValidator(check_e164)] | None = None

    @model_validator(mode="after")
    def _someone(self) -> CustomerIdentifiers:
        if self.customer_id is None and self.email is None and self.phone is None:
            raise ValueError("name the customer: a customer id, an email or a phone")
        return self


def journey_id(store_id: str, order_id: str) -> str:
    """The business key: one journey per order, ever."""
    return f"post-purchase:{store_id}:{order_id}"


def journey_parts(workflow_id: str) -> tuple[str, str] | None:
    """The store and order ids of a journey's workflow id, or None if it is not one."""
    kind, _, ids = workflow_id.partition(":")
    store_id, _, order_id = ids.partition(":")
    if kind != "post-purchase" or not store_id or not order_id or ":" in order_id:
        return None
    return store_id, order_id


def local_time(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(timezone))

"""Search attributes: how operators find journeys in the Web UI, the CLI and list queries.

StoreId, OrderId and CustomerId are set once, when the run starts. JourneyStage and
NextActionAt move with the journey; the workflow keeps them up to date only in runs
started with the static ones (a namespace where they are not registered would fail
the workflow task on every upsert).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from models.order import Order

STORE_ID = SearchAttributeKey.for_keyword("StoreId")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
JOURNEY_STAGE = SearchAttributeKey.for_keyword("JourneyStage")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
# A keyed hash of the customer's phone (whatsapp/phones.py), never the number: how a
# customer's WhatsApp message finds their journeys.
CUSTOMER_PHONE_HASH = SearchAttributeKey.for_keyword("CustomerPhoneHash")

ALL: tuple[SearchAttributeKey[str] | SearchAttributeKey[datetime], ...] = (
    STORE_ID,
    ORDER_ID,
    CUSTOMER_ID,
    JOURNEY_STAGE,
    NEXT_ACTION_AT,
    CUSTOMER_PHONE_HASH,
)

# The Temporal CLI's names for the types, for `--search-attribute` and `create --type`.
_CLI_TYPES = {"KEYWORD": "Keyword", "DATETIME": "Datetime"}


def cli_type(key: SearchAttributeKey[str] | SearchAttributeKey[datetime]) -> str:
    return _CLI_TYPES[key.indexed_value_type.name]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register every journey attribute."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={cli_type(key)}"]
    return flags


def start_attributes(
    order: Order,
    stage: str | None = None,
    next_action_at: datetime | None = None,
    phone_hash: str | None = None,
) -> TypedSearchAttributes:
    """The attributes a run starts with: who and what it is about, no contact details
    (the phone only as its keyed hash); and, when the caller computed them, the stage
    and next action the run's first workflow task would set (attributes set at the
    start cost no upsert)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(STORE_ID, order.store_id),
        SearchAttributePair(ORDER_ID, order.order_id),
    ]
    if order.customer.id is not None:
        pairs.append(SearchAttributePair(CUSTOMER_ID, order.customer.id))
    if stage is not None:
        pairs.append(SearchAttributePair(JOURNEY_STAGE, stage))
    if next_action_at is not None:
        pairs.append(SearchAttributePair(NEXT_ACTION_AT, next_action_at))
    if phone_hash is not None:
        pairs.append(SearchAttributePair(CUSTOMER_PHONE_HASH, phone_hash))
    return TypedSearchAttributes(pairs)


def opening_index(attributes: TypedSearchAttributes) -> tuple[str, datetime | None] | None:
    """The stage and next action a run was started with, if its starter set them."""
    stage = attributes.get(JOURNEY_STAGE)
    return None if stage is None else (stage, attributes.get(NEXT_ACTION_AT))


def is_indexed(attributes: TypedSearchAttributes) -> bool:
    """The run was started with the journey's attributes, so the namespace has them."""
    return attributes.get(STORE_ID) is not None


def nearly_the_same(
    first: tuple[str, datetime | None], second: tuple[str, datetime | None]
) -> bool:
    """The same stage, and next actions within a second of each other: what a starter
    computed and what the run's first workflow task computes, a moment apart, when
    journey time is sped up."""
    (stage, at), (other_stage, other_at) = first, second
    if stage != other_stage or (at is None) != (other_at is None):
        return False
    return at is None or other_at is None or abs(at - other_at) < timedelta(seconds=1)

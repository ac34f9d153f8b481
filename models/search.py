"""Search attributes: how operators find journeys in the Web UI, the CLI and list queries.

StoreId, OrderId and CustomerId are set once, when the run starts. JourneyStage and
NextActionAt move with the journey; the workflow keeps them up to date only in runs
started with the static ones (a namespace where they are not registered would fail
the workflow task on every upsert).
"""

from __future__ import annotations

from datetime import datetime

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from models.order import Order

STORE_ID = SearchAttributeKey.for_keyword("StoreId")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
JOURNEY_STAGE = SearchAttributeKey.for_keyword("JourneyStage")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")

ALL: tuple[SearchAttributeKey[str] | SearchAttributeKey[datetime], ...] = (
    STORE_ID,
    ORDER_ID,
    CUSTOMER_ID,
    JOURNEY_STAGE,
    NEXT_ACTION_AT,
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


def start_attributes(order: Order) -> TypedSearchAttributes:
    """The attributes a run starts with: who and what it is about, no contact details."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(STORE_ID, order.store_id),
        SearchAttributePair(ORDER_ID, order.order_id),
    ]
    if order.customer.id is not None:
        pairs.append(SearchAttributePair(CUSTOMER_ID, order.customer.id))
    return TypedSearchAttributes(pairs)


def is_indexed(attributes: TypedSearchAttributes) -> bool:
    """The run was started with the journey's attributes, so the namespace has them."""
    return attributes.get(STORE_ID) is not None

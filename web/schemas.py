"""The bodies of the store API, for its OpenAPI document (`/docs`). Requests are read
as raw bytes, since the signature covers them, and checked by the same edge as the
Python API (`intake`), which names every invalid field."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.events import OrderEvent
from models.order import Order


class EventBody(BaseModel):
    """An order event for the order's journey, which the first event starts."""

    order: Order = Field(description="The order, as the store knows it now.")
    event: OrderEvent


class FeedbackBody(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class OptOutBody(BaseModel):
    reason: str = Field(default="", max_length=300)


class EventAccepted(BaseModel):
    journey_id: str = Field(description="The workflow id: post-purchase:{store}:{order}.")
    started: bool = Field(description="True when this event started the journey.")
    event: str = Field(description="`type:event_id`, as the journey records it.")


class JourneyAnswer(BaseModel):
    journey_id: str
    answer: str = Field(description="What the journey answered, e.g. 'feedback received'.")


class ErasureBody(BaseModel):
    """Who to forget: any of the store's customer id, their email or their phone."""

    customer_id: str | None = Field(default=None, description="The store's customer id.")
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164, e.g. +5511987654321")


class ErasureDone(BaseModel):
    customers: int = Field(description="Customers found by the identifiers given.")
    keys_deleted: int = Field(description="Data keys deleted: their data is now unreadable.")
    stopped: list[str] = Field(description="Journeys stopped now, recorded as erased.")
    ended: list[str] = Field(description="Journeys that had ended; their data is unreadable too.")
    unreached: list[str] = Field(
        description="Journeys that did not answer (stuck, no worker): they stop at their "
        "next send, which finds the key gone."
    )


def body_of(model: type[BaseModel]) -> dict[str, object]:
    """`openapi_extra` documenting a JSON body the handler reads raw."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }

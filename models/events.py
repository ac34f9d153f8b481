"""Order events the store backend reports, in any order, possibly more than once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, HttpUrl, StringConstraints, model_validator

from models.base import Moment, Name, Strict
from models.limits import MAX_COMMENT, MAX_REASON
from models.sealed import Sealed, TextOrSealed

Comment = Annotated[str, StringConstraints(max_length=MAX_COMMENT)]


class OrderEventType(StrEnum):
    PLACED = "placed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    OPTED_OUT = "opted_out"


# After one of these, promotional steps (coupon, social invitation) are skipped.
ENDS_PROMOTION = frozenset(
    {OrderEventType.RETURNED, OrderEventType.REFUNDED, OrderEventType.CANCELLED}
)


class Shipment(Strict):
    carrier: Name = Field(min_length=1, max_length=80)
    tracking_code: Name = Field(min_length=1, max_length=80)
    tracking_url: HttpUrl
    promised_by: Moment | None = Field(
        default=None, description="The carrier's delivery estimate; overrides the order's."
    )


class OrderEvent(Strict):
    event_id: Name = Field(
        min_length=1, max_length=100, description="Makes the event idempotent: resent, ignored."
    )
    type: OrderEventType
    occurred_at: Moment = Field(description="For `delivered`, the delivery time.")
    shipment: Shipment | None = None
    reason: str | None = Field(default=None, max_length=MAX_REASON)

    @model_validator(mode="after")
    def _shipment_only_when_shipped(self) -> OrderEvent:
        if self.type is OrderEventType.SHIPPED and self.shipment is None:
            raise ValueError("a shipped event needs its shipment (carrier, tracking code, URL)")
        if self.type is not OrderEventType.SHIPPED and self.shipment is not None:
            raise ValueError(f"a {self.type} event carries no shipment")
        return self


class Feedback(Strict):
    """What the customer answered, through the store's feedback page."""

    PROSE = frozenset({"comment"})

    rating: int = Field(ge=1, le=5)
    # Sealed under the customer's key when customer data is protected.
    comment: Annotated[str | Sealed | None, TextOrSealed(Comment | None)] = None

    @property
    def comment_text(self) -> str | None:
        """The comment as the customer wrote it, before it was sealed."""
        if isinstance(self.comment, Sealed):
            raise TypeError("the comment is sealed")
        return self.comment


class FeedbackSubmission(BaseModel):
    """The `submit_feedback` update's argument. Unconstrained on purpose: the update's
    validator rejects a bad rating with a reason instead of a decoding error."""

    rating: int
    comment: str | Sealed | None = None

"""The journeys' workflows. Importing the package imports neither workflow module:
the sandbox imports one for every journey it runs, and should import only that one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.legacy.post_purchase import PostPurchaseJourney
    from workflows.order_journey import OrderJourney

__all__ = ["OrderJourney", "PostPurchaseJourney"]


def __getattr__(name: str) -> Any:
    if name == "OrderJourney":
        from workflows.order_journey import OrderJourney

        return OrderJourney
    if name == "PostPurchaseJourney":
        from workflows.legacy.post_purchase import PostPurchaseJourney

        return PostPurchaseJourney
    raise AttributeError(name)

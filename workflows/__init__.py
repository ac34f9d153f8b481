from workflows.order_journey import OrderJourney
from workflows.post_purchase import PostPurchaseJourney

__all__ = ["OrderJourney", "PostPurchaseJourney"]

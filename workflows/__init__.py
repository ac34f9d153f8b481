from workflows.post_purchase import PostPurchaseJourney

__all__ = ["PostPurchaseJourney"]

"""Messages the journey sends in reaction to events, outside the post-delivery plan."""

from __future__ import annotations

from models.plan import Step, StepKind, StepPurpose

ORDER_CONFIRMATION = Step(id="order_confirmation", template="order_confirmation")
SHIPPING_UPDATE = Step(id="shipping_update", template="shipping_update")
DELIVERY_APOLOGY = Step(id="delivery_apology", template="delivery_apology")
FEEDBACK_THANKS = Step(id="feedback_thanks", template="feedback_thanks")
SUPPORT_FOLLOWUP = Step(id="support_followup", template="support_followup")
# The one short answer to an opt-out keyword on WhatsApp, inside the window it opened.
OPT_OUT_CONFIRMATION = Step(id="opt_out_confirmation", template="opt_out_confirmation")
FEEDBACK_REMINDER = Step(
    id="feedback_reminder",
    kind=StepKind.FEEDBACK_REQUEST,
    purpose=StepPurpose.FEEDBACK,
    template="feedback_reminder",
)

STAGE_STEPS = (
    ORDER_CONFIRMATION,
    SHIPPING_UPDATE,
    DELIVERY_APOLOGY,
    FEEDBACK_THANKS,
    SUPPORT_FOLLOWUP,
    FEEDBACK_REMINDER,
    OPT_OUT_CONFIRMATION,
)
# Alert templates, rendered in the store's locale.
ALERT_TEMPLATES = ("alert_late_delivery", "alert_low_rating", "alert_customer_reply")

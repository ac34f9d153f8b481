"""The edge: every input is checked whole before anything starts.

Every entry point (the command line's files and lines, the Python API, backfill, and
the HTTP service) goes through the same steps:
1. bytes become JSON within the documented limits (`documents`);
2. JSON becomes the models, with their bounds, and dates are checked against now
   (`validation`);
3. every moment the journey may act on is computed ahead, the customer must be
   reachable on some channel, and every message is dry-run rendered (`dry_run`), so
   nothing accepted fails days later inside a running journey.

Every problem becomes one line naming the field (`order.customer.phone: ...`), raised
together as `InvalidJourney`. Anything else raised here is a bug.
"""

from intake.documents import check_document, load_json, parse_json
from intake.dry_run import (
    PREVIEW_FACTS,
    PREVIEW_FEEDBACK_URL,
    RenderMemo,
    context_shape,
    dry_run,
    shared_renderer,
)
from intake.problems import InvalidJourney
from intake.validation import (
    CheckedEvent,
    timeline_problems,
    validate_customer,
    validate_event,
    validate_feedback,
    validate_journey,
    validate_journey_id,
    validate_reason,
    validate_store,
)

__all__ = [
    "PREVIEW_FACTS",
    "PREVIEW_FEEDBACK_URL",
    "CheckedEvent",
    "InvalidJourney",
    "RenderMemo",
    "check_document",
    "context_shape",
    "dry_run",
    "load_json",
    "parse_json",
    "shared_renderer",
    "timeline_problems",
    "validate_customer",
    "validate_event",
    "validate_feedback",
    "validate_journey",
    "validate_journey_id",
    "validate_reason",
    "validate_store",
]

"""Every bound the edge enforces, said once.

The bounds keep each accepted journey runnable to its end: every date it computes
stays far inside the calendar, every timer is finite, every text fits the providers.
The configuration reference in the README lists them for store developers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# --- documents: bytes to JSON -------------------------------------------------------
MAX_DOCUMENT_BYTES = 256 * 1024  # an order, event, settings or plan file
MAX_LINE_BYTES = 64 * 1024  # one backfill line
MAX_JSON_DEPTH = 16  # arrays and objects nested in each other
MAX_NUMBER_CHARS = 32  # characters of one JSON number, e.g. "-12.5e3" is 7

# --- dates ----------------------------------------------------------------------------
# Absolute: any date a journey holds, however it arrived (also what the workflow
# decodes from its history and signals).
EARLIEST_DATE = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
LATEST_DATE = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
# Relative to the moment of validation, at the edge.
MAX_EVENT_AGE = timedelta(days=365)  # an event or delivery older than this is a data error
MAX_CLOCK_SKEW = timedelta(hours=1)  # an event may be stamped this far in the future
MAX_PROMISE_AHEAD = timedelta(days=365)  # a promised delivery date within a year either way

# --- durations (minimum, maximum) -----------------------------------------------------
WAIT_AFTER_DELIVERY = (timedelta(days=1), timedelta(days=2))
STEP_WAIT = (timedelta(0), timedelta(days=90))
FEEDBACK_LINK_TTL = (timedelta(hours=1), timedelta(days=365))
FEEDBACK_REMINDER_AFTER = (timedelta(hours=1), timedelta(days=30))
DELIVERY_GRACE = (timedelta(0), timedelta(days=30))
DELIVERY_WAIT_LIMIT = (timedelta(days=1), timedelta(days=365))
FIRST_SEND_DELAY = (timedelta(0), timedelta(days=7))  # also the backfill's jitter window

# --- counts and sizes -----------------------------------------------------------------
MAX_PLAN_STEPS = 20
MAX_ITEMS = 100
MAX_QUANTITY = 10_000
MAX_WHATSAPP_TEMPLATES = 50
MAX_TEMPLATE_PARAMETERS = 20
MAX_START_EVENTS = 10
# Journey time per real time, for demos (86,400: a day a second) and benchmarks (a
# thousand days a second). Never set in production.
MAX_SPEEDUP = 86_400_000
MAX_COMMENT = 2000
MAX_REASON = 300

"""How a journey's sends are scheduled: activity names, timeouts and retries.

Shared by the workflows and the benchmarks' floor. Kept in models so the workflow
sandbox imports it once per worker, not once per journey.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# The activities' names, said once: their definitions (activities/) and the workflows, which
# refer to them by name so they import no I/O code, both use these.
SEND_MESSAGE = "send_message"
REQUEST_FEEDBACK = "request_feedback"
ALERT_STORE = "alert_store"
CHECK_SEND = "check_send"

SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
SEND_START_TO_CLOSE = timedelta(seconds=30)
# A provider down for longer than this fails the step rather than holding the journey.
SEND_SCHEDULE_TO_CLOSE = timedelta(hours=12)
# Sends heartbeat every 2 s: a worker killed mid-send is noticed this soon.
SEND_HEARTBEAT_TIMEOUT = timedelta(seconds=10)

# A stop asks what a send's attempts did before cancelling it: a status read and, where a
# provider can be asked without sending again, a lookup per idempotency key.
CHECK_START_TO_CLOSE = timedelta(seconds=45)
CHECK_SCHEDULE_TO_CLOSE = timedelta(minutes=3)
CHECK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)

"""Stuck journeys: running, with a workflow task that fails on every attempt (a bug, or
an input that bypassed the edge). Such a journey cannot move, nor act on a control,
until a fixed worker runs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

# A workflow task that failed this many times in a row is a bug, not a blip.
STUCK_AFTER_ATTEMPTS = 2


@dataclass(frozen=True)
class Stuck:
    """A running journey whose workflow task keeps failing."""

    attempts: int
    since: datetime | None
    error: str

    def describe(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
        return f"its workflow task fails ({self.attempts} attempts{since}): {self.error}"


async def describe(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription | None:
    """The journey's description, or None when there is no such journey."""
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def stuck(
    handle: WorkflowHandle[Any, Any],
    description: WorkflowExecutionDescription,
    converter: DataConverter,
) -> Stuck | None:
    """Whether the journey is stuck, and on what error (the first failure the history
    recorded: the server keeps only that one of a run of identical failures).
    `converter`: the client's, which decrypts the failure's message."""
    raw = description.raw_description
    if description.status is not WorkflowExecutionStatus.RUNNING:
        return None
    if not raw.HasField("pending_workflow_task"):
        return None
    attempts = raw.pending_workflow_task.attempt
    if attempts < STUCK_AFTER_ATTEMPTS:
        return None
    error, since = "unknown error", None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            message, cause = await _messages(
                event.workflow_task_failed_event_attributes.failure, converter
            )
            error = gist(message) or "unknown error"
            if cause:
                error += f" ({gist(cause)})"
            since = event.event_time.ToDatetime(tzinfo=UTC)
    return Stuck(attempts, since, error)


async def _messages(failure: Failure, converter: DataConverter) -> tuple[str, str]:
    """A failure's message and its cause's, decrypted: with encryption on, failures
    keep their messages in their encoded attributes, since a provider's error text can
    quote a customer's address."""
    copy = Failure()
    copy.CopyFrom(failure)
    error = await converter.decode_failure(copy)
    message = error.message if isinstance(error, FailureError) else str(error)
    cause = error.__cause__
    return message, (cause.message if isinstance(cause, FailureError) else str(cause or ""))


def gist(message: str, limit: int = 300) -> str:
    """An error message on one line: a validation error's first field and message, not
    its help links."""
    lines = [line.strip() for line in message.splitlines() if line.strip()][:3]
    text = "; ".join(line.split(" [type=")[0] for line in lines)
    return text if len(text) <= limit else f"{text[:limit]}..."

"""Stuck journeys: running, with a workflow task that fails on every attempt (a bug, or
an input that bypassed the edge). Such a journey cannot move, nor act on a control,
until a fixed worker runs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
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
    handle: WorkflowHandle[Any, Any], description: WorkflowExecutionDescription
) -> Stuck | None:
    """Whether the journey is stuck, and on what error (the first failure the history
    recorded: the server keeps only that one of a run of identical failures)."""
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
            failure = event.workflow_task_failed_event_attributes.failure
            error = gist(failure.message) or "unknown error"
            if failure.HasField("cause") and failure.cause.message:
                error += f" ({gist(failure.cause.message)})"
            since = event.event_time.ToDatetime(tzinfo=UTC)
    return Stuck(attempts, since, error)


def gist(message: str, limit: int = 300) -> str:
    """An error message on one line: a validation error's first field and message, not
    its help links."""
    lines = [line.strip() for line in message.splitlines() if line.strip()][:3]
    text = "; ".join(line.split(" [type=")[0] for line in lines)
    return text if len(text) <= limit else f"{text[:limit]}..."

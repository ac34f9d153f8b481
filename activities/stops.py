"""How a send meets a stop: an opt-out or an operator's cancel while it is in flight.

The journey cancels the send and waits for its word (WAIT_CANCELLATION_COMPLETED), so
the send must know what its requests did. It keeps a trail in its heartbeat details,
which Temporal carries from attempt to attempt: the request out right now, and the
requests that left without an answer. A stop never cuts off a request that has left
(it would land unseen); the request ends, bounded by the HTTP timeout, and its answer is
the send's word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from temporalio import activity
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from models.sending import REQUEST_FEEDBACK, SEND_MESSAGE

T = TypeVar("T")


class SendTrail(BaseModel):
    """What the attempts of one send did with their requests, by idempotency key."""

    attempt: int = Field(default=0, description="The last attempt that wrote the trail.")
    in_flight: str | None = Field(
        default=None, description="A request out now; left set by an attempt that died."
    )
    unanswered: list[str] = Field(
        default_factory=list, description="Requests that left and got no answer."
    )
    lost_attempt: bool = Field(
        default=False,
        description="An earlier attempt ended unseen (it died with a request out, or left "
        "no trail): it may have reached any channel of the route.",
    )

    @classmethod
    def from_details(cls, details: Sequence[Any]) -> SendTrail:
        """The trail in heartbeat details; an empty one when there is none."""
        try:
            return cls.model_validate(details[0]) if details else cls()
        except ValidationError:
            return cls()

    @classmethod
    def carried(cls) -> SendTrail:
        """The trail earlier attempts of the running send left."""
        if not activity.in_activity():
            return cls()
        info = activity.info()
        return cls.from_details(info.heartbeat_details).as_found_by(info.attempt)

    def as_found_by(self, attempt: int) -> SendTrail:
        """The trail as attempt `attempt` (running, or next to run) finds it."""
        died_unseen = self.in_flight is not None or self.attempt < attempt - 1
        return self.model_copy(
            update={"lost_attempt": self.lost_attempt or died_unseen, "in_flight": None}
        )

    def doubts(self, keys: list[str]) -> list[str]:
        """Of the route's keys, those whose requests may have reached a provider unseen."""
        if self.lost_attempt:
            return list(keys)
        return [key for key in keys if key in self.unanswered]

    def leaving(self, key: str) -> None:
        # Recorded by the periodic beats while it is out, and at the attempt's end.
        self.in_flight = key
        self.attempt = activity.info().attempt if activity.in_activity() else 1

    def answered(self) -> None:
        self.in_flight = None

    def left_unanswered(self) -> None:
        if self.in_flight is not None and self.in_flight not in self.unanswered:
            self.unanswered.append(self.in_flight)
        self.in_flight = None

    def details(self) -> list[Any]:
        return [self.model_dump(mode="json")]

    def record(self) -> None:
        """Heartbeat the trail. The last details of an attempt that fails are flushed
        before its failure is reported, so the next attempt finds them; an attempt that
        dies leaves its last periodic beat, or nothing (see `as_found_by`)."""
        if activity.in_activity():
            activity.heartbeat(*self.details())


class StoppedBeforeLeaving(Exception):
    """The stop came between deciding to send and the request leaving: it never left."""


def journey_stopped() -> bool:
    """The journey asked this send to stop (an opt-out, an operator's cancel), as opposed
    to a worker shutting down or the attempt timing out."""
    if not activity.in_activity() or not activity.is_cancelled():
        return False
    details = activity.cancellation_details()
    return details is not None and details.cancel_requested


async def despite_stop(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` to its end even if the journey stops the send meanwhile: the stop is
    read from `journey_stopped()`, not thrown into the work. Any other cancellation (a
    worker shutting down after its grace period) cuts it off."""
    task = asyncio.ensure_future(work())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not journey_stopped():
            task.cancel()
            raise
    return await task


async def leave_unless_stopped(request: Callable[[], Awaitable[T]]) -> T:
    """Send `request` unless the journey has stopped, and see it to its end even if the
    journey stops meanwhile: once left, it lands or not whatever the worker does, and
    only its answer says which; cutting it off would leave that unknown."""

    async def unless_stopped() -> T:
        if journey_stopped():
            raise StoppedBeforeLeaving
        return await request()

    return await despite_stop(unless_stopped)


class PendingSend(BaseModel):
    """A journey's send that has not ended, as the server describes it."""

    running: bool  # an attempt is running (else it waits for its first or next attempt)
    attempt: int  # the running attempt, or the next one
    details: list[Any]  # the last heartbeat details any attempt of it recorded


async def pending_send(client: Client, workflow_id: str) -> PendingSend | None:
    """The send the journey `workflow_id` has in progress (a journey sends one message at
    a time), or None when it has ended."""
    description = await client.get_workflow_handle(workflow_id).describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name in (SEND_MESSAGE, REQUEST_FEEDBACK):
            details = await client.data_converter.decode(pending.heartbeat_details.payloads)
            return PendingSend(
                running=pending.state
                in (
                    PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
                    PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED,
                ),
                attempt=pending.attempt,
                details=details,
            )
    return None

"""The store backend's API: start journeys, report order events, hand over feedback and
opt-outs. Usable from Python with nothing of the command line (which is `cli/`, run as
`python starter.py COMMAND ...`).

    from runtime.connection import connect
    from starter import report_event, start_journey, submit_feedback, opt_out

Input is validated whole, and every message of the plan dry-run rendered, before
anything reaches Temporal (`intake`): bad input raises `InvalidJourney`, one line per
problem, and starts nothing. A journey that refuses raises `JourneyRefused` with the
reason; one that does not exist, `JourneyNotFound`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from customer_data import vault_of
from intake import (
    CheckedEvent,
    validate_customer,
    validate_event,
    validate_feedback,
    validate_journey,
    validate_journey_id,
    validate_reason,
)
from journey.state import opening_index
from journey.view import run_details, run_summary
from messages.rendering import Renderer
from models import TASK_QUEUE, DeliveredOrder, JourneyPlan, JourneyProgress, JourneySettings
from models.errors import Refusal
from models.events import FeedbackSubmission, OrderEvent, OrderEventType
from models.order import Order
from models.sealed import Sealed
from models.search import start_attributes
from operators.stuck import describe, stuck
from whatsapp.phones import phone_hash
from workflows import OrderJourney

# Start runs with search attributes (models/search.py): on where the namespace has them
# registered (production, `dev.py run`); off for the time-skipping test server.
SEARCH_ATTRIBUTES_ENV = "JOURNEY_SEARCH_ATTRIBUTES"
# Keys CustomerPhoneHash, which indexes runs started with search attributes by a hash of
# the customer's phone, so the WhatsApp webhook finds them (the web service's setting).
PHONE_HASH_SECRET_ENV = "JOURNEY_PHONE_HASH_SECRET"
# How long a journey has to answer an update (feedback, opt-out). It answers in
# milliseconds when a worker runs; longer means no worker polls its task queue.
ANSWER_SECONDS = 30
# How long to wait for a journey that refused an opt-out because it was just ending.
ENDING_SECONDS = 30
T = TypeVar("T")


def search_attributes_enabled() -> bool:
    return os.environ.get(SEARCH_ATTRIBUTES_ENV, "0").lower() in {"1", "true", "yes"}


def phone_hash_secret() -> bytes | None:
    secret = os.environ.get(PHONE_HASH_SECRET_ENV, "")
    return secret.encode() if secret else None


@dataclass(frozen=True)
class JourneyStarted:
    handle: WorkflowHandle[OrderJourney, JourneyProgress]
    started: bool  # False: the order already had a journey, which got the event instead
    accepted: bool = True  # False: that journey had ended, so the event was not delivered

    @property
    def journey_id(self) -> str:
        return self.handle.id


class JourneyNotFound(Exception):
    """No journey has this id."""


class JourneyRefused(Exception):
    """The journey refused what was asked (it has ended, it is stuck, it did not
    answer); the message says why, and `refusal` which rule refused, when one did
    (a page answers a customer by it)."""

    def __init__(self, reason: str, refusal: Refusal | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal


class FeedbackRejected(JourneyRefused):
    """The journey refused the feedback; the message says why."""


# --- events ---------------------------------------------------------------------------


async def start_journey(
    client: Client,
    order: DeliveredOrder | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    task_queue: str = TASK_QUEUE,
    renderer: Renderer | None = None,
    now: datetime | None = None,
    search_attributes: bool | None = None,
) -> JourneyStarted:
    """Start the journey of a delivered order, or return the one it already has.

    Raises `InvalidJourney` before contacting Temporal when the input is bad. `now`:
    what dates are checked against, the wall clock by default.
    """
    checked = validate_journey(order, settings, plan, speedup=speedup, renderer=renderer, now=now)
    return await report_checked(
        client, checked, task_queue=task_queue, search_attributes=search_attributes
    )


async def report_event(
    client: Client,
    order: Order | Mapping[str, Any],
    event: OrderEvent | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    task_queue: str = TASK_QUEUE,
    renderer: Renderer | None = None,
    search_attributes: bool | None = None,
    now: datetime | None = None,
) -> JourneyStarted:
    """Send an order event to the order's journey, starting the journey if needed.

    Events may come in any order and more than once: the event id makes a repeat
    harmless. Raises `InvalidJourney` before contacting Temporal when the input is bad.
    `now`: what dates are checked against, the wall clock by default.
    """
    checked = validate_event(
        order, event, settings, plan, speedup=speedup, renderer=renderer, now=now
    )
    return await report_checked(
        client, checked, task_queue=task_queue, search_attributes=search_attributes
    )


async def report_checked(
    client: Client,
    checked: CheckedEvent,
    *,
    task_queue: str = TASK_QUEUE,
    search_attributes: bool | None = None,
    phone_secret: bytes | None = None,
) -> JourneyStarted:
    """Give a checked event to the order's journey, starting the journey with it if the
    order has none. One call for a new journey; a second one, a signal, for an
    existing one.

    `search_attributes` (default: JOURNEY_SEARCH_ATTRIBUTES) starts the run with StoreId,
    OrderId and CustomerId; the run then keeps JourneyStage and NextActionAt up to date.
    With a `phone_secret` (default: JOURNEY_PHONE_HASH_SECRET), a customer with a phone
    is indexed by its keyed hash too (CustomerPhoneHash), never by the number.
    """
    journey, event = checked.journey, checked.event
    vault = vault_of(client)
    if vault is not None:
        # Contact data enters Temporal sealed under the customer's own key.
        sealed = await vault.seal_order(journey.order, checked.journey_id)
        journey = journey.model_copy(update={"order": sealed})
    if search_attributes is None:
        search_attributes = search_attributes_enabled()
    attributes = None
    if search_attributes:
        stage, next_at = opening_index(journey, checked.journey_id, event, datetime.now(UTC))
        # The hash is of the number as the store gave it, before sealing.
        phone, secret = checked.journey.order.customer.phone, phone_secret or phone_hash_secret()
        hashed = phone_hash(phone, secret) if isinstance(phone, str) and secret else None
        attributes = start_attributes(journey.order, stage, next_at, hashed)
    delivered_at = event.occurred_at if event.type is OrderEventType.DELIVERED else None
    try:
        handle = await client.start_workflow(
            OrderJourney.run,
            journey.model_copy(update={"events": [event]}),
            id=checked.journey_id,
            task_queue=task_queue,
            # One journey per order, ever: a finished journey is not started again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=run_summary(journey.order, delivered_at),
            static_details=run_details(journey),
            search_attributes=attributes,
        )
        return JourneyStarted(handle, started=True)
    except WorkflowAlreadyStartedError:
        existing = client.get_workflow_handle_for(OrderJourney.run, checked.journey_id)
    try:
        await existing.signal(OrderJourney.event, event)
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        return JourneyStarted(existing, started=False, accepted=False)  # it has ended
    return JourneyStarted(existing, started=False)


# --- the customer's answers -----------------------------------------------------------


async def submit_feedback(
    client: Client, store_id: str, order_id: str, rating: int, comment: str | None = None
) -> str:
    """Hand the customer's rating to the order's journey, as a feedback page does after
    verifying the link's token. Raises `InvalidJourney` for a bad rating, comment or id,
    `JourneyNotFound`, and `FeedbackRejected` with the reason when the journey refuses."""
    feedback = validate_feedback(rating, comment)
    workflow_id = validate_journey_id(store_id, order_id)
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        description = await running(handle, client.data_converter)
        text, vault = feedback.comment_text, vault_of(client)
        kept: str | Sealed | None = text
        if text is not None and vault is not None:
            kept = await vault.seal_comment(workflow_id, text)
        submission = FeedbackSubmission(rating=feedback.rating, comment=kept)
        return await answered(
            handle.execute_update(OrderJourney.submit_feedback, submission),
            description.task_queue,
        )
    except WorkflowUpdateFailedError as err:
        raise FeedbackRejected(_reason(err), _refusal(err)) from err
    except JourneyNotFound:
        raise JourneyNotFound(f"no journey for order {order_id} of store {store_id}") from None
    except JourneyRefused as err:
        raise FeedbackRejected(str(err), err.refusal) from err


async def opt_out(client: Client, store_id: str, order_id: str, reason: str = "") -> str:
    """The customer asked to hear nothing more: 'opted out', or 'already opted out' when
    it was applied before, even if the journey has ended since. Raises
    `JourneyNotFound`, and `JourneyRefused` when the journey ended otherwise."""
    return await opt_out_journey(client, validate_journey_id(store_id, order_id), reason)


async def opt_out_journey(client: Client, workflow_id: str, reason: str = "") -> str:
    """`opt_out` for a journey named by its workflow id."""
    validate_reason(reason)
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        description = await refuse_if_stuck(handle, client.data_converter)
        return await answered(
            handle.execute_update(OrderJourney.opt_out, reason), description.task_queue
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if not (isinstance(cause, ApplicationError) and cause.type == Refusal.JOURNEY_ENDED):
            raise JourneyRefused(_reason(err)) from err
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    # Refused: the journey has ended (or never was). Say whether it ended opted out.
    description = await _described(handle)
    if description.status is WorkflowExecutionStatus.RUNNING:
        # The journey refused because it has just ended; its run closes in a moment.
        with contextlib.suppress(WorkflowFailureError, TimeoutError):
            async with asyncio.timeout(ENDING_SECONDS):
                await handle.result()
        description = await _described(handle)
    if description.status is WorkflowExecutionStatus.COMPLETED:
        if (await handle.result()).opted_out:
            return "already opted out"
        raise JourneyRefused("the journey has ended", Refusal.JOURNEY_ENDED)
    status = description.status.name.lower() if description.status else "unknown"
    closed = description.status not in (None, WorkflowExecutionStatus.RUNNING)
    raise JourneyRefused(f"the journey is {status}", Refusal.JOURNEY_ENDED if closed else None)


# --- the customer's data ----------------------------------------------------------------


class ErasureUnavailable(Exception):
    """Customer data is not encrypted here, so there is no key to delete."""


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a customer did."""

    customers: int  # data subjects found by the identifiers given
    keys_deleted: int
    stopped: list[str]  # journeys stopped now, recorded as erased
    ended: list[str]  # journeys that had ended: their data is unreadable all the same
    unreached: list[str]  # journeys that did not answer: they stop at their next send


async def forget(
    client: Client,
    store_id: str,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Forgotten:
    """Erase a store's customer, known by any of their id, email or phone: delete
    their data key, which makes their data unreadable in every history (running,
    closed or archived), then stop their running journeys, recorded as erased.
    Idempotent. Raises `InvalidJourney` for bad identifiers and `ErasureUnavailable`
    when encryption is off."""
    who = validate_customer(store_id, customer_id=customer_id, email=email, phone=phone)
    vault = vault_of(client)
    if vault is None:
        raise ErasureUnavailable(
            "customer data is not encrypted here (JOURNEY_ENCRYPTION=off): "
            "there is no key to delete"
        )
    erasure = await vault.forget(
        who.store_id, customer_id=who.customer_id, email=who.email, phone=who.phone
    )
    stopped: list[str] = []
    ended: list[str] = []
    unreached: list[str] = []
    for workflow_id in erasure.journey_ids:
        handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
        try:
            description = await refuse_if_stuck(handle, client.data_converter)
        except JourneyNotFound:
            continue  # its start failed after the data was sealed
        except JourneyRefused:
            unreached.append(workflow_id)  # stuck
            continue
        if description.status is not WorkflowExecutionStatus.RUNNING:
            ended.append(workflow_id)
            continue
        try:
            await answered(handle.execute_update(OrderJourney.erase), description.task_queue)
            stopped.append(workflow_id)
        except WorkflowUpdateFailedError:
            ended.append(workflow_id)  # it ended meanwhile
        except JourneyRefused:
            unreached.append(workflow_id)
    return Forgotten(erasure.subjects, erasure.keys_deleted, stopped, ended, unreached)


# --- asking a journey -----------------------------------------------------------------


async def refuse_if_stuck(
    handle: WorkflowHandle[Any, Any], converter: DataConverter
) -> WorkflowExecutionDescription:
    """The journey's description; `JourneyNotFound`, or `JourneyRefused` when it is
    stuck, since a stuck journey cannot act on a control until a fixed worker runs it."""
    description = await _described(handle)
    problem = await stuck(handle, description, converter)
    if problem is not None:
        raise JourneyRefused(
            f"the journey is stuck: {problem.describe()}; deploy a fixed worker, or stop it "
            f"with `temporal workflow terminate --workflow-id '{handle.id}'`"
        )
    return description


async def running(
    handle: WorkflowHandle[Any, Any], converter: DataConverter
) -> WorkflowExecutionDescription:
    """The description of a running journey that can answer; refused otherwise."""
    description = await refuse_if_stuck(handle, converter)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        raise JourneyRefused("the journey has ended", Refusal.JOURNEY_ENDED)
    return description


async def answered(call: Awaitable[T], task_queue: str | None) -> T:
    """The journey's answer to an update, or `JourneyRefused` when none comes in time."""
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            return await call
    except TimeoutError:
        queue = f" {task_queue!r}" if task_queue else ""
        raise JourneyRefused(
            f"the journey did not answer within {ANSWER_SECONDS} s: "
            f"is a worker polling task queue{queue}?"
        ) from None


async def _described(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription:
    description = await describe(handle)
    if description is None:
        raise JourneyNotFound(f"no journey {handle.id}")
    return description


def _reason(err: WorkflowUpdateFailedError) -> str:
    """Why the journey refused an update, as its validator said it."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause)


def _refusal(err: WorkflowUpdateFailedError) -> Refusal | None:
    """Which of the journey's rules refused an update (the validator's error type)."""
    cause = err.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    known = {refusal.value: refusal for refusal in Refusal}
    return known.get(kind) if kind else None


if __name__ == "__main__":
    # The command line, for store scripts and operators: `python starter.py --help`.
    from cli.main import run

    run()

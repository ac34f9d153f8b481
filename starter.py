"""Start post-purchase journeys: an API for store backends, and a CLI.

    python starter.py start ORDER.json --settings STORE.json [--plan PLAN.json]
    python starter.py event ORDER.json --event EVENT.json --settings STORE.json
    python starter.py feedback STORE_ID ORDER_ID --rating 1..5 [--comment TEXT]
    python starter.py backfill ORDERS.jsonl --settings STORE.json [--plan PLAN.json]
        [--concurrency 64] [--jitter-window PT6H]
    python starter.py status|list|cancel|opt-out|preview ...   (operations.py)

Input is validated whole and every message of the plan is rendered as a dry run
before anything starts. Bad input exits with code 2, one line per invalid field.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import operations
from activities.rendering import Renderer
from connection import TemporalUnreachable, connect, exit_process, web_ui_url
from intake import (
    InvalidJourney,
    load_json,
    validate_event,
    validate_feedback,
    validate_journey,
    validate_journey_id,
    validate_store,
)
from models import (
    TASK_QUEUE,
    DeliveredOrder,
    JourneyInput,
    JourneyPlan,
    JourneyProgress,
    JourneySettings,
)
from models.durations import check_duration, describe_duration
from models.events import FeedbackSubmission, OrderEvent, OrderEventType
from models.journey import OrderJourneyInput
from models.limits import FIRST_SEND_DELAY
from models.order import Order
from models.schedule import describe_local
from models.search import start_attributes
from workflows import OrderJourney

EXIT_INVALID = 2  # bad input: nothing was sent
EXIT_REFUSED = 3  # the journey refused: it has ended, or the feedback is not acceptable
_DURATION = TypeAdapter(timedelta)
# Start runs with search attributes (models/search.py): on where the namespace has them
# registered (production, `dev.py run`); off for the time-skipping test server.
SEARCH_ATTRIBUTES_ENV = "JOURNEY_SEARCH_ATTRIBUTES"


def search_attributes_enabled() -> bool:
    return os.environ.get(SEARCH_ATTRIBUTES_ENV, "0").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class JourneyStarted:
    handle: WorkflowHandle[OrderJourney, JourneyProgress]
    started: bool  # False: the order already had a journey, which got the event instead
    accepted: bool = True  # False: that journey had ended, so the event was not delivered

    @property
    def journey_id(self) -> str:
        return self.handle.id


def run_summary(order: Order, delivered_at: datetime | None = None) -> str:
    """The one-line summary operators see on the run. No customer contact details."""
    summary = f"Order {order.order_id} of store {order.store_id}"
    if delivered_at is not None:
        summary += f", delivered {describe_local(delivered_at, order.customer.timezone)}"
    return summary


def run_details(journey: OrderJourneyInput) -> str:
    steps = "\n".join(
        f"{n}. `{step.id}` ({step.kind}, {step.purpose}, template `{step.template}`)"
        + (f", {describe_duration(step.wait)} after the previous step" if n > 1 else "")
        for n, step in enumerate(journey.plan.steps, start=1)
    )
    settings = journey.settings
    return (
        f"**Channel** {settings.channel} · **send window** {settings.send_window.describe()} "
        f"{journey.order.customer.timezone} · **first message after delivery** "
        f"{describe_duration(settings.wait_after_delivery)} later\n\n{steps}"
    )


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
) -> JourneyStarted:
    """Start the journey of a delivered order, or return the one it already has.

    Raises `InvalidJourney` before contacting Temporal when the input is bad. `now`:
    what dates are checked against, the wall clock by default.
    """
    journey = validate_journey(order, settings, plan, speedup=speedup, renderer=renderer, now=now)
    return await start_validated(client, journey, task_queue=task_queue)


async def start_validated(
    client: Client, journey: JourneyInput, *, task_queue: str = TASK_QUEUE
) -> JourneyStarted:
    """Report the delivery of a journey whose input `validate_journey` has checked."""
    order_journey, delivered = delivered_journey(journey)
    return await send_event(client, order_journey, delivered, task_queue=task_queue)


def delivered_journey(journey: JourneyInput) -> tuple[OrderJourneyInput, OrderEvent]:
    """A delivered order's journey as an order journey and its `delivered` event."""
    order = journey.order
    delivered = OrderEvent(
        event_id="delivered", type=OrderEventType.DELIVERED, occurred_at=order.delivered_at
    )
    order_journey = OrderJourneyInput(
        order=order.without_delivery(),
        settings=journey.settings,
        plan=journey.plan,
        first_send_delay=journey.first_send_delay,
        speedup=journey.speedup,
    )
    return order_journey, delivered


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
    journey, checked = validate_event(
        order, event, settings, plan, speedup=speedup, renderer=renderer, now=now
    )
    return await send_event(
        client, journey, checked, task_queue=task_queue, search_attributes=search_attributes
    )


async def send_event(
    client: Client,
    journey: OrderJourneyInput,
    event: OrderEvent,
    *,
    task_queue: str = TASK_QUEUE,
    search_attributes: bool | None = None,
) -> JourneyStarted:
    """Give the event to the order's journey, starting the journey with it if the order
    has none. One call for a new journey; a second one, a signal, for an existing one.

    `search_attributes` (default: JOURNEY_SEARCH_ATTRIBUTES) starts the run with StoreId,
    OrderId and CustomerId; the run then keeps JourneyStage and NextActionAt up to date.
    """
    journey_id = journey.order.journey_id
    if search_attributes is None:
        search_attributes = search_attributes_enabled()
    delivered_at = event.occurred_at if event.type is OrderEventType.DELIVERED else None
    try:
        handle = await client.start_workflow(
            OrderJourney.run,
            journey.model_copy(update={"events": [event]}),
            id=journey_id,
            task_queue=task_queue,
            # One journey per order, ever: a finished journey is not started again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=run_summary(journey.order, delivered_at),
            static_details=run_details(journey),
            search_attributes=start_attributes(journey.order) if search_attributes else None,
        )
        return JourneyStarted(handle, started=True)
    except WorkflowAlreadyStartedError:
        existing = client.get_workflow_handle_for(OrderJourney.run, journey_id)
    try:
        await existing.signal(OrderJourney.event, event)
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        return JourneyStarted(existing, started=False, accepted=False)  # it has ended
    return JourneyStarted(existing, started=False)


class FeedbackRejected(Exception):
    """The journey refused the feedback; the message says why."""


async def submit_feedback(
    client: Client, store_id: str, order_id: str, rating: int, comment: str | None = None
) -> str:
    """Hand the customer's rating to the order's journey, as the store's feedback page
    does after verifying the link's token. Raises `InvalidJourney` for a bad rating,
    comment or id, and `FeedbackRejected` with the reason when the journey refuses."""
    feedback = validate_feedback(rating, comment)
    workflow_id = validate_journey_id(store_id, order_id)
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        description = await operations.refuse_if_stuck(handle)
    except operations.OperationFailed as err:
        if str(err).startswith("no journey"):
            raise FeedbackRejected(f"no journey for order {order_id} of store {store_id}") from err
        raise FeedbackRejected(str(err)) from err
    if description.status is not WorkflowExecutionStatus.RUNNING:
        raise FeedbackRejected("the journey has ended")
    submission = FeedbackSubmission(rating=feedback.rating, comment=feedback.comment)
    try:
        return await operations.answered(
            handle.execute_update(OrderJourney.submit_feedback, submission),
            description.task_queue,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise FeedbackRejected(reason) from err
    except operations.OperationFailed as err:
        raise FeedbackRejected(str(err)) from err


async def _start_command(args: argparse.Namespace) -> int:
    order = load_json(args.order, "order")
    settings = load_json(args.settings, "settings")
    plan = load_json(args.plan, "plan") if args.plan else None
    journey = validate_journey(order, settings, plan, speedup=args.speedup)
    client = await connect()
    result = await start_validated(client, journey, task_queue=args.task_queue)
    verb = "started" if result.started else "already exists"
    print(f"{verb}: {result.journey_id}")
    print(f"Web UI: {web_ui_url(client, result.journey_id)}")
    return 0


async def _event_command(args: argparse.Namespace) -> int:
    order = load_json(args.order, "order")
    event = load_json(args.event, "event")
    settings = load_json(args.settings, "settings")
    plan = load_json(args.plan, "plan") if args.plan else None
    journey, checked = validate_event(order, event, settings, plan)
    client = await connect()
    result = await send_event(client, journey, checked, task_queue=args.task_queue)
    label = f"{checked.type}:{checked.event_id}"
    if not result.accepted:
        print(f"refused: {result.journey_id} has ended; {label} was not applied", file=sys.stderr)
        return EXIT_REFUSED
    verb = "started" if result.started else "sent to"
    print(f"{verb}: {result.journey_id} ({label})")
    print(f"Web UI: {web_ui_url(client, result.journey_id)}")
    return 0


async def _feedback_command(args: argparse.Namespace) -> int:
    validate_feedback(args.rating, args.comment)  # bad input is refused before connecting
    validate_journey_id(args.store_id, args.order_id)
    client = await connect()
    try:
        answer = await submit_feedback(
            client, args.store_id, args.order_id, args.rating, args.comment
        )
    except FeedbackRejected as err:
        print(f"refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    print(answer)
    return 0


async def _backfill_command(args: argparse.Namespace) -> int:
    # Imported here: backfill builds on this module's start_validated.
    from backfill import backfill, count_lines, read_lines

    settings, plan = validate_store(
        load_json(args.settings, "settings"),
        load_json(args.plan, "plan") if args.plan else None,
    )
    try:
        total = count_lines(args.orders)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InvalidJourney([f"orders: cannot read {args.orders}: {reason}"]) from None
    client = await connect()
    try:
        summary = await backfill(
            client,
            read_lines(args.orders),
            settings,
            plan,
            concurrency=args.concurrency,
            jitter_window=args.jitter_window,
            task_queue=args.task_queue,
            total=total,
            show_progress=True,
        )
    except RPCError as err:
        print(f"stopped: {err}", file=sys.stderr)
        print("journeys started so far stay started; run again to resume", file=sys.stderr)
        return 1
    print(summary.describe())
    return 1 if summary.invalid else 0


def _jitter_window(text: str) -> timedelta:
    try:
        value = _DURATION.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 duration: {text!r}") from None
    try:
        return check_duration(value, FIRST_SEND_DELAY)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return value


def _store_arguments(command: argparse.ArgumentParser) -> None:
    """The store's side of a journey, the same for every command that starts one."""
    command.add_argument(
        "--settings", type=Path, required=True, help="JSON file of the store's journey settings"
    )
    command.add_argument(
        "--plan", type=Path, help="JSON file of the journey plan (default: the built-in plan)"
    )
    command.add_argument("--task-queue", default=TASK_QUEUE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="starter.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the journey of a delivered order")
    start.add_argument("order", type=Path, help="JSON file of the delivered order")
    _store_arguments(start)
    start.add_argument(
        "--speedup", type=int, default=1, help="journey time per real time; 86400 is a day a second"
    )
    start.set_defaults(run=_start_command)

    event = commands.add_parser("event", help="report an order event (placed, shipped, ...)")
    event.add_argument("order", type=Path, help="JSON file of the order")
    event.add_argument("--event", type=Path, required=True, help="JSON file of the event")
    _store_arguments(event)
    event.set_defaults(run=_event_command)

    feedback = commands.add_parser("feedback", help="hand a customer's rating to the journey")
    feedback.add_argument("store_id")
    feedback.add_argument("order_id")
    feedback.add_argument("--rating", type=int, required=True, help="1 to 5")
    feedback.add_argument("--comment")
    feedback.set_defaults(run=_feedback_command)

    bulk = commands.add_parser(
        "backfill", help="start the journeys of many delivered orders, one JSON per line"
    )
    bulk.add_argument("orders", type=Path, help="JSON Lines file, one delivered order per line")
    _store_arguments(bulk)
    bulk.add_argument(
        "--concurrency", type=_positive, default=64, help="starts in flight at once (default 64)"
    )
    bulk.add_argument(
        "--jitter-window",
        type=_jitter_window,
        default=timedelta(hours=6),
        help="spread first sends over this ISO 8601 duration (default PT6H; PT0S: none)",
    )

    bulk.set_defaults(run=_backfill_command)

    operations.add_commands(commands)  # status, list, cancel, opt-out, preview

    args = parser.parse_args(argv)
    try:
        if getattr(args, "operation", None):
            return asyncio.run(operations.run_command(args.operation, args))
        code: int = asyncio.run(args.run(args))
        return code
    except InvalidJourney as err:  # bad input, whatever the command: one line a problem
        for line in err.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except TemporalUnreachable as err:
        print(err, file=sys.stderr)
        return 1
    except RPCError as err:
        print(f"Temporal refused the call: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    exit_process(main())

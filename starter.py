"""Start post-purchase journeys: an API for store backends, and a CLI.

    python starter.py start ORDER.json --settings STORE.json [--plan PLAN.json]
    python starter.py backfill ORDERS.jsonl --settings STORE.json [--plan PLAN.json]
        [--concurrency 64] [--jitter-window PT6H]

Input is validated whole and every message of the plan is rendered as a dry run
before anything starts. Bad input exits with code 2, one line per invalid field.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.rendering import Renderer
from connection import connect, exit_process, web_ui_url
from intake import InvalidJourney, load_json, validate_journey, validate_store
from models import (
    TASK_QUEUE,
    DeliveredOrder,
    JourneyInput,
    JourneyPlan,
    JourneyProgress,
    JourneySettings,
)
from models.schedule import describe_duration
from workflows import PostPurchaseJourney

EXIT_INVALID = 2
_DURATION = TypeAdapter(timedelta)


@dataclass(frozen=True)
class JourneyStarted:
    handle: WorkflowHandle[PostPurchaseJourney, JourneyProgress]
    started: bool  # False: the order already had a journey, which is returned instead

    @property
    def journey_id(self) -> str:
        return self.handle.id


def run_summary(journey: JourneyInput) -> str:
    """The one-line summary operators see on the run. No customer contact details."""
    order = journey.order
    delivered = order.delivered_at.astimezone(zoneinfo.ZoneInfo(order.customer.timezone))
    return (
        f"Order {order.order_id} of store {order.store_id}, delivered "
        f"{delivered:%Y-%m-%d %H:%M} {order.customer.timezone}"
    )


def run_details(journey: JourneyInput) -> str:
    steps = "\n".join(
        f"{n}. `{step.id}` ({step.kind}, template `{step.template}`)"
        + (f", {describe_duration(step.wait)} after the previous step" if n > 1 else "")
        for n, step in enumerate(journey.plan.steps, start=1)
    )
    settings = journey.settings
    return (
        f"**Channel** {settings.channel} · **send window** {settings.send_window.describe()} "
        f"{journey.order.customer.timezone} · **first message** "
        f"{describe_duration(settings.wait_after_delivery)} after delivery\n\n{steps}"
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
) -> JourneyStarted:
    """Start the journey of a delivered order, or return the one it already has.

    Raises `InvalidJourney` before contacting Temporal when the input is bad.
    """
    journey = validate_journey(order, settings, plan, speedup=speedup, renderer=renderer)
    return await start_validated(client, journey, task_queue=task_queue)


async def start_validated(
    client: Client, journey: JourneyInput, *, task_queue: str = TASK_QUEUE
) -> JourneyStarted:
    """Start a journey whose input `validate_journey` has already checked."""
    journey_id = journey.order.journey_id
    try:
        handle = await client.start_workflow(
            PostPurchaseJourney.run,
            journey,
            id=journey_id,
            task_queue=task_queue,
            # One journey per order, ever: a finished journey is not started again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=run_summary(journey),
            static_details=run_details(journey),
        )
        return JourneyStarted(handle, started=True)
    except WorkflowAlreadyStartedError:
        existing = client.get_workflow_handle_for(PostPurchaseJourney.run, journey_id)
        return JourneyStarted(existing, started=False)


async def _start_command(args: argparse.Namespace) -> int:
    try:
        order = load_json(args.order, "order")
        settings = load_json(args.settings, "settings")
        plan = load_json(args.plan, "plan") if args.plan else None
        journey = validate_journey(order, settings, plan, speedup=args.speedup)
    except InvalidJourney as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    client = await connect()
    result = await start_validated(client, journey, task_queue=args.task_queue)
    verb = "started" if result.started else "already exists"
    print(f"{verb}: {result.journey_id}")
    print(f"Web UI: {web_ui_url(client, result.journey_id)}")
    return 0


async def _backfill_command(args: argparse.Namespace) -> int:
    # Imported here: backfill builds on this module's start_validated.
    from backfill import backfill, count_lines, read_lines

    try:
        settings, plan = validate_store(
            load_json(args.settings, "settings"),
            load_json(args.plan, "plan") if args.plan else None,
        )
        total = count_lines(args.orders)
    except InvalidJourney as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except OSError as err:
        print(f"orders: cannot read {args.orders}: {err.strerror}", file=sys.stderr)
        return EXIT_INVALID
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


def _duration(text: str) -> timedelta:
    try:
        value = _DURATION.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 duration: {text!r}") from None
    if value < timedelta(0):
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="starter.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the journey of a delivered order")
    start.add_argument("order", type=Path, help="JSON file of the delivered order")
    start.add_argument(
        "--settings", type=Path, required=True, help="JSON file of the store's journey settings"
    )
    start.add_argument(
        "--plan", type=Path, help="JSON file of the journey plan (default: the built-in plan)"
    )
    start.add_argument(
        "--speedup", type=int, default=1, help="journey time per real time; 86400 is a day a second"
    )
    start.add_argument("--task-queue", default=TASK_QUEUE)

    bulk = commands.add_parser(
        "backfill", help="start the journeys of many delivered orders, one JSON per line"
    )
    bulk.add_argument("orders", type=Path, help="JSON Lines file, one delivered order per line")
    bulk.add_argument(
        "--settings", type=Path, required=True, help="JSON file of the store's journey settings"
    )
    bulk.add_argument(
        "--plan", type=Path, help="JSON file of the journey plan (default: the built-in plan)"
    )
    bulk.add_argument(
        "--concurrency", type=_positive, default=64, help="starts in flight at once (default 64)"
    )
    bulk.add_argument(
        "--jitter-window",
        type=_duration,
        default=timedelta(hours=6),
        help="spread first sends over this ISO 8601 duration (default PT6H; PT0S: none)",
    )
    bulk.add_argument("--task-queue", default=TASK_QUEUE)

    args = parser.parse_args(argv)
    if args.command == "backfill":
        return asyncio.run(_backfill_command(args))
    return asyncio.run(_start_command(args))


if __name__ == "__main__":
    exit_process(main())

"""What operators do with journeys from the command line (wired into starter.py):

    status STORE_ID ORDER_ID | WORKFLOW_ID    what was sent, skipped, what comes next
    list [--store S] [--stage X] [--all]      journeys found by search attributes
    cancel STORE_ID ORDER_ID | WORKFLOW_ID    stop the journey now, sending nothing more
    opt-out STORE_ID ORDER_ID [--reason R]    the customer asked to hear nothing more
    preview ORDER.json --settings STORE.json [--plan PLAN.json]
                                              every message and its send time; sends nothing

Only `preview` works without Temporal. `list` needs the search attributes registered in
the namespace (README, "Finding journeys").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.rendering import Renderer, message_context
from connection import connect, web_ui_url
from intake import PREVIEW_FEEDBACK_URL, InvalidJourney, load_json, validate_journey
from models import JourneyInput, JourneyProgress, StepKind, StepOutcome, StepStatus
from models.channels import message_category, route
from models.journey import JourneyFacts
from models.order import journey_id
from models.schedule import describe_local, plan_times
from models.search import JOURNEY_STAGE, NEXT_ACTION_AT, ORDER_ID, STORE_ID
from workflows import OrderJourney

EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
JOURNEY_TYPE = "OrderJourney"
ENDING_SECONDS = 30


class OperationFailed(Exception):
    """The operation could not be done; the message says why, for the operator."""


def target_id(parts: list[str]) -> str:
    """`STORE_ID ORDER_ID`, or the workflow id itself."""
    if len(parts) == 2:
        return journey_id(parts[0], parts[1])
    if len(parts) == 1 and parts[0].count(":") == 2:
        return parts[0]
    raise OperationFailed("give STORE_ID ORDER_ID, or the workflow id post-purchase:STORE:ORDER")


# --- status -----------------------------------------------------------------------------


def _when(moment: datetime | None, like: datetime | None = None) -> str:
    """A time in the offset the journey gave it (the customer's), or `like`'s."""
    if moment is None:
        return "-"
    if like is not None and like.tzinfo is not None:
        moment = moment.astimezone(like.tzinfo)
    return moment.strftime("%a %d %b %Y %H:%M %z")


def _step_detail(step: StepOutcome) -> str:
    """One step in `status`: when and how it was sent, or why it was not, or why nobody
    knows whether it was."""
    if step.status is not StepStatus.SENT:
        return f"{step.reason} (due {_when(step.scheduled_for)})"
    detail = f"{_when(step.sent_at, step.scheduled_for)}  {step.channel}  message {step.message_id}"
    if step.stop_note:
        detail += f"  {step.stop_note}"
    return detail


def format_status(description: WorkflowExecutionDescription, progress: JourneyProgress) -> str:
    """The progress as an operator reads it: sent (and whether after a stop), skipped,
    of unknown outcome, failed, next, feedback."""
    stage = description.typed_search_attributes.get(JOURNEY_STAGE)
    status = description.status.name if description.status else "UNKNOWN"
    lines = [
        f"Journey   {progress.journey_id}",
        f"Run       {status.lower()} · journey {progress.status}"
        + (f" · stage {stage or progress.stage}" if stage or progress.stage else ""),
        f"Started   {_when(description.start_time)}",
    ]
    if description.close_time:
        lines.append(f"Closed    {_when(description.close_time)}")
    if progress.events:
        lines.append(f"Events    {', '.join(progress.events)}")
    for label, wanted in (
        ("Sent", StepStatus.SENT),
        ("Skipped", StepStatus.SKIPPED),
        ("Outcome unknown", StepStatus.UNKNOWN),
    ):
        chosen = [s for s in progress.steps if s.status is wanted]
        if chosen:
            lines.append(label)
        for step in chosen:
            lines.append(f"  {step.step_id:<20} {_step_detail(step)}")
    failed = [s for s in progress.steps if s.status is StepStatus.FAILED]
    if failed:
        lines.append("Failed")
    for step in failed:
        lines.append(f"  {step.step_id:<20} {step.error_type}: {step.error}")
    if progress.next_step:
        lines.append(
            f"Next      {progress.next_step} at {_when(progress.next_at)}: {progress.next_why}"
        )
    elif progress.status in ("waiting", "sending"):
        lines.append("Next      nothing planned: waiting for an order event")
    feedback = progress.facts.feedback
    if feedback is not None:
        comment = f': "{feedback.comment}"' if feedback.comment else ""
        lines.append(f"Feedback  rated {feedback.rating} of 5{comment}")
    if progress.opted_out:
        lines.append("Opted out yes")
    if progress.stop_reason:
        lines.append(f"Stopped   {progress.stop_reason}")
    return "\n".join(lines)


async def journey_status(client: Client, workflow_id: str) -> str:
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise OperationFailed(f"no journey {workflow_id}") from err
        raise
    if description.status is WorkflowExecutionStatus.COMPLETED:
        progress = await handle.result()  # the run's own record, no worker needed
    else:
        progress = await handle.query(OrderJourney.progress)
    return format_status(description, progress)


# --- list -------------------------------------------------------------------------------


def list_query(
    store: str | None = None,
    stage: str | None = None,
    order: str | None = None,
    running_only: bool = True,
    extra: str | None = None,
) -> str:
    """A visibility query over the journey's search attributes."""
    clauses = [f'WorkflowType = "{JOURNEY_TYPE}"']
    if running_only:
        clauses.append('ExecutionStatus = "Running"')
    for key, value in ((STORE_ID, store), (ORDER_ID, order), (JOURNEY_STAGE, stage)):
        if value is not None:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            clauses.append(f'{key.name} = "{escaped}"')
    if extra:
        clauses.append(f"({extra})")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class JourneyRow:
    workflow_id: str
    status: str
    stage: str
    next_action_at: datetime | None
    started: datetime | None

    @classmethod
    def of(cls, execution: WorkflowExecution) -> JourneyRow:
        attributes = execution.typed_search_attributes
        return cls(
            workflow_id=execution.id,
            status=execution.status.name.lower() if execution.status else "unknown",
            stage=attributes.get(JOURNEY_STAGE) or "-",
            next_action_at=attributes.get(NEXT_ACTION_AT),
            started=execution.start_time,
        )


async def list_journeys(client: Client, query: str, limit: int = 100) -> list[JourneyRow]:
    return [JourneyRow.of(e) async for e in client.list_workflows(query, limit=limit)]


def format_table(rows: list[JourneyRow]) -> str:
    header = ("WORKFLOW ID", "STATUS", "STAGE", "NEXT ACTION (UTC)", "STARTED (UTC)")
    cells = [header] + [
        (
            r.workflow_id,
            r.status,
            r.stage,
            f"{r.next_action_at:%Y-%m-%d %H:%M}" if r.next_action_at else "-",
            f"{r.started:%Y-%m-%d %H:%M}" if r.started else "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.append(f"{len(rows)} journey{'s' if len(rows) != 1 else ''}")
    return "\n".join(lines)


# --- controls ---------------------------------------------------------------------------


async def cancel_journey(client: Client, workflow_id: str) -> None:
    """Cancel the run: nothing more is sent; a send in flight is cancelled."""
    try:
        await client.get_workflow_handle(workflow_id).cancel()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise OperationFailed(f"no running journey {workflow_id}") from err
        raise


async def opt_out_journey(client: Client, workflow_id: str, reason: str = "") -> str:
    """Apply an opt-out through the `opt_out` update: 'opted out', or 'already opted out'
    when it was applied before, even if the journey has ended since."""
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        return await handle.execute_update(OrderJourney.opt_out, reason)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if not (isinstance(cause, ApplicationError) and cause.type == "JourneyEnded"):
            raise OperationFailed(str(cause)) from err
        refusal: Exception = err
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        refusal = err
    # Refused: the journey has ended (or never was). Say whether it ended opted out.
    try:
        description = await handle.describe()
    except RPCError as err:
        raise OperationFailed(f"no journey {workflow_id}") from err
    if description.status is WorkflowExecutionStatus.RUNNING:
        # The journey refused because it has just ended; its run closes in a moment.
        with contextlib.suppress(WorkflowFailureError):
            async with asyncio.timeout(ENDING_SECONDS):
                await handle.result()
        description = await handle.describe()
    if description.status is WorkflowExecutionStatus.COMPLETED:
        if (await handle.result()).opted_out:
            return "already opted out"
        raise OperationFailed("the journey has ended") from refusal
    status = description.status.name.lower() if description.status else "unknown"
    raise OperationFailed(f"the journey is {status}") from refusal


# --- preview ----------------------------------------------------------------------------


def preview(journey: JourneyInput, renderer: Renderer | None = None) -> str:
    """Every message of the plan for this order, with its send time, channel and text.
    Sends nothing and contacts nothing; the feedback link is a placeholder."""
    renderer = renderer or Renderer()
    order, settings = journey.order, journey.settings
    customer, tz = order.customer, order.customer.timezone
    facts = JourneyFacts(delivered_at=order.delivered_at)
    lines = [
        f"Journey of order {order.order_id} of store {order.store_id}, delivered "
        f"{describe_local(order.delivered_at, tz)}",
        f"Customer locale {customer.locale}; send window {settings.send_window.describe()}; "
        f"feedback link: {PREVIEW_FEEDBACK_URL}",
        "Nothing is sent.",
    ]
    timed = plan_times(
        journey.plan.steps,
        order.delivered_at,
        settings,
        tz,
        first_send_delay=journey.first_send_delay,
    )
    for n, (step, due, why) in enumerate(timed, start=1):
        candidates = route(customer, settings, message_category(step, settings))
        usable = [c.channel for c in candidates if c.usable]
        how = (
            f"by {usable[0]}"
            if usable
            else "not sent: "
            + "; ".join(f"{c.channel}: {c.describe_obstacles()}" for c in candidates)
        )
        url = PREVIEW_FEEDBACK_URL if step.kind is StepKind.FEEDBACK_REQUEST else None
        rendered = renderer.render(
            step.template, customer.locale, message_context(order, settings, url, facts)
        )
        lines += [
            "",
            f"{n}. {step.id} · {describe_local(due, tz)} · {why} · {how}",
            f"   Subject: {rendered.subject}",
            *(f"   | {line}" if line else "   |" for line in rendered.text.splitlines()),
        ]
    return "\n".join(lines)


# --- the command line -------------------------------------------------------------------


def _journey_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journey", nargs="+", metavar="ID", help="STORE_ID ORDER_ID, or the workflow id"
    )


async def _status(args: argparse.Namespace) -> int:
    client = await connect()
    workflow_id = target_id(args.journey)
    print(await journey_status(client, workflow_id))
    print(f"Web UI    {web_ui_url(client, workflow_id)}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    query = list_query(args.store, args.stage, running_only=not args.all, extra=args.query)
    client = await connect()
    print(format_table(await list_journeys(client, query, args.limit)))
    return 0


async def _cancel(args: argparse.Namespace) -> int:
    workflow_id = target_id(args.journey)
    await cancel_journey(await connect(), workflow_id)
    print(f"cancel requested: {workflow_id}")
    return 0


async def _opt_out(args: argparse.Namespace) -> int:
    workflow_id = target_id(args.journey)
    answer = await opt_out_journey(await connect(), workflow_id, args.reason)
    print(f"{answer}: {workflow_id}")
    return 0


async def _preview(args: argparse.Namespace) -> int:
    try:
        order = load_json(args.order, "order")
        settings = load_json(args.settings, "settings")
        plan = load_json(args.plan, "plan") if args.plan else None
        journey = validate_journey(order, settings, plan)
    except InvalidJourney as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    print(preview(journey))
    return 0


Command = Callable[[argparse.Namespace], Awaitable[int]]


async def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one operator command; a failure the operator can act on is one line, exit 3."""
    try:
        return await command(args)
    except OperationFailed as err:
        print(err, file=sys.stderr)
        return EXIT_NOT_FOUND


def add_commands(commands: Any) -> None:
    """Add the operator subcommands to starter.py's parser. Each sets `operation`."""
    status = commands.add_parser("status", help="a journey's progress, readable")
    _journey_argument(status)
    status.set_defaults(operation=_status)

    listing = commands.add_parser("list", help="journeys by store and stage")
    listing.add_argument("--store", help="StoreId")
    listing.add_argument(
        "--stage",
        help="JourneyStage: waiting, placed, shipped, delivery_late, delivered, "
        "ended, opted_out, stopped",
    )
    listing.add_argument("--all", action="store_true", help="closed journeys too")
    listing.add_argument("--query", help="an extra visibility clause, ANDed")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(operation=_list)

    cancel = commands.add_parser("cancel", help="cancel a journey: nothing more is sent")
    _journey_argument(cancel)
    cancel.set_defaults(operation=_cancel)

    opt_out = commands.add_parser("opt-out", help="the customer asked to hear nothing more")
    _journey_argument(opt_out)
    opt_out.add_argument("--reason", default="", help="kept in the journey's progress")
    opt_out.set_defaults(operation=_opt_out)

    show = commands.add_parser("preview", help="every message of the plan and its send time")
    show.add_argument("order", type=Path, help="JSON file of a delivered order")
    show.add_argument("--settings", type=Path, required=True, help="JSON file of the store")
    show.add_argument("--plan", type=Path, help="JSON file of the plan (default plan if none)")
    show.set_defaults(operation=_preview)

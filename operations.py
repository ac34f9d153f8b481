"""What operators do with journeys from the command line (wired into starter.py):

    status STORE_ID ORDER_ID | WORKFLOW_ID    what was sent, skipped, what comes next
    list [--store S] [--stage X] [--all] [--stuck]   journeys found by search attributes
    cancel STORE_ID ORDER_ID | WORKFLOW_ID    stop the journey now, sending nothing more
    opt-out STORE_ID ORDER_ID [--reason R]    the customer asked to hear nothing more
    preview ORDER.json --settings STORE.json [--plan PLAN.json]
                                              every message and its send time; sends nothing

Only `preview` works without Temporal. `list` needs the search attributes registered in
the namespace (README, "Finding journeys").

A journey is *stuck* when its workflow task keeps failing (a bug, or an input that
bypassed the edge): it cannot move until a fixed worker is deployed. `status` and
`list` show it with the error, and the controls refuse it with one line instead of
waiting for an answer that cannot come.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.rendering import Renderer, message_context
from connection import connect, web_ui_url
from intake import (
    PREVIEW_FEEDBACK_URL,
    InvalidJourney,
    load_json,
    validate_journey,
    validate_journey_id,
)
from models import JourneyInput, JourneyProgress, StepKind, StepOutcome, StepStatus
from models.channels import message_category, route
from models.journey import JourneyFacts
from models.schedule import describe_local, plan_times
from models.search import JOURNEY_STAGE, NEXT_ACTION_AT, ORDER_ID, STORE_ID
from workflows import OrderJourney

EXIT_NOT_FOUND = 3
JOURNEY_TYPE = "OrderJourney"
ENDING_SECONDS = 30
# How long a journey has to answer an update (feedback, opt-out). It answers in
# milliseconds when a worker runs; longer means no worker polls its task queue.
ANSWER_SECONDS = 30
# A workflow task that failed this many times in a row is a bug, not a blip.
STUCK_AFTER_ATTEMPTS = 2
T = TypeVar("T")


class OperationFailed(Exception):
    """The operation could not be done; the message says why, for the operator."""


# --- stuck journeys -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stuck:
    """A running journey whose workflow task keeps failing."""

    attempts: int
    since: datetime | None
    error: str

    def describe(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else ""
        return f"its workflow task fails ({self.attempts} attempts{since}): {self.error}"


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
            error = _gist(failure.message) or "unknown error"
            if failure.HasField("cause") and failure.cause.message:
                error += f" ({_gist(failure.cause.message)})"
            since = event.event_time.ToDatetime(tzinfo=UTC)
    return Stuck(attempts, since, error)


def _gist(message: str, limit: int = 300) -> str:
    """An error message on one line: a validation error's first field and message, not
    its help links."""
    lines = [line.strip() for line in message.splitlines() if line.strip()][:3]
    text = "; ".join(line.split(" [type=")[0] for line in lines)
    return text if len(text) <= limit else f"{text[:limit]}..."


async def describe_journey(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription:
    """The journey's description, or `OperationFailed` when there is no such journey."""
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise OperationFailed(f"no journey {handle.id}") from err
        raise


async def refuse_if_stuck(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionDescription:
    """The journey's description; `OperationFailed` when it does not exist or is stuck,
    since a stuck journey cannot act on a control until a fixed worker runs it."""
    description = await describe_journey(handle)
    problem = await stuck(handle, description)
    if problem is not None:
        raise OperationFailed(
            f"the journey is stuck: {problem.describe()}; deploy a fixed worker, or stop it "
            f"with `temporal workflow terminate --workflow-id '{handle.id}'`"
        )
    return description


async def answered(call: Awaitable[T], task_queue: str | None) -> T:
    """The journey's answer to an update, or `OperationFailed` when none comes in time."""
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            return await call
    except TimeoutError:
        queue = f" {task_queue!r}" if task_queue else ""
        raise OperationFailed(
            f"the journey did not answer within {ANSWER_SECONDS} s: "
            f"is a worker polling task queue{queue}?"
        ) from None


def target_id(parts: list[str]) -> str:
    """`STORE_ID ORDER_ID`, or the workflow id itself; `InvalidJourney` for anything else."""
    if len(parts) == 1 and parts[0].count(":") == 2 and parts[0].startswith("post-purchase:"):
        parts = parts[0].split(":")[1:]
    if len(parts) == 2:
        return validate_journey_id(parts[0], parts[1])
    raise InvalidJourney(
        ["journey: give STORE_ID ORDER_ID, or the workflow id post-purchase:STORE_ID:ORDER_ID"]
    )


# --- status -----------------------------------------------------------------------------


def _when(moment: datetime | None, like: datetime | None = None) -> str:
    """A time in the offset the journey gave it (the customer's), or `like`'s."""
    if moment is None:
        return "-"
    if like is not None and like.tzinfo is not None:
        moment = moment.astimezone(like.tzinfo)
    return moment.strftime("%a %d %b %Y %H:%M %z")


def format_stuck(description: WorkflowExecutionDescription, problem: Stuck) -> str:
    """A stuck journey: its progress cannot be read until a fixed worker runs it."""
    return "\n".join(
        [
            f"Journey   {description.id}",
            "Run       running · STUCK",
            f"Started   {_when(description.start_time)}",
            f"Stuck     {problem.describe()}",
            "          Deploy a fixed worker and the journey goes on where it stopped,",
            "          or stop it with `temporal workflow terminate`.",
        ]
    )


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
    description = await describe_journey(handle)
    problem = await stuck(handle, description)
    if problem is not None:
        return format_stuck(description, problem)
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
    status: str  # the run's status, or `stuck` for a running journey that cannot move
    stage: str
    next_action_at: datetime | None
    started: datetime | None
    stuck: Stuck | None = None

    @classmethod
    def of(cls, execution: WorkflowExecution, problem: Stuck | None = None) -> JourneyRow:
        attributes = execution.typed_search_attributes
        status = execution.status.name.lower() if execution.status else "unknown"
        return cls(
            workflow_id=execution.id,
            status="stuck" if problem else status,
            stage=attributes.get(JOURNEY_STAGE) or "-",
            next_action_at=attributes.get(NEXT_ACTION_AT),
            started=execution.start_time,
            stuck=problem,
        )


async def list_journeys(
    client: Client, query: str, limit: int = 100, *, stuck_only: bool = False
) -> list[JourneyRow]:
    """The journeys the query finds. Visibility does not know which running journeys are
    stuck, so each running one is described (a few at a time)."""
    executions = [e async for e in client.list_workflows(query, limit=limit)]
    gate = asyncio.Semaphore(8)

    async def row(execution: WorkflowExecution) -> JourneyRow:
        if execution.status is not WorkflowExecutionStatus.RUNNING:
            return JourneyRow.of(execution)
        async with gate:
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                problem = await stuck(handle, await handle.describe())
            except RPCError:
                problem = None  # it closed since it was listed
        return JourneyRow.of(execution, problem)

    rows = list(await asyncio.gather(*(row(e) for e in executions)))
    return [r for r in rows if r.stuck] if stuck_only else rows


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
    lines += [f"stuck: {r.workflow_id}: {r.stuck.describe()}" for r in rows if r.stuck]
    return "\n".join(lines)


# --- controls ---------------------------------------------------------------------------


async def cancel_journey(client: Client, workflow_id: str) -> None:
    """Cancel the run: nothing more is sent; a send in flight is cancelled."""
    handle = client.get_workflow_handle(workflow_id)
    description = await refuse_if_stuck(handle)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        status = description.status.name.lower() if description.status else "closed"
        raise OperationFailed(f"no running journey {workflow_id}: it is {status}")
    try:
        await handle.cancel()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise OperationFailed(f"no running journey {workflow_id}") from err
        raise


async def opt_out_journey(client: Client, workflow_id: str, reason: str = "") -> str:
    """Apply an opt-out through the `opt_out` update: 'opted out', or 'already opted out'
    when it was applied before, even if the journey has ended since."""
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    try:
        description = await refuse_if_stuck(handle)
        return await answered(
            handle.execute_update(OrderJourney.opt_out, reason), description.task_queue
        )
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
    workflow_id = target_id(args.journey)
    client = await connect()
    print(await journey_status(client, workflow_id))
    print(f"Web UI    {web_ui_url(client, workflow_id)}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    query = list_query(args.store, args.stage, running_only=not args.all, extra=args.query)
    client = await connect()
    print(format_table(await list_journeys(client, query, args.limit, stuck_only=args.stuck)))
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
    order = load_json(args.order, "order")
    settings = load_json(args.settings, "settings")
    plan = load_json(args.plan, "plan") if args.plan else None
    print(preview(validate_journey(order, settings, plan)))
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
    listing.add_argument(
        "--stuck", action="store_true", help="only journeys whose workflow task keeps failing"
    )
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

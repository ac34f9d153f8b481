"""The command line, for store scripts and operators.

    python starter.py start ORDER.json --settings STORE.json [--plan PLAN.json]
    python starter.py event ORDER.json --event EVENT.json --settings STORE.json
    python starter.py feedback STORE_ID ORDER_ID --rating 1..5 [--comment TEXT]
    python starter.py opt-out STORE_ID ORDER_ID [--reason TEXT]
    python starter.py backfill ORDERS.jsonl --settings STORE.json [--concurrency 64]
        [--jitter-window PT6H]
    python starter.py status STORE_ID ORDER_ID | WORKFLOW_ID
    python starter.py list [--store S] [--stage X] [--all] [--stuck]
    python starter.py cancel STORE_ID ORDER_ID | WORKFLOW_ID
    python starter.py preview ORDER.json --settings STORE.json [--plan PLAN.json]

Each command is a thin layer over the Python API (`starter`, `operators`, `intake`):
it reads files, calls, prints. What went wrong is one line on stderr, and the exit code
says what kind of thing it was (`Exit`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, TypeAdapter, ValidationError
from temporalio.service import RPCError

from customer_data import KeyConfigError, ProtectionError, new_key_line, protection_from_env
from intake import (
    InvalidJourney,
    load_json,
    validate_customer,
    validate_event,
    validate_feedback,
    validate_journey,
    validate_journey_id,
    validate_store,
)
from intake.backfill import backfill, count_lines, read_lines
from models import TASK_QUEUE
from models.durations import check_duration
from models.limits import FIRST_SEND_DELAY
from operators.controls import cancel_journey
from operators.listing import format_table, list_journeys, list_query
from operators.preview import preview
from operators.status import journey_status
from runtime.connection import TemporalUnreachable, connect, exit_process, web_ui_url
from starter import (
    ErasureUnavailable,
    JourneyNotFound,
    JourneyRefused,
    forget,
    opt_out_journey,
    report_checked,
    submit_feedback,
)


class Exit(IntEnum):
    """What the exit code says, for every command."""

    OK = 0
    FAILED = 1  # Temporal could not be reached, or refused the call; nothing was done
    INVALID = 2  # bad input or arguments: one line per problem; nothing started or sent
    REFUSED = 3  # the journey refused: it has ended, is stuck, did not answer, said no
    NOT_FOUND = 4  # no such journey
    PARTLY = 5  # backfill: some lines were refused (each named), the others started
    INTERRUPTED = 130


EXIT_CODES = "\n".join(
    f"  {code.value:<3} {text}"
    for code, text in (
        (Exit.OK, "done"),
        (Exit.FAILED, "Temporal could not be reached, or refused the call"),
        (Exit.INVALID, "bad input: one line per problem on stderr; nothing was started"),
        (Exit.REFUSED, "the journey refused: it has ended, is stuck, or said no"),
        (Exit.NOT_FOUND, "no such journey"),
        (Exit.PARTLY, "backfill: some lines were refused, the others started"),
    )
)
Command = Callable[[argparse.Namespace], Awaitable[Exit]]
_DURATION = TypeAdapter(timedelta)
_MOMENT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


# --- commands -------------------------------------------------------------------------


async def _start(args: argparse.Namespace) -> Exit:
    checked = validate_journey(
        _delivered(load_json(args.order, "order"), args.delivered_at),
        load_json(args.settings, "settings"),
        load_json(args.plan, "plan") if args.plan else None,
        speedup=args.speedup,
    )
    client = await connect()
    result = await report_checked(client, checked, task_queue=args.task_queue)
    print(f"{'started' if result.started else 'already exists'}: {result.journey_id}")
    print(f"Web UI: {web_ui_url(client, result.journey_id)}")
    return Exit.OK


async def _event(args: argparse.Namespace) -> Exit:
    event = load_json(args.event, "event")
    if args.occurred_at is not None and isinstance(event, dict):
        event = {**event, "occurred_at": args.occurred_at.isoformat()}
    checked = validate_event(
        load_json(args.order, "order"),
        event,
        load_json(args.settings, "settings"),
        load_json(args.plan, "plan") if args.plan else None,
        speedup=args.speedup,
    )
    client = await connect()
    result = await report_checked(client, checked, task_queue=args.task_queue)
    label = f"{checked.event.type}:{checked.event.event_id}"
    if not result.accepted:
        raise JourneyRefused(f"{result.journey_id} has ended; {label} was not applied")
    print(f"{'started' if result.started else 'sent to'}: {result.journey_id} ({label})")
    print(f"Web UI: {web_ui_url(client, result.journey_id)}")
    return Exit.OK


async def _feedback(args: argparse.Namespace) -> Exit:
    validate_feedback(args.rating, args.comment)  # refused before connecting
    validate_journey_id(args.store_id, args.order_id)
    client = await connect()
    print(await submit_feedback(client, args.store_id, args.order_id, args.rating, args.comment))
    return Exit.OK


async def _opt_out(args: argparse.Namespace) -> Exit:
    workflow_id = target_id(args.journey)
    answer = await opt_out_journey(await connect(), workflow_id, args.reason)
    print(f"{answer}: {workflow_id}")
    return Exit.OK


async def _backfill(args: argparse.Namespace) -> Exit:
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
        return Exit.FAILED
    print(summary.describe())
    return Exit.PARTLY if summary.invalid else Exit.OK


async def _status(args: argparse.Namespace) -> Exit:
    workflow_id = target_id(args.journey)
    client = await connect()
    print(await journey_status(client, workflow_id))
    print(f"Web UI    {web_ui_url(client, workflow_id)}")
    return Exit.OK


async def _list(args: argparse.Namespace) -> Exit:
    query = list_query(args.store, args.stage, running_only=not args.all, extra=args.query)
    client = await connect()
    print(format_table(await list_journeys(client, query, args.limit, stuck_only=args.stuck)))
    return Exit.OK


async def _cancel(args: argparse.Namespace) -> Exit:
    workflow_id = target_id(args.journey)
    await cancel_journey(await connect(), workflow_id)
    print(f"cancel requested: {workflow_id}")
    return Exit.OK


async def _preview(args: argparse.Namespace) -> Exit:
    checked = validate_journey(
        _delivered(load_json(args.order, "order"), args.delivered_at),
        load_json(args.settings, "settings"),
        load_json(args.plan, "plan") if args.plan else None,
    )
    print(preview(checked))
    return Exit.OK


async def _forget(args: argparse.Namespace) -> Exit:
    validate_customer(args.store, customer_id=args.customer, email=args.email, phone=args.phone)
    client = await connect()
    done = await forget(
        client, args.store, customer_id=args.customer, email=args.email, phone=args.phone
    )
    if done.customers == 0:
        print("no such customer in the key store: nothing to erase")
        return Exit.OK
    print(f"erased: {done.keys_deleted} data key(s) of {done.customers} customer(s) deleted")
    for label, ids in (("stopped", done.stopped), ("had ended", done.ended)):
        for workflow_id in ids:
            print(f"  {label}: {workflow_id}")
    for workflow_id in done.unreached:
        print(f"  did not answer (stops at its next send): {workflow_id}")
    return Exit.OK


async def _keys(args: argparse.Namespace) -> Exit:
    if args.action == "new":
        print(new_key_line(args.id))
        return Exit.OK
    protection = protection_from_env()  # checks the keys against the key store
    if protection is None:
        raise InvalidJourney(["JOURNEY_ENCRYPTION is off: there are no keys to check"])
    vault = protection.vault
    if args.action == "rewrap":
        count = await asyncio.to_thread(vault.rewrap)
        print(f"rewrapped {count} data key(s) under payload key {vault.ring.current.id!r}")
        return Exit.OK
    print(
        f"keys ok: payload keys {', '.join(vault.ring.ids)} (encrypting with "
        f"{vault.ring.current.id!r}); key store {vault.store.description}"
    )
    return Exit.OK


# --- arguments ------------------------------------------------------------------------


def _delivered(order: Any, delivered_at: datetime | None) -> Any:
    """The order file, with `--delivered-at` in place of its own delivery time."""
    if delivered_at is None or not isinstance(order, dict):
        return order
    return {**order, "delivered_at": delivered_at.isoformat()}


def _moment(text: str) -> datetime:
    """`now`, or an ISO 8601 date and time with its offset."""
    if text == "now":
        return datetime.now(UTC)
    try:
        return _MOMENT.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"not 'now' nor an ISO 8601 time with an offset: {text!r}"
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


def _delivered_at_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delivered-at",
        type=_moment,
        metavar="WHEN",
        help="'now' or an ISO 8601 time: the delivery time, instead of the order file's",
    )


def _journey_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journey", nargs="+", metavar="ID", help="STORE_ID ORDER_ID, or the workflow id"
    )


def _store_arguments(parser: argparse.ArgumentParser, *, speedup: bool = True) -> None:
    """The store's side of a journey, the same for every command that starts one."""
    parser.add_argument(
        "--settings", type=Path, required=True, help="JSON file of the store's journey settings"
    )
    parser.add_argument(
        "--plan", type=Path, help="JSON file of the journey plan (default: the built-in plan)"
    )
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    if speedup:
        parser.add_argument(
            "--speedup",
            type=int,
            default=1,
            help="journey time per real time, for demos: 86400 is a day a second (a new "
            "journey keeps the speed it started with)",
        )


def parser() -> argparse.ArgumentParser:
    """The one parser: every command and its arguments."""
    top = argparse.ArgumentParser(
        prog="starter.py",
        description="Post-purchase journeys: start them, report events, read and steer them.",
        epilog=f"exit codes:\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    start = command("start", _start, "start the journey of a delivered order")
    start.add_argument("order", type=Path, help="JSON file of the delivered order")
    _store_arguments(start)
    _delivered_at_argument(start)

    event = command("event", _event, "report an order event (placed, shipped, ...)")
    event.add_argument("order", type=Path, help="JSON file of the order")
    event.add_argument("--event", type=Path, required=True, help="JSON file of the event")
    _store_arguments(event)
    event.add_argument(
        "--occurred-at",
        type=_moment,
        metavar="WHEN",
        help="'now' or an ISO 8601 time: when the event happened, instead of the file's",
    )

    feedback = command("feedback", _feedback, "hand a customer's rating to the journey")
    feedback.add_argument("store_id")
    feedback.add_argument("order_id")
    feedback.add_argument("--rating", type=int, required=True, help="1 to 5")
    feedback.add_argument("--comment")

    opt_out = command("opt-out", _opt_out, "the customer asked to hear nothing more")
    _journey_argument(opt_out)
    opt_out.add_argument("--reason", default="", help="kept in the journey's progress")

    bulk = command("backfill", _backfill, "start many delivered orders' journeys, one a line")
    bulk.add_argument("orders", type=Path, help="JSON Lines file, one delivered order per line")
    _store_arguments(bulk, speedup=False)
    bulk.add_argument(
        "--concurrency", type=_positive, default=64, help="starts in flight at once (default 64)"
    )
    bulk.add_argument(
        "--jitter-window",
        type=_jitter_window,
        default=timedelta(hours=6),
        help="spread first sends over this ISO 8601 duration (default PT6H; PT0S: none)",
    )

    status = command("status", _status, "a journey's progress, readable")
    _journey_argument(status)

    listing = command("list", _list, "journeys by store and stage")
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

    cancel = command("cancel", _cancel, "cancel a journey: nothing more is sent")
    _journey_argument(cancel)

    erase = command(
        "forget", _forget, "erase a customer's data (LGPD): delete their key, stop journeys"
    )
    erase.add_argument("--store", required=True, help="the store's id")
    erase.add_argument("--customer", help="the store's customer id")
    erase.add_argument("--email", help="or the customer's email")
    erase.add_argument("--phone", help="or the customer's phone, E.164")

    keys = command("keys", _keys, "payload keys: make one, check them, rewrap data keys")
    keys.add_argument(
        "action",
        choices=["new", "check", "rewrap"],
        help="new: print a fresh key line (id:base64); check: the configured keys against "
        "the key store; rewrap: wrap every customer's data key under the first key",
    )
    keys.add_argument("--id", default="k1", help="new: the key's id (default k1)")

    show = command("preview", _preview, "every message of the plan and its send time")
    show.add_argument("order", type=Path, help="JSON file of a delivered order")
    show.add_argument("--settings", type=Path, required=True, help="JSON file of the store")
    show.add_argument("--plan", type=Path, help="JSON file of the plan (default plan if none)")
    _delivered_at_argument(show)
    return top


def main(argv: list[str] | None = None) -> Exit:
    """Run one command; what went wrong is one line on stderr and an `Exit` code."""
    args = parser().parse_args(argv)
    try:
        code: Exit = asyncio.run(args.run(args))
        return code
    except InvalidJourney as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return Exit.INVALID
    except JourneyNotFound as err:
        print(err, file=sys.stderr)
        return Exit.NOT_FOUND
    except JourneyRefused as err:
        print(f"refused: {err}", file=sys.stderr)
        return Exit.REFUSED
    except TemporalUnreachable as err:
        print(err, file=sys.stderr)
        return Exit.FAILED
    except (ProtectionError, KeyConfigError, ErasureUnavailable) as err:
        print(err, file=sys.stderr)
        return Exit.INVALID
    except RPCError as err:
        print(f"Temporal refused the call: {err}", file=sys.stderr)
        return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED


def run() -> None:
    """The process's entry point: run, flush, exit without interpreter teardown."""
    exit_process(main())

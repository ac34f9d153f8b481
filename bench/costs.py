"""Costs: what one journey costs in Temporal, against the bare floor.

Each closed run gives three figures:

- its history events;
- its history size: the bytes of the run's `History` protobuf, serialized
  (`History(events=...).ByteSize()`, the length of `SerializeToString()`);
- its billable actions, counted as Temporal Cloud counts them (`count_actions`).

Measured for the default journey (the default plan's five steps and the one feedback
reminder) not indexed and indexed (started with StoreId, OrderId and CustomerId, so it
upserts JourneyStage and NextActionAt as it goes), and for one order driven through
every stage (placed, shipped, delivered, then a low rating), indexed. The floor is
BareJourney with the default journey's timers and activities.

Journeys run two days a second with the send window open all day, on a dev server that
fires timers on time: every wait of the plan stays its own timer, as in production.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.worker import Worker

from activities import JourneyActivities, build_activities
from bench.bare import BareJourney, noop
from bench.common import DevServer, Row, dev_server, outbox_config, progress
from bench.orders import ALWAYS_OPEN, order
from bench.overhead import floor_like, start_floor
from starter import report_event, submit_feedback
from worker import build_worker, worker_options

# Where the counting rules come from. The Actions page names the billable operations
# and the history event of each; the Web UI's estimate, which annotates a history's
# events with their actions in Temporal Cloud, settles what the page leaves open
# (version markers).
ACTIONS_PAGE = "https://docs.temporal.io/evaluate/cloud/actions"
UI_ESTIMATE = (
    "https://github.com/temporalio/ui/blob/main/src/lib/models/event-history/"
    "get-event-billable-actions.ts"
)

# Two days of journey time a second: the 20-day plan in 10 s. The shortest wait between
# two sends (2 days) is then 1 s; on two busy cores a send and the workflow tasks around
# it can take 400 ms, and a wait shorter than that would lose its timer.
SPEEDUP = 172_800
STORE_ID = "loja-costs"
# The send window open all day, and the store's default feedback reminder back on.
STORE = {key: value for key, value in ALWAYS_OPEN.items() if key != "feedback_reminder_after"}
LOW_RATING = 2
SENDS_WAIT_SECONDS = 30

E = EventType
# `workflow.patched` (core_patch) and Go/Java GetVersion (Version) markers.
VERSION_MARKERS = frozenset({"core_patch", "Version"})
# The search attribute the SDK upserts with each new patch id.
CHANGE_VERSION = "TemporalChangeVersion"
# One action for each event of these types.
ONE_EACH: dict[EventType.ValueType, str] = {
    # Timer started, implicit timers too (a wait_condition with a timeout).
    E.EVENT_TYPE_TIMER_STARTED: "timers",
    # Activity started: its first attempt (retries: ACTIVITY_TASK_STARTED below).
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    # Update received by the worker and accepted. A rejected update is billed too but
    # is never written to the history, so it cannot be counted here.
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    # Child workflow: the parent's intent; the child's own start is in its history.
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflows",
    # Nexus operation scheduled, or its cancellation requested.
    E.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED: "nexus",
    E.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED: "nexus",
    # Workflow execution options updated (a callback attached, a versioning override).
    E.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options updates",
}
# Local activity attempts after the first, per workflow task, are billed up to this.
MAX_LOCAL_RETRIES_PER_TASK = 100


@dataclass
class Tally:
    """A run's billable actions by kind, and the events it has that Cloud does not bill."""

    actions: Counter[str] = field(default_factory=Counter)
    free: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.actions.values())

    def add(self, kind: str, actions: int) -> None:
        if actions > 0:  # no zero entries: a breakdown lists what was billed
            self.actions[kind] += actions


def count_actions(events: Iterable[HistoryEvent]) -> Tally:
    """The billable actions a run's history records, by the rules of ACTIONS_PAGE.

    Not in a history, so not counted: queries (these benchmarks send none), rejected
    updates, and activity heartbeats (`recorded_heartbeats` reads those from the server).
    """
    tally = Tally()
    tasks_with_markers: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind in ONE_EACH:
            tally.actions[ONE_EACH[kind]] += 1
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            # Workflow started: once a run. A retry of a failed run (attempt > 1) is
            # not billed as a new start.
            if event.workflow_execution_started_event_attributes.attempt <= 1:
                tally.actions["start"] += 1
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            # Signal sent: one each. Signal-with-start costs one action in all, the
            # start's: its signal is the event right after the start (event 2).
            if event.event_id != 2:
                tally.actions["signals"] += 1
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            # Activity retried: every attempt after the first. Only the last attempt
            # is written, with its number.
            retries = event.activity_task_started_event_attributes.attempt - 1
            tally.add("activity retries", retries)
        elif kind == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            _count_upsert(event, tally)
        elif kind == E.EVENT_TYPE_MARKER_RECORDED:
            _count_marker(event, tally, tasks_with_markers)
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            # Local activities retried: the attempts after the first, capped per task.
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            retries = metering.nonfirst_local_activity_execution_attempts
            tally.add("local activity retries", min(retries, MAX_LOCAL_RETRIES_PER_TASK))
        elif kind == E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            # Workflow reset: the failed task the reset writes.
            cause = event.workflow_task_failed_event_attributes.cause
            if cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW:
                tally.actions["resets"] += 1
    return tally


def _count_upsert(event: HistoryEvent, tally: Tally) -> None:
    """Search attribute upsert: one action a command, however many attributes it sets.
    One that sets only TemporalChangeVersion (written with each new patch) is free.
    Attributes given at the start are free too: they are not an upsert event."""
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    if set(fields.indexed_fields) == {CHANGE_VERSION}:
        tally.free["version upserts"] += 1
    else:
        tally.actions["upserts"] += 1


def _count_marker(event: HistoryEvent, tally: Tally, tasks_with_markers: set[int]) -> None:
    """Markers (local activities, side effects): the markers of one workflow task are
    one action together. Version markers are free (the Web UI's estimate, UI_ESTIMATE)."""
    marker = event.marker_recorded_event_attributes
    if marker.marker_name in VERSION_MARKERS:
        tally.free["patch markers"] += 1
        return
    task = marker.workflow_task_completed_event_id
    if task not in tasks_with_markers:
        tasks_with_markers.add(task)
        tally.actions["markers"] += 1


def history_bytes(events: Sequence[HistoryEvent]) -> int:
    """The serialized size of a run's history: the `History` protobuf of its events."""
    return History(events=events).ByteSize()


def bytes_by_event(events: Iterable[HistoryEvent]) -> Counter[str]:
    """Serialized bytes by event type, e.g. `activity task scheduled`."""
    sizes: Counter[str] = Counter()
    for event in events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        sizes[name.lower().replace("_", " ")] += event.ByteSize()
    return sizes


async def recorded_heartbeats(server: DevServer) -> int:
    """Activity heartbeats that reached the server, from its `action` counter.

    Heartbeats leave no history event; the SDK throttles them, and Cloud bills only
    those that reach the server, which is what this counter counts.
    """
    text = await asyncio.to_thread(_read_metrics, server.metrics_url)
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("action{")
        and 'action_type="grpc_RecordActivityTaskHeartbeat' in line
        and 'namespace="default"' in line
    )


def _read_metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


# --- the journeys -----------------------------------------------------------------------


def _order(order_id: str) -> dict[str, Any]:
    result = order(STORE_ID, order_id, datetime.now(UTC))
    result["customer"]["id"] = f"C-{order_id}"  # indexed runs carry CustomerId
    return result


def _event(kind: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": kind,
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    if kind == "shipped":
        event["shipment"] = {
            "carrier": "Correios",
            "tracking_code": "BR123456789",
            "tracking_url": "https://rastreio.example/BR123456789",
        }
    return event


async def _report(
    client: Client, task_queue: str, order_id: str, kind: str, *, indexed: bool
) -> WorkflowHandle[Any, Any]:
    result = await report_event(
        client,
        _order(order_id),
        _event(kind),
        STORE,
        speedup=SPEEDUP,
        task_queue=task_queue,
        search_attributes=indexed,
    )
    return result.handle


async def _closed(handle: WorkflowHandle[Any, Any]) -> WorkflowHistory:
    await handle.result()
    return await handle.fetch_history()


async def default_journey(
    client: Client, task_queue: str, order_id: str, *, indexed: bool
) -> WorkflowHistory:
    """A delivered order's journey, left to run its whole plan."""
    return await _closed(await _report(client, task_queue, order_id, "delivered", indexed=indexed))


async def every_stage(client: Client, task_queue: str, order_id: str) -> WorkflowHistory:
    """Placed, shipped and delivered, each once the previous stage's message is out;
    then a low rating once the feedback request is out."""
    handle = None
    for kind, sends in (("placed", 1), ("shipped", 2), ("delivered", 4)):
        handle = await _report(client, task_queue, order_id, kind, indexed=True)
        await _wait_for_sends(handle, sends)
    assert handle is not None
    await submit_feedback(client, STORE_ID, order_id, LOW_RATING, "chegou quebrado")
    return await _closed(handle)


async def _wait_for_sends(handle: WorkflowHandle[Any, Any], count: int) -> None:
    """Until `count` sends have completed. The history is read, not queried: a query
    would be a billable action of its own."""
    deadline = time.monotonic() + SENDS_WAIT_SECONDS
    while True:
        history = await handle.fetch_history()
        kinds = [event.event_type for event in history.events]
        if kinds.count(E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle.id}: not {count} sends after {SENDS_WAIT_SECONDS} s")
        await asyncio.sleep(0.01)


# --- measuring --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    events: int
    size: int  # bytes
    tally: Tally
    sizes: Counter[str]  # bytes by event type


@dataclass(frozen=True)
class Kind:
    """The costs of one kind of journey, one per run."""

    name: str
    costs: list[Cost]
    heartbeats: float  # per journey

    @property
    def default(self) -> bool:
        """A default journey, whose floor the table shows next to it."""
        return self.name.startswith("default")


def cost_of(history: WorkflowHistory) -> Cost:
    events = history.events
    return Cost(len(events), history_bytes(events), count_actions(events), bytes_by_event(events))


async def measure_kind(
    server: DevServer, name: str, runs: Sequence[Awaitable[WorkflowHistory]]
) -> tuple[Kind, list[WorkflowHistory]]:
    """Run one kind's journeys at once; the heartbeats counter moves only for them."""
    before = await recorded_heartbeats(server)
    histories = await asyncio.gather(*runs)
    heartbeats = (await recorded_heartbeats(server) - before) / len(histories)
    kind = Kind(name, [cost_of(history) for history in histories], heartbeats)
    progress(f"costs: {name}: {figure(kind, 'events')} events, {figure(kind, 'actions')} actions")
    return kind, list(histories)


def check_timers(histories: Sequence[WorkflowHistory]) -> None:
    """Every send of the default journey waits for its own timer; on a machine too busy
    for the speedup one could fall due before its timer started, and be undercounted."""
    for history in histories:
        shape = floor_like(history)
        if shape.timers != shape.activities:
            raise RuntimeError(
                f"{history.workflow_id}: {shape.timers} timers for {shape.activities} sends; "
                "the machine was too busy for the speedup"
            )


async def measure(journeys: int) -> list[Row]:
    async with dev_server(precise_timers=True) as server:
        with tempfile.TemporaryDirectory() as tmp:
            activities = build_activities(outbox_config(Path(tmp)))
            try:
                kinds, floor = await measure_all(server, activities, journeys)
            finally:
                await activities.aclose()
    return rows(kinds, floor)


async def measure_all(
    server: DevServer, activities: JourneyActivities, journeys: int
) -> tuple[list[Kind], Kind]:
    """Each kind in turn, `journeys` of it at once, and the floor of the default journey."""
    client, label = server.client, uuid.uuid4().hex[:8]
    queue, floor_queue = f"costs-{label}", f"costs-floor-{label}"
    floor_worker = Worker(
        client,
        task_queue=floor_queue,
        workflows=[BareJourney],
        activities=[noop],
        **worker_options(),
    )
    async with build_worker(client, activities, task_queue=queue), floor_worker:
        kinds: list[Kind] = []
        for name, indexed in (("not indexed", False), ("indexed", True)):
            runs = [
                default_journey(client, queue, f"{name[:3]}-{label}-{n}", indexed=indexed)
                for n in range(journeys)
            ]
            kind, histories = await measure_kind(server, f"default journey, {name}", runs)
            check_timers(histories)
            kinds.append(kind)
        bare = floor_like(histories[0])
        progress(f"costs: floor: {bare.timers} timers, then {bare.activities} no-op activities")
        handles = await start_floor(client, floor_queue, journeys, bare)
        floor, _ = await measure_kind(server, "floor", [_closed(h) for h in handles])
        stages = [every_stage(client, queue, f"all-{label}-{n}") for n in range(journeys)]
        kinds.append((await measure_kind(server, "every stage, indexed", stages))[0])
    return kinds, floor


# --- the table --------------------------------------------------------------------------

FIGURES = (
    ("events", "history events"),
    ("bytes", "history bytes"),
    ("actions", "billable actions"),
)


def values(kind: Kind, name: str) -> list[float]:
    """One figure of each run; actions with the kind's heartbeats."""
    if name == "events":
        return [cost.events for cost in kind.costs]
    if name == "bytes":
        return [cost.size for cost in kind.costs]
    return [cost.tally.total + kind.heartbeats for cost in kind.costs]


def figure(kind: Kind, name: str) -> str:
    """The median over the runs, with the range when they differ."""
    runs = values(kind, name)
    text = f"{statistics.median(runs):,g}"
    if min(runs) != max(runs):
        text += f" ({min(runs):,g}–{max(runs):,g})"
    return text


def ratio(kind: Kind, floor: Kind, name: str) -> str:
    return f"{statistics.median(values(kind, name)) / statistics.median(values(floor, name)):.2f}"


def typical(kind: Kind) -> Cost:
    """The run with the median action count, for the breakdowns."""
    ranked = sorted(kind.costs, key=lambda cost: cost.tally.total)
    return ranked[len(ranked) // 2]


# The order in which a breakdown lists the kinds of actions; others follow.
BREAKDOWN_ORDER = ("start", "timers", "activities", "activity retries", "signals", "updates")


def breakdown(kind: Kind) -> str:
    """`start 1 · timers 6 · ... · heartbeats 0; free: patch markers 1`."""
    tally = typical(kind).tally

    def rank(name: str) -> int:
        return BREAKDOWN_ORDER.index(name) if name in BREAKDOWN_ORDER else len(BREAKDOWN_ORDER)

    parts = [f"{name} {tally.actions[name]}" for name in sorted(tally.actions, key=rank)]
    parts.append(f"heartbeats {kind.heartbeats:g}")
    text = " · ".join(parts)
    if tally.free:
        text += "; free: " + ", ".join(f"{name} {count}" for name, count in tally.free.items())
    return text


def largest_events(kind: Kind, most: int = 3) -> str:
    """The event types that take the most history bytes, with their bytes."""
    sizes = typical(kind).sizes.most_common(most)
    return " · ".join(f"{name} {size:,}" for name, size in sizes)


def rows(kinds: Sequence[Kind], floor: Kind) -> list[Row]:
    """Per kind: events, bytes and actions per journey, next to the floor for the
    default journey; then what its actions and its bytes are made of."""
    out: list[Row] = []
    for kind in kinds:
        for name, title in FIGURES:
            side = (figure(floor, name), ratio(kind, floor, name), "(project/floor)")
            out.append(
                Row(
                    f"costs: {title} per journey, {kind.name}",
                    figure(kind, name),
                    *(side if kind.default else ()),
                )
            )
    for kind in kinds:
        out.append(
            Row(
                f"costs: actions by kind, {kind.name}",
                breakdown(kind),
                breakdown(floor) if kind.default else "",
            )
        )
        out.append(
            Row(
                f"costs: most history bytes, {kind.name}",
                largest_events(kind),
                largest_events(floor) if kind.default else "",
            )
        )
    return out

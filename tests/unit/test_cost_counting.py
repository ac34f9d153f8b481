"""The costs benchmark counts Temporal Cloud billable actions as Cloud does: pinned on
committed histories whose events are known, and on small histories built event by
event for the rules the journeys never meet (local activities, resets, signal-with-start)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory

from bench.costs import count_actions, history_bytes

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
E = EventType


def committed(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("name", "actions", "free"),
    [
        # Indexed: an upsert of JourneyStage and NextActionAt on every wake (7); the two
        # patches each write a marker and a TemporalChangeVersion upsert, both free.
        (
            "v4-order-indexed",
            {"start": 1, "timers": 1, "activities": 6, "upserts": 7},
            {"patch markers": 2, "version upserts": 2},
        ),
        # The first send failed once and was retried: its second attempt is an action.
        (
            "v4-order-retried-then-rejected",
            {"start": 1, "timers": 6, "activities": 6, "activity retries": 1},
            {"patch markers": 1, "version upserts": 1},
        ),
        # A `returned` signal and the feedback update, accepted; timers a signal or the
        # update cancelled are billed all the same.
        (
            "v4-order-returned-low-rating",
            {"start": 1, "timers": 8, "activities": 5, "signals": 1, "updates": 1},
            {"patch markers": 1, "version upserts": 1},
        ),
    ],
)
def test_committed_histories_count_as_cloud_bills_them(
    name: str, actions: dict[str, int], free: dict[str, int]
) -> None:
    tally = count_actions(committed(name).events)
    assert tally.actions == Counter(actions)
    assert tally.free == Counter(free)
    assert tally.total == sum(actions.values())


def event(event_id: int, kind: EventType.ValueType) -> HistoryEvent:
    return HistoryEvent(event_id=event_id, event_type=kind)


def marker(event_id: int, name: str, task: int) -> HistoryEvent:
    built = event(event_id, E.EVENT_TYPE_MARKER_RECORDED)
    built.marker_recorded_event_attributes.marker_name = name
    built.marker_recorded_event_attributes.workflow_task_completed_event_id = task
    return built


def test_rules_the_journeys_never_meet() -> None:
    started = event(1, E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    started.workflow_execution_started_event_attributes.attempt = 1
    with_start = event(2, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    later_signal = event(9, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    task = event(4, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    metering = task.workflow_task_completed_event_attributes.metering_metadata
    metering.nonfirst_local_activity_execution_attempts = 150
    reset = event(12, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    reset.workflow_task_failed_event_attributes.cause = (
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
    )
    other_failure = event(13, E.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    history = [
        started,
        with_start,  # signal-with-start: one action in all, the start's
        task,  # 150 local activity retries, billed up to 100
        marker(5, "LocalActivity", task=4),  # two markers of one task: one action
        marker(6, "LocalActivity", task=4),
        marker(7, "core_patch", task=4),  # free
        marker(8, "SideEffect", task=10),  # another task: another action
        later_signal,
        event(11, E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        reset,
        other_failure,  # not a reset: free
    ]
    tally = count_actions(history)
    assert tally.actions == Counter(
        {
            "start": 1,
            "signals": 1,
            "local activity retries": 100,
            "markers": 2,
            "child workflows": 1,
            "resets": 1,
        }
    )
    assert tally.free == Counter({"patch markers": 1})


def test_a_retried_run_is_not_a_new_start() -> None:
    retried = event(1, E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    retried.workflow_execution_started_event_attributes.attempt = 2
    assert count_actions([retried]).total == 0


def test_history_bytes_are_the_serialized_history() -> None:
    events = committed("v4-order-indexed").events
    assert history_bytes(events) == len(History(events=events).SerializeToString()) > 10_000
    assert history_bytes([]) == 0

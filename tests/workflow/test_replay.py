"""Journeys asleep for days must survive a deploy: every committed history replays
against today's workflow code with the production data converter."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from models import JourneyProgress
from tests.protection import converter
from worker import sandbox_runner
from workflows import OrderJourney, PostPurchaseJourney
from workflows.order_journey import (
    CANCEL_SEND_ON_OPT_OUT,
    HEAR_WHATSAPP,
    INDEX_SEARCH_ATTRIBUTES,
    SKIP_ANSWERED_REQUESTS,
    WAIT_FOR_SEND_OUTCOME,
)

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))
HISTORIES_BY_NAME = {path.stem: path for path in HISTORIES}


def test_there_are_histories_to_replay() -> None:
    names = {path.stem for path in HISTORIES}
    assert {"v1-default-journey", "v1-retried-then-rejected", "v1-invalid-recipient"} <= names
    assert {
        "v2-order-delivered",
        "v2-order-every-stage",
        "v2-order-late-delivery",
        "v2-order-opted-out",
        "v2-order-returned-low-rating",
        "v2-order-retried-then-rejected",
        "v2-order-invalid-recipient",
        # Recorded by the code before the cancel-send-on-opt-out patch: the send went
        # on after the opt-out. Today's code must still replay it that way.
        "v2-order-opted-out-mid-send",
    } <= names
    assert "v3-order-opted-out-mid-send" in names
    assert {
        "v4-order-delivered",
        "v4-order-opted-out-mid-send",
        # Started with search attributes on the dev server: they upsert the stage.
        "v4-order-indexed",
        "v4-order-indexed-opted-out",
    } <= names
    assert {
        "v5-order-delivered",
        "v5-order-opted-out-mid-send",
        "v5-order-indexed-opted-out",
        # Stops that race a send, waiting for its outcome.
        "v5-order-opted-out-during-a-held-request",
        "v5-order-cancelled-during-a-held-request",
        "v5-order-opted-out-while-a-send-waits-to-retry",
    } <= names
    assert {
        "v7-order-delivered",
        # WhatsApp's statuses and the customer's messages, as the webhook signals them.
        "v7-order-whatsapp-statuses",
        "v7-order-whatsapp-undeliverable",
        "v7-order-whatsapp-reply-and-rating",
        "v7-order-whatsapp-opt-out",
    } <= names


def version(path: Path) -> int:
    """The recording's version: 5 for `v5-order-delivered`."""
    return int(path.stem.split("-")[0].removeprefix("v"))


def patches(path: Path) -> set[str]:
    """The workflow.patched ids a history recorded."""
    found = set()
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def test_histories_before_and_after_the_opt_out_cancellation_are_both_kept() -> None:
    """v2 runs never asked to cancel a send; v3 runs carry the patch marker. Both
    must replay, which the test below checks for every file."""
    v2 = [p for p in HISTORIES if p.stem.startswith("v2-")]
    v3 = [p for p in HISTORIES if p.stem.startswith("v3-")]
    assert v2 and all(CANCEL_SEND_ON_OPT_OUT not in patches(p) for p in v2)
    assert v3 and all(CANCEL_SEND_ON_OPT_OUT in patches(p) for p in v3)
    mid_send = next(p for p in v3 if p.stem == "v3-order-opted-out-mid-send")
    assert "EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED" in mid_send.read_text(encoding="utf-8")


def event_types(path: Path) -> list[str]:
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return [event["eventType"].removeprefix("EVENT_TYPE_") for event in events]


def test_only_runs_since_v5_wait_for_the_outcome_of_a_send_a_stop_meets() -> None:
    """Before v5 a stop cancelled a send without waiting (TRY_CANCEL) and recorded it
    skipped; v5 runs carry the patch marker and wait for the send to end."""
    for path in HISTORIES:
        sends = "ACTIVITY_TASK_SCHEDULED" in event_types(path)
        waits = version(path) >= 5 and sends
        assert (WAIT_FOR_SEND_OUTCOME in patches(path)) is waits, path.stem
    held = event_types(HISTORIES_BY_NAME["v5-order-opted-out-during-a-held-request"])
    # Asked to cancel, the send still completed: the message landed after the stop.
    cancel = held.index("ACTIVITY_TASK_CANCEL_REQUESTED")
    assert "ACTIVITY_TASK_COMPLETED" in held[cancel:]
    retrying = event_types(HISTORIES_BY_NAME["v5-order-opted-out-while-a-send-waits-to-retry"])
    # Between attempts, the server cancels the send without asking it.
    assert retrying[retrying.index("ACTIVITY_TASK_CANCEL_REQUESTED") + 1] == (
        "ACTIVITY_TASK_CANCELED"
    )
    cancelled = event_types(HISTORIES_BY_NAME["v5-order-cancelled-during-a-held-request"])
    assert cancelled[-1] == "WORKFLOW_EXECUTION_CANCELED"


def test_only_runs_started_with_search_attributes_upsert_them() -> None:
    """Runs before v4 never upserted; a v4 run upserts only when it started indexed
    (the time-skipping server has no custom search attributes)."""
    for path in HISTORIES:
        text = path.read_text(encoding="utf-8")
        indexed = "-indexed" in path.stem
        assert (INDEX_SEARCH_ATTRIBUTES in patches(path)) is indexed, path.stem
        assert ('"JourneyStage"' in text) is indexed, path.stem
    opted_out = next(p for p in HISTORIES if p.stem == "v4-order-indexed-opted-out")
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED" in opted_out.read_text("utf-8")


def test_since_v6_feedback_drops_the_requests_it_answers_at_once() -> None:
    """Before v6, an answered request waited on the agenda and a timer woke the journey
    to skip it; since, it is skipped when the feedback comes, with the patch marker."""
    for version in ("v2", "v3", "v4", "v5"):
        old = HISTORIES_BY_NAME[f"{version}-order-returned-low-rating"]
        assert SKIP_ANSWERED_REQUESTS not in patches(old)
    for name in ("order-returned-low-rating", "order-feedback-after-request"):
        assert SKIP_ANSWERED_REQUESTS in patches(HISTORIES_BY_NAME[f"v6-{name}"])
    # Runs without pending requests never ask, so carry no marker.
    assert SKIP_ANSWERED_REQUESTS not in patches(HISTORIES_BY_NAME["v6-order-delivered"])


def test_since_v6_indexed_runs_start_with_their_stage_and_upsert_it_one_time_less() -> None:
    """The starter sets JourneyStage and NextActionAt with the run, which costs no
    upsert; the run's first workflow task finds them set and does not upsert them."""

    def stage_upserts(path: Path) -> int:
        return sum(
            '"JourneyStage"' in json.dumps(event)
            for event in json.loads(path.read_text("utf-8"))["events"]
            if "upsertWorkflowSearchAttributesEventAttributes" in event
        )

    def started_with_stage(path: Path) -> bool:
        first = json.loads(path.read_text("utf-8"))["events"][0]
        return '"JourneyStage"' in json.dumps(first)

    for path in HISTORIES:
        if "-indexed" in path.stem:
            assert started_with_stage(path) is (version(path) >= 6), path.stem
    old, new = HISTORIES_BY_NAME["v5-order-indexed"], HISTORIES_BY_NAME["v6-order-indexed"]
    assert stage_upserts(new) == stage_upserts(old) - 1


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[OrderJourney, PostPurchaseJourney],
        data_converter=converter(),
        workflow_runner=sandbox_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def signal_names(path: Path) -> set[str]:
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return {
        event["workflowExecutionSignaledEventAttributes"]["signalName"]
        for event in events
        if "workflowExecutionSignaledEventAttributes" in event
    }


def timer_summaries(path: Path) -> list[str]:
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return [
        json.loads(base64.b64decode(event["userMetadata"]["summary"]["data"]))
        for event in events
        if "timerStartedEventAttributes" in event and "userMetadata" in event
    ]


def scheduled_keys(path: Path) -> list[str]:
    """The idempotency keys of the sends and alerts a history scheduled, in order."""
    events = json.loads(path.read_text(encoding="utf-8"))["events"]
    return [
        json.loads(base64.b64decode(attributes["input"]["payloads"][0]["data"]))["idempotency_key"]
        for event in events
        if (attributes := event.get("activityTaskScheduledEventAttributes"))
    ]


def test_since_v7_journeys_hear_whatsapp_and_only_runs_that_got_its_signals_carry_the_marker() -> (
    None
):
    """Runs before v7 had no handler for WhatsApp's signals; the patch marker is asked
    only by a run that gets one, so every other history is as it was."""
    for path in HISTORIES:
        heard = bool(signal_names(path) & {"whatsapp_status", "customer_reply"})
        assert (HEAR_WHATSAPP in patches(path)) is heard, path.stem
        assert not heard or version(path) >= 7, path.stem
    statuses = HISTORIES_BY_NAME["v7-order-whatsapp-statuses"]
    # It waits a day after its last WhatsApp message; the status that comes meanwhile
    # cancels no timer.
    assert timer_summaries(statuses)[-1].endswith(
        "hear WhatsApp's statuses and replies to the last message"
    )
    assert "TIMER_CANCELED" not in event_types(statuses)
    assert event_types(statuses)[-2:] == ["WORKFLOW_TASK_COMPLETED", "WORKFLOW_EXECUTION_COMPLETED"]
    # The failed feedback request went again by email, once, under the fallback's key,
    # though Meta reported the failure twice.
    keys = scheduled_keys(HISTORIES_BY_NAME["v7-order-whatsapp-undeliverable"])
    plain = scheduled_keys(HISTORIES_BY_NAME["v7-order-delivered"])
    request = plain.index("post-purchase:loja-1:PED-1:feedback_request")
    assert keys == [*plain[: request + 1], f"{plain[request]}:email", *plain[request + 1 :]]
    opted_out = scheduled_keys(HISTORIES_BY_NAME["v7-order-whatsapp-opt-out"])
    assert opted_out[-1] == "post-purchase:loja-1:PED-1:opt_out_confirmation"
    assert opted_out.count(opted_out[-1]) == 1


# Payloads the workers never wrote: the SDK core's patch markers, and the server's word
# when it cancels a send that never started ("ACTIVITY_ID_NOT_STARTED").
NOT_OURS = {"markerRecordedEventAttributes", "activityTaskCanceledEventAttributes"}


def payloads_of(path: Path) -> list[dict[str, Any]]:
    """Every payload of a history's inputs, results, signals and updates that the
    journey's own processes wrote."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "payloads" in node and isinstance(node["payloads"], list):
                found.extend(node["payloads"])
            for key, value in node.items():
                if key not in NOT_OURS:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(path.read_text(encoding="utf-8"))["events"])
    return found


ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()


def test_since_v8_every_payload_is_encrypted_and_an_erased_run_stops_as_erased() -> None:
    """v8 runs were recorded as production runs them: every payload encrypted under the
    test key, contact data sealed inside. Older runs stay readable and replay alike."""
    v8 = [path for path in HISTORIES if version(path) >= 8]
    assert {p.stem for p in v8} >= {
        "v8-order-delivered",
        "v8-order-whatsapp-reply-and-rating",
        "v8-order-erased",
        "v8-order-indexed",
    }
    for path in v8:
        payloads = payloads_of(path)
        assert payloads, path.stem
        assert {p["metadata"]["encoding"] for p in payloads} == {ENCRYPTED}, path.stem
        text = path.read_text(encoding="utf-8")
        assert "Ana Souza" not in text and "ana@example.com" not in text, path.stem
    assert all(
        p["metadata"]["encoding"] != ENCRYPTED
        for path in HISTORIES
        if version(path) < 8
        for p in payloads_of(path)
    )


async def test_the_erased_run_decodes_to_a_journey_stopped_as_erased() -> None:
    events = json.loads(HISTORIES_BY_NAME["v8-order-erased"].read_text(encoding="utf-8"))
    [completed] = [
        e["workflowExecutionCompletedEventAttributes"]
        for e in events["events"]
        if "workflowExecutionCompletedEventAttributes" in e
    ]
    payload = json_format.ParseDict(completed["result"]["payloads"][0], Payload())
    [progress] = await converter().decode([payload], [JourneyProgress])
    assert progress.stop_reason == "customer data erased"
    assert [s.status for s in progress.steps][:1] == ["sent"]
    assert progress.customer["email"] == "a***@example.com"

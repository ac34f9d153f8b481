"""The whole journey, driven by order events: stages, stop rules and the feedback loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities
from intake import InvalidJourney
from models import JourneyProgress, JourneyStatus, MessageRequest, Receipt, StepStatus
from models.events import Feedback, FeedbackSubmission
from models.sealed import Sealed
from models.sending import SEND_MESSAGE
from starter import FeedbackRejected, JourneyNotFound, report_event, submit_feedback
from tests import builders
from tests.clock import TUESDAY, advance_to
from tests.journeys import Journey, local_midnight, outbox_lines, running_worker
from tests.protection import revealed
from worker import worker_options
from workflows import OrderJourney

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
async def journey(time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities):
    """An order's journey whose first event comes on a Tuesday at 10:00 in São Paulo;
    each test moves the clock on from there."""
    await advance_to(time_skipping_env, "10:00", weekday=TUESDAY)
    async with running_worker(time_skipping_env.client, outbox_activities) as task_queue:
        yield Journey(time_skipping_env, task_queue)


def by_status(progress: JourneyProgress) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for step in progress.steps:
        grouped.setdefault(step.status, []).append(step.step_id)
    return grouped


def reasons(progress: JourneyProgress) -> dict[str, str | None]:
    return {s.step_id: s.reason for s in progress.steps if s.status is StepStatus.SKIPPED}


def alerts(outbox_path: Path) -> list[dict[str, Any]]:
    path = outbox_path.with_name("alerts.jsonl")
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def in_window(moment: datetime) -> bool:
    return time(9) <= moment.astimezone(SP).time() < time(20)


PLAN = ["thanks", "feedback_request", "photo_invite", "delivery_questions", "come_back_coupon"]


async def test_from_placed_to_feedback_every_stage_sends_its_message(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("placed")
    await journey.wait(hours=30)
    await journey.report("shipped")
    await journey.wait(days=2)
    await journey.report("delivered")
    progress = await journey.result()

    sent = [line["step_id"] for line in outbox_lines(outbox_path)]
    assert sent[:2] == ["order_confirmation", "shipping_update"]
    assert [s for s in sent[2:] if s != "feedback_reminder"] == PLAN
    tracking = outbox_lines(outbox_path)[1]["text"]
    assert "BR123456789" in tracking and "https://rastreio.example/BR123456789" in tracking
    assert progress.status is JourneyStatus.COMPLETED
    assert progress.events == ["placed:placed-1", "shipped:shipped-1", "delivered:delivered-1"]
    assert all(in_window(s.scheduled_for) for s in progress.steps)


async def test_delivered_arriving_before_shipped_skips_the_tracking_message(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("placed")
    await journey.report("delivered")
    await journey.report("shipped")
    progress = await journey.result()

    sent = [line["step_id"] for line in outbox_lines(outbox_path)]
    assert "shipping_update" not in sent
    assert reasons(progress)["shipping_update"] == "already delivered"
    assert [s for s in sent if s not in {"order_confirmation", "feedback_reminder"}] == PLAN


async def test_a_duplicate_event_is_applied_once(journey: Journey, outbox_path: Path) -> None:
    await journey.report("delivered", event_id="evt-9")
    await journey.report("delivered", event_id="evt-9")
    await journey.report("delivered", event_id="evt-10")
    progress = await journey.result()

    assert progress.events == ["delivered:evt-9"]
    assert progress.ignored_events == [
        "delivered:evt-9 (repeat)",
        "delivered:evt-10 (already applied)",
    ]
    keys = [line["idempotency_key"] for line in outbox_lines(outbox_path)]
    assert len(keys) == len(set(keys)) == len(PLAN) + 1


async def test_late_delivery_alerts_the_store_apologises_and_the_journey_goes_on(
    journey: Journey, outbox_path: Path
) -> None:
    now = await journey.env.get_current_time()
    promised = local_midnight(now, "America/Sao_Paulo", days=3) + timedelta(hours=18)
    journey.order = builders.placed_order(promised_delivery_by=promised.isoformat())
    await journey.report("placed")
    await journey.wait(days=6)  # promised + 2 days of grace have passed
    await journey.report("delivered")
    progress = await journey.result()

    [alert] = alerts(outbox_path)
    assert alert["kind"] == "late_delivery" and alert["order_id"] == "PED-1"
    assert "PED-1" in alert["subject"]
    sent = [line["step_id"] for line in outbox_lines(outbox_path)]
    assert sent[:2] == ["order_confirmation", "delivery_apology"]
    apology = next(s for s in progress.steps if s.step_id == "delivery_apology")
    assert apology.scheduled_for >= promised + timedelta(days=2)
    assert in_window(apology.scheduled_for)
    assert [s for s in sent[2:] if s != "feedback_reminder"] == PLAN


async def test_opt_out_during_a_wait_stops_every_further_message_at_once(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("delivered")
    await journey.wait(days=2, hours=12)  # thanks is out, the feedback request waits
    opted_out_at = await journey.env.get_current_time()
    await journey.report("opted_out", reason="asked on WhatsApp")
    progress = await journey.result()
    assert journey.handle is not None
    closed_at = (await journey.handle.describe()).close_time

    assert [line["step_id"] for line in outbox_lines(outbox_path)] == ["thanks"]
    assert progress.status is JourneyStatus.STOPPED and progress.opted_out
    assert progress.stop_reason == "opted out: asked on WhatsApp"
    assert set(reasons(progress).values()) == {"customer opted out"}
    # It ended when the customer opted out, not when the next message would have gone.
    assert closed_at is not None and closed_at < opted_out_at + timedelta(hours=1)


async def test_return_after_the_first_message_skips_only_promotional_steps(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("delivered")
    await journey.wait(days=2, hours=12)
    await journey.report("returned")
    progress = await journey.result()

    groups = by_status(progress)
    assert groups["skipped"] == ["photo_invite", "come_back_coupon"]
    assert set(reasons(progress).values()) == {"promotional, and the order returned"}
    # Support and feedback go on: reviews are never withheld.
    assert "feedback_request" in groups["sent"] and "delivery_questions" in groups["sent"]


async def test_feedback_before_the_request_thanks_and_skips_the_request(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("delivered")
    await journey.wait(days=2)
    assert await journey.feedback(5, "Adorei!") == "feedback received"
    progress = await journey.result()

    groups = by_status(progress)
    assert "feedback_thanks" in groups["sent"]
    assert reasons(progress) == {"feedback_request": "feedback already received"}
    assert "feedback_reminder" not in [s.step_id for s in progress.steps]
    assert "support_followup" not in groups["sent"] and alerts(outbox_path) == []
    feedback = progress.facts.feedback
    assert feedback is not None and feedback.rating == 5
    # The comment is kept sealed under the customer's key.
    assert isinstance(feedback.comment, Sealed) and await revealed(feedback.comment) == "Adorei!"
    # A happy customer still gets the public review invitations and the coupon.
    assert {"photo_invite", "come_back_coupon"} <= set(groups["sent"])


async def test_a_low_rating_opens_support_and_never_withholds_review_invitations(
    journey: Journey, outbox_path: Path
) -> None:
    await journey.report("delivered")
    await journey.wait(days=5)  # after the feedback request
    await journey.feedback(2, "Chegou amassado")
    progress = await journey.result()

    groups = by_status(progress)
    assert {"feedback_thanks", "support_followup", "photo_invite"} <= set(groups["sent"])
    [alert] = alerts(outbox_path)
    assert alert["kind"] == "low_rating" and "Chegou amassado" in alert["text"]
    assert "feedback_reminder" not in groups["sent"]


async def test_no_feedback_gets_exactly_one_reminder(journey: Journey, outbox_path: Path) -> None:
    await journey.report("delivered")
    progress = await journey.result()
    steps = {s.step_id: s for s in progress.steps}
    sent = [line["step_id"] for line in outbox_lines(outbox_path)]
    assert sent.count("feedback_reminder") == 1
    reminder, request = steps["feedback_reminder"], steps["feedback_request"]
    assert reminder.scheduled_for == request.scheduled_for + timedelta(days=2)


async def test_feedback_update_rejections_say_why(journey: Journey) -> None:
    await journey.report("placed")
    with pytest.raises(FeedbackRejected, match="the order has not been delivered yet"):
        await journey.feedback(4)

    await journey.report("delivered")
    # The edge refuses a bad rating before it reaches the journey...
    with pytest.raises(InvalidJourney, match=r"feedback\.rating: Input should be less than or"):
        await journey.feedback(7)
    # ... and the journey refuses one that bypasses the edge (the Web UI, the temporal
    # CLI) in its validator, before the handler could fail on it.
    assert journey.handle is not None
    for rating, comment, reason in [
        (7, None, "rating must be 1 to 5, got 7"),
        (0, None, "rating must be 1 to 5, got 0"),
        (4, "bom\x00", "comment contains a control character"),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await journey.handle.execute_update(
                OrderJourney.submit_feedback, FeedbackSubmission(rating=rating, comment=comment)
            )
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.message == reason

    await journey.feedback(4)
    with pytest.raises(FeedbackRejected, match="feedback was already received"):
        await journey.feedback(5)

    await journey.result()
    with pytest.raises(FeedbackRejected, match="the journey has ended"):
        await journey.feedback(3)
    with pytest.raises(JourneyNotFound, match="no journey for order PED-404"):
        await submit_feedback(journey.env.client, "loja-1", "PED-404", 5)


async def test_feedback_is_accepted_while_the_delivery_waits_behind_a_send_in_flight(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    env = time_skipping_env
    now = await advance_to(env, "10:00", weekday=TUESDAY)
    store, order = builders.settings(), builders.placed_order()
    release = asyncio.Event()
    sending = asyncio.Event()

    @activity.defn(name=SEND_MESSAGE)
    async def held_send(request: MessageRequest) -> Receipt:
        """The order confirmation, held in flight until the test lets it answer."""
        sending.set()
        await release.wait()
        return await outbox_activities.send_message(request)

    activities: list[Callable[..., Awaitable[Receipt]]] = [
        held_send,
        outbox_activities.request_feedback,
        outbox_activities.alerts.alert_store,
    ]
    async with Worker(
        env.client,
        task_queue="held",
        workflows=[OrderJourney],
        activities=activities,
        **worker_options(),
    ):
        placed = await report_event(
            env.client, order, builders.event("placed", now), store, task_queue="held", now=now
        )
        await sending.wait()
        # The journey is busy sending the confirmation: the delivery waits in its inbox.
        await report_event(
            env.client, order, builders.event("delivered", now), store, task_queue="held", now=now
        )
        answer = await placed.handle.execute_update(
            OrderJourney.submit_feedback, FeedbackSubmission(rating=5, comment="Chegou antes!")
        )
        release.set()
        progress = await placed.handle.result()

    assert answer == "feedback received"
    assert progress.facts.feedback == Feedback(rating=5, comment="Chegou antes!")
    assert progress.events == ["placed:placed-1", "delivered:delivered-1"]


async def test_an_event_for_an_ended_journey_is_refused_not_restarted(
    journey: Journey,
) -> None:
    await journey.report("delivered")
    await journey.result()
    now = await journey.env.get_current_time()
    result = await report_event(
        journey.env.client,
        journey.order,
        builders.event("returned", now),
        journey.settings,
        task_queue=journey.task_queue,
        now=now,
    )
    assert not result.started and not result.accepted

"""The whole journey in virtual time: what is sent, in which order, and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from intake import CheckedEvent, InvalidJourney, validate_journey
from messages.feedback_links import verify_feedback_token
from models import JourneyStatus, StepStatus
from starter import report_checked, start_journey
from tests import builders
from tests.clock import advance_to
from tests.conftest import FEEDBACK_SECRET
from tests.journeys import local_midnight, outbox_lines, running_worker

SP = "America/Sao_Paulo"


def default_schedule(first: datetime) -> list[tuple[str, datetime]]:
    """The default plan's sends when the first lands at `first`, a window opening, plus
    the feedback reminder two days after the request."""
    request = first + timedelta(days=3)
    photo = request + timedelta(days=4)
    questions = photo + timedelta(days=5)
    return [
        ("thanks", first),
        ("feedback_request", request),
        ("feedback_reminder", request + timedelta(days=2)),
        ("photo_invite", photo),
        ("delivery_questions", questions),
        ("come_back_coupon", questions + timedelta(days=7)),
    ]


def assert_sent_on_time(steps, expected: list[datetime] | list[tuple[str, datetime]]) -> None:
    assert [s.status for s in steps] == [StepStatus.SENT] * len(expected)
    for step, item in zip(steps, expected, strict=True):
        if isinstance(item, tuple):
            step_id, due = item
            assert step.step_id == step_id
        else:
            due = item
        assert step.scheduled_for == due, step.step_id
        # The send happens when the durable timer fires, not before, and not much after.
        assert step.sent_at is not None
        assert due <= step.sent_at < due + timedelta(minutes=1), step.step_id


async def test_default_journey_after_a_23h_delivery(
    time_skipping_env: WorkflowEnvironment,
    outbox_activities: JourneyActivities,
    outbox_path: Path,
) -> None:
    env = time_skipping_env
    delivered = await advance_to(env, "23:00")
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client,
            builders.order(delivered),
            builders.settings(),
            task_queue=task_queue,
            now=delivered,
        )
        progress = await started.handle.result()

    # A day after 23:00 is 23:00, outside 09:00-20:00: the first message waits for the
    # next opening, 34 hours after delivery. The rest keep their waits at 09:00.
    first = local_midnight(delivered, SP, days=2) + timedelta(hours=9)
    expected = default_schedule(first)
    assert progress.status is JourneyStatus.COMPLETED
    assert_sent_on_time(progress.steps, expected)
    assert first - delivered == timedelta(hours=34)

    lines = outbox_lines(outbox_path)
    assert [line["step_id"] for line in lines] == [step_id for step_id, _ in expected]
    assert len({line["idempotency_key"] for line in lines}) == 6
    assert all(line["to"] == "+5511987654321" and line["locale"] == "pt-BR" for line in lines)
    assert [s.message_id for s in progress.steps] == [line["id"] for line in lines]

    feedback = lines[1]["text"]
    request_due = expected[1][1]
    # The link opens the web service's feedback page, at the worker's JOURNEY_PUBLIC_URL.
    link = next(word for word in feedback.split() if "/feedback?token=" in word)
    assert link.startswith("http://localhost:8000/feedback?token=")
    claims = verify_feedback_token(
        parse_qs(urlsplit(link).query)["token"][0], FEEDBACK_SECRET.encode(), now=request_due
    )
    assert claims.journey_id == started.journey_id
    assert claims.expires_at == request_due + timedelta(days=30)
    assert claims.locale == "pt-BR"


@pytest.mark.parametrize(
    ("delivered_at", "first_day", "first_at"),
    [
        ("00:30", 1, "09:00"),  # a day later is 00:30, before opening: that morning's 09:00
        ("08:59", 1, "09:00"),
        ("09:00", 1, "09:00"),  # the opening is inside the window
        ("19:59", 1, "19:59"),  # so is the last minute before closing
        ("20:00", 2, "09:00"),  # closing time is outside: the morning after
        ("23:30", 2, "09:00"),
    ],
)
async def test_every_message_lands_in_the_window_whatever_the_hour_of_delivery(
    time_skipping_env: WorkflowEnvironment,
    outbox_activities: JourneyActivities,
    delivered_at: str,
    first_day: int,
    first_at: str,
) -> None:
    env = time_skipping_env
    delivered = await advance_to(env, delivered_at)
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client,
            builders.order(delivered),
            builders.settings(),
            task_queue=task_queue,
            now=delivered,
        )
        progress = await started.handle.result()

    hour, minute = map(int, first_at.split(":"))
    first = local_midnight(delivered, SP, days=first_day) + timedelta(hours=hour, minutes=minute)
    assert_sent_on_time(progress.steps, default_schedule(first))
    assert timedelta(days=1) <= first - delivered <= timedelta(days=2)


async def test_a_customer_in_another_timezone_gets_messages_in_their_own_window(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    env = time_skipping_env
    tokyo = "Asia/Tokyo"
    # 23:00 in Tokyo is 11:00 in São Paulo: inside the store's window, not the customer's.
    delivered = (await advance_to(env, "23:00", timezone=tokyo)).astimezone(ZoneInfo("UTC"))
    order = builders.order(delivered, customer={"timezone": tokyo, "locale": "en"})
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client, order, builders.settings(), task_queue=task_queue, now=delivered
        )
        progress = await started.handle.result()

    first = local_midnight(delivered, tokyo, days=2) + timedelta(hours=9)
    assert_sent_on_time(progress.steps, default_schedule(first))
    assert all(
        s.sent_at is not None and s.sent_at.astimezone(ZoneInfo(tokyo)).time() >= time(9)
        for s in progress.steps
    )


async def test_a_step_whose_wait_ends_after_closing_moves_to_the_next_opening(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    env = time_skipping_env
    delivered = await advance_to(env, "11:30")
    settings = builders.settings(send_window={"start": "10:00", "end": "12:00"})
    plan = {
        "steps": [
            {"id": "thanks", "template": "thanks"},
            {"id": "questions", "template": "delivery_questions", "wait": "P1DT1H"},
        ]
    }
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client,
            builders.order(delivered),
            settings,
            plan,
            task_queue=task_queue,
            now=delivered,
        )
        progress = await started.handle.result()

    first = delivered + timedelta(days=1)  # 11:30, inside 10:00-12:00
    # 1 day 1 hour later is 12:30, after closing: the next day's 10:00.
    second = local_midnight(first, SP, days=2) + timedelta(hours=10)
    assert_sent_on_time(progress.steps, [first, second])


@pytest.mark.parametrize(
    ("reported_at", "first_due"),
    [
        # Reported inside the window: the message goes at once.
        ("14:00", lambda reported: reported),
        # Reported after closing: the next morning's opening, not the middle of the night.
        ("22:00", lambda reported: local_midnight(reported, SP, days=1) + timedelta(hours=9)),
        # Reported before opening: that morning's opening.
        ("06:30", lambda reported: local_midnight(reported, SP) + timedelta(hours=9)),
    ],
)
async def test_a_delivery_reported_days_late_sends_at_the_next_window_moment_not_in_the_past(
    time_skipping_env: WorkflowEnvironment,
    outbox_activities: JourneyActivities,
    reported_at: str,
    first_due: Callable[[datetime], datetime],
) -> None:
    env = time_skipping_env
    reported = await advance_to(env, reported_at)
    delivered = reported - timedelta(days=5)
    plan = {"steps": [{"id": "thanks", "template": "thanks"}]}
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client,
            builders.order(delivered),
            builders.settings(),
            plan,
            task_queue=task_queue,
            now=reported,
        )
        progress = await started.handle.result()
    [step] = progress.steps
    expected = first_due(reported)
    # The journey counts from when it started, a moment after the report.
    assert expected <= step.scheduled_for < expected + timedelta(minutes=1)
    assert time(9) <= step.scheduled_for.astimezone(ZoneInfo(SP)).time() < time(20)


async def test_reporting_the_same_delivery_twice_returns_the_same_journey(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities, outbox_path: Path
) -> None:
    env = time_skipping_env
    now = await advance_to(env, "12:00")
    order = builders.order(now - timedelta(hours=2))
    async with running_worker(env.client, outbox_activities) as task_queue:
        first = await start_journey(
            env.client, order, builders.settings(), task_queue=task_queue, now=now
        )
        second = await start_journey(
            env.client, order, builders.settings(), task_queue=task_queue, now=now
        )
        assert first.started and not second.started
        assert second.journey_id == first.journey_id
        assert (await second.handle.describe()).run_id == first.handle.result_run_id
        await first.handle.result()
        # Even once the journey has ended, the order never gets a second one.
        third = await start_journey(
            env.client, order, builders.settings(), task_queue=task_queue, now=now
        )
        assert not third.started
        assert (await third.handle.describe()).run_id == first.handle.result_run_id
    assert len(outbox_lines(outbox_path)) == len(default_schedule(now))


@pytest.mark.parametrize(
    ("order_changes", "settings_changes", "field"),
    [
        ({"delivered_at": "2026-03-10T14:30:00"}, {}, "order.delivered_at"),
        ({}, {"wait_after_delivery": "P3D"}, "settings.wait_after_delivery"),
        ({"customer": {"locale": "es"}}, {}, "order.customer.locale"),
        ({"customer": {"phone": None}}, {}, "order.customer.phone"),
        ({}, {"coupon": None}, "plan.steps.4 (come_back_coupon)"),
    ],
)
async def test_bad_input_is_rejected_and_starts_nothing(
    time_skipping_env: WorkflowEnvironment,
    order_changes: dict[str, Any],
    settings_changes: dict[str, Any],
    field: str,
) -> None:
    client = time_skipping_env.client
    order = builders.order(**order_changes)
    with pytest.raises(InvalidJourney) as exc:
        await start_journey(
            client, order, builders.settings(**settings_changes), now=builders.VALIDATED_AT
        )
    assert [line.split(":")[0] for line in exc.value.problems] == [field]
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle("post-purchase:loja-1:PED-1").describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_a_first_send_delay_postpones_the_first_message_into_the_window(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    env = time_skipping_env
    delivered = await advance_to(env, "10:00")
    plan = {
        "steps": [
            {"id": "thanks", "template": "thanks"},
            {"id": "questions", "template": "delivery_questions", "wait": "P2D"},
        ]
    }
    checked = validate_journey(builders.order(delivered), builders.settings(), plan, now=delivered)
    delayed = checked.journey.model_copy(update={"first_send_delay": timedelta(hours=11)})
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await report_checked(
            env.client, CheckedEvent(delayed, checked.event), task_queue=task_queue
        )
        progress = await started.handle.result()

    # 10:00 + 1 day + 11 hours is 21:00, after closing: the next day's 09:00. The next
    # step counts its wait from there.
    first = local_midnight(delivered, SP, days=2) + timedelta(hours=9)
    assert_sent_on_time(progress.steps, [first, first + timedelta(days=2)])


async def test_a_journey_at_every_bound_the_edge_accepts_runs_to_its_end(
    time_skipping_env: WorkflowEnvironment, outbox_activities: JourneyActivities
) -> None:
    """The longest plan, the longest waits, link lifetime, reminder delay, grace and
    wait limit, a delivery reported almost a year late and a promise a year ahead: the
    journey computes every moment and ends, five years of journey time later."""
    env = time_skipping_env
    reported = await advance_to(env, "10:00")
    settings = builders.settings(
        wait_after_delivery="P2D",
        feedback_link_ttl="P365D",
        feedback_reminder_after="P30D",
        delivery_grace="P30D",
        delivery_wait_limit="P365D",
    )
    steps: list[dict[str, Any]] = [{"id": "thanks", "template": "thanks"}]
    steps += [
        {"id": f"questions_{n}", "template": "delivery_questions", "wait": "P90D"}
        for n in range(1, 19)
    ]
    steps.append(
        {
            "id": "feedback_request",
            "kind": "feedback_request",
            "purpose": "feedback",
            "template": "feedback_request",
            "wait": "P90D",
        }
    )
    order = builders.order(
        reported - timedelta(days=364),
        promised_delivery_by=(reported + timedelta(days=365)).isoformat(),
    )
    async with running_worker(env.client, outbox_activities) as task_queue:
        started = await start_journey(
            env.client, order, settings, {"steps": steps}, task_queue=task_queue, now=reported
        )
        progress = await started.handle.result()

    assert progress.status is JourneyStatus.COMPLETED
    sent = [s.step_id for s in progress.steps if s.status is StepStatus.SENT]
    assert sent == [step["id"] for step in steps] + ["feedback_reminder"]
    request, reminder = progress.steps[-2], progress.steps[-1]
    assert request.scheduled_for - progress.steps[0].scheduled_for == timedelta(days=90 * 19)
    assert reminder.scheduled_for == request.scheduled_for + timedelta(days=30)

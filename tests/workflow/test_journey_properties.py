"""Whatever the store reports, in whatever order and from whatever local moment: no
message twice, nothing after an opt-out, nothing promotional after a return, refund or
cancellation, every customer message inside the send window, and the journey always
ends."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from activities import WorkerConfig, build_activities
from models import JourneyStatus, StepPurpose, StepStatus, default_plan
from models.stages import STAGE_STEPS
from starter import FeedbackRejected, report_event, submit_feedback
from tests import builders
from tests.clock import MONDAY, SATURDAY, SUNDAY, TUESDAY, WEDNESDAY, advance_to
from tests.conftest import FEEDBACK_SECRET, binary
from tests.journeys import outbox_lines, running_worker
from tests.protection import converter

EVENTS = ["placed", "shipped", "delivered", "returned", "refunded", "cancelled", "opted_out"]
ACTIONS = [*EVENTS, "feedback", "repeat"]
PROMOTIONAL = {
    s.id for s in [*default_plan().steps, *STAGE_STEPS] if s.purpose is StepPurpose.PROMOTIONAL
}
SP = ZoneInfo("America/Sao_Paulo")

# The local moment the first action happens at: any weekday, hour and minute.
start_moment = st.tuples(
    st.integers(min_value=MONDAY, max_value=SUNDAY),
    st.integers(min_value=0, max_value=23),
    st.integers(min_value=0, max_value=59),
)
story = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        st.integers(min_value=0, max_value=120),  # hours since the previous action
        st.integers(min_value=1, max_value=5),  # the rating, for feedback
    ),
    min_size=1,
    max_size=8,
)


async def play(
    start: tuple[int, int, int], actions: list[tuple[str, int, int]], workdir: Path
) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter(), test_server_existing_path=binary("temporal-test-server")
    )
    weekday, hour, minute = start
    await advance_to(env, time(hour, minute), weekday=weekday)
    outbox = workdir / "outbox.jsonl"
    activities = build_activities(WorkerConfig(feedback_secret=FEEDBACK_SECRET, outbox_path=outbox))
    order, store = builders.placed_order(), builders.settings()
    first_handle = None
    opted_out_at: datetime | None = None
    promotion_ended_at: datetime | None = None
    try:
        async with running_worker(env.client, activities) as task_queue:
            previous: dict[str, object] | None = None
            for index, (action, hours, rating) in enumerate(actions):
                await env.sleep(timedelta(hours=hours))
                now = await env.get_current_time()
                if action == "feedback" and first_handle is not None:
                    # Rejections are the validator's business, not these rules'.
                    with contextlib.suppress(FeedbackRejected):
                        await submit_feedback(env.client, "loja-1", "PED-1", rating)
                    continue
                if action == "repeat" and previous is not None:
                    event = previous
                else:
                    kind = action if action in EVENTS else "placed"
                    event = builders.event(kind, now, event_id=f"evt-{index}")
                result = await report_event(
                    env.client, order, event, store, task_queue=task_queue, now=now
                )
                previous = event
                if result.started:
                    first_handle = result.handle
                if result.accepted and event["type"] == "opted_out":
                    opted_out_at = opted_out_at or now
                if result.accepted and event["type"] in {"returned", "refunded", "cancelled"}:
                    promotion_ended_at = promotion_ended_at or now
            assert first_handle is not None
            # The journey always ends: every wait has a limit.
            progress = await asyncio.wait_for(first_handle.result(), timeout=60)
    finally:
        await activities.aclose()
        await env.shutdown()

    assert progress.status in {JourneyStatus.COMPLETED, JourneyStatus.STOPPED}
    keys = [line["idempotency_key"] for line in outbox_lines(outbox)]
    assert len(keys) == len(set(keys)), "a message was sent twice"
    sent = [s for s in progress.steps if s.status is StepStatus.SENT]
    assert [s.message_id for s in sent if not s.step_id.startswith("alert_")] == [
        line["id"] for line in outbox_lines(outbox)
    ]
    for step in sent:
        if step.step_id.startswith("alert_"):
            continue  # alerts to the store go at any hour
        local = step.scheduled_for.astimezone(SP).time()
        assert time(9) <= local < time(20), f"{step.step_id} due at {local}"
        assert step.sent_at is not None and step.sent_at - step.scheduled_for < timedelta(minutes=1)
        if opted_out_at is not None:
            assert step.scheduled_for < opted_out_at, f"{step.step_id} after the opt-out"
        if promotion_ended_at is not None and step.step_id in PROMOTIONAL:
            assert step.scheduled_for < promotion_ended_at, f"{step.step_id} after a return"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(start=start_moment, actions=story)
# The edges of the send window and of the day, whatever the draws above explore.
@example(start=(TUESDAY, 0, 30), actions=[("delivered", 0, 1)])
@example(start=(WEDNESDAY, 19, 59), actions=[("placed", 0, 1), ("delivered", 14, 1)])
@example(start=(SATURDAY, 8, 59), actions=[("delivered", 0, 1), ("feedback", 30, 2)])
@example(start=(SUNDAY, 23, 30), actions=[("shipped", 0, 1), ("delivered", 1, 1)])
def test_any_sequence_of_events_keeps_the_journey_rules(
    start: tuple[int, int, int], actions: list[tuple[str, int, int]]
) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(play(start, actions, Path(workdir)))

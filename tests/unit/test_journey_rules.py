"""The journey's rules in plain Python, no server: one test per stop rule and timing rule
of the journey (docs/journey-authors.md), driven through `JourneyState` with a clock the
test moves. The workflow tests show the same rules hold through Temporal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journey.clock import JourneyClock
from journey.state import JourneyState
from models import JourneyPlan, StepOutcome, StepStatus, default_plan
from models.errors import Refusal, SendErrorType
from models.events import FeedbackSubmission, OrderEvent, OrderEventType
from models.journey import JourneyStage, OrderJourneyInput
from models.order import Order
from models.settings import JourneySettings
from tests import builders

SP = ZoneInfo("America/Sao_Paulo")
# Tuesday 10 March 2026, 10:00 in São Paulo: when each journey here starts.
START = datetime(2026, 3, 10, 10, 0, tzinfo=SP)


class Clock:
    """Real time that the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def journey(
    plan: Mapping[str, Any] | None = None,
    speedup: int = 1,
    order: Mapping[str, Any] | None = None,
    **settings: object,
) -> tuple[JourneyState, Clock]:
    """A journey whose run started at START, and the clock that moves it."""
    clock = Clock(START)
    journey_input = OrderJourneyInput(
        order=Order.model_validate(order or builders.placed_order()),
        settings=JourneySettings.model_validate(builders.settings(**settings)),
        plan=JourneyPlan.model_validate(plan) if plan else default_plan(),
        speedup=speedup,
    )
    started = JourneyClock(START, speedup, clock)
    return JourneyState(journey_input, "post-purchase:loja-1:PED-1", started), clock


def event(kind: str, at: datetime, event_id: str | None = None, **fields: object) -> OrderEvent:
    return OrderEvent.model_validate(builders.event(kind, at, event_id, **fields))


def apply(state: JourneyState, *events: OrderEvent) -> None:
    for each in events:
        state.receive(each)
    state.absorb_events()
    state.watch_delivery()


def run_due(state: JourneyState, clock: Clock, until: datetime) -> list[str]:
    """Act on everything due up to `until` as the workflow would, every send accepted;
    the names of what went out, in order."""
    sent: list[str] = []
    while (action := state.next_action()) is not None and action.due <= until:
        clock.at = max(clock.at, action.due)
        state.take(action)
        if action.alert is not None:
            state.record(state.planned_outcome(action))
            sent.append(action.name)
            continue
        step = state.step_to_send(action)
        if step is not None:
            outcome = state.planned_outcome(action).model_copy(update={"sent_at": clock.at})
            state.after_send(action, outcome)
            sent.append(step.id)
    return sent


def skipped(state: JourneyState) -> dict[str, str | None]:
    return {s.step_id: s.reason for s in state.progress.steps if s.status is StepStatus.SKIPPED}


def due(state: JourneyState) -> dict[str, datetime]:
    return {a.name: a.due for a in state.agenda}


# --- timing rules -------------------------------------------------------------------------


def test_the_first_message_goes_the_wait_after_delivery_in_the_send_window() -> None:
    state, _ = journey()
    apply(state, event("delivered", START))
    assert due(state)["thanks"] == START + timedelta(days=1)


def test_a_first_message_outside_the_window_moves_to_its_next_opening() -> None:
    state, clock = journey()
    late_evening = START.replace(hour=23)
    clock.at = late_evening
    apply(state, event("delivered", late_evening))
    # A day after 23:00 is 23:00: the morning after, 09:00, 34 hours after delivery.
    assert due(state)["thanks"] == datetime(2026, 3, 12, 9, 0, tzinfo=SP)


def test_the_first_message_never_goes_later_than_two_days_after_delivery() -> None:
    state, clock = journey(wait_after_delivery="P2D")
    late_evening = START.replace(hour=23)
    clock.at = late_evening
    apply(state, event("delivered", late_evening))
    first = due(state)["thanks"]
    assert first - late_evening <= timedelta(days=2)
    assert first == datetime(2026, 3, 12, 9, 0, tzinfo=SP)


def test_each_later_step_waits_after_the_previous_one_was_due_then_into_the_window() -> None:
    plan = {
        "steps": [
            {"id": "thanks", "template": "thanks"},
            {"id": "questions", "template": "delivery_questions", "wait": "P1DT10H"},
        ]
    }
    state, _ = journey(plan)
    apply(state, event("delivered", START))
    # thanks Wednesday 10:00; 1 day 10 hours later is Thursday 20:00, at closing: Friday 09:00.
    assert due(state) == {
        "thanks": datetime(2026, 3, 11, 10, 0, tzinfo=SP),
        "questions": datetime(2026, 3, 13, 9, 0, tzinfo=SP),
    }


def test_a_delivery_reported_late_never_gets_a_message_in_the_past() -> None:
    state, _ = journey()
    apply(state, event("delivered", START - timedelta(days=5)))
    assert START <= due(state)["thanks"] < START + timedelta(minutes=1)


def test_a_send_woken_long_after_its_due_time_waits_for_the_window_to_open_again() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    thanks = state.next_action()
    assert thanks is not None and thanks.name == "thanks"
    clock.at = datetime(2026, 3, 11, 22, 30, tzinfo=SP)  # an outage until after closing
    state.take(thanks)
    assert state.step_to_send(thanks) is None
    assert due(state)["thanks"] == datetime(2026, 3, 12, 9, 0, tzinfo=SP)
    assert skipped(state) == {}


def test_a_send_a_minute_late_still_goes_even_after_closing_time() -> None:
    state, clock = journey(send_window={"start": "09:00", "end": "10:00:30"})
    apply(state, event("delivered", START))
    thanks = state.next_action()
    assert thanks is not None
    clock.at = thanks.due + timedelta(seconds=45)  # timer latency, past the 10:00:30 close
    state.take(thanks)
    assert state.step_to_send(thanks) is not None


def test_store_alerts_go_at_any_hour() -> None:
    state, clock = journey(delivery_grace="PT0S")
    night = START.replace(hour=2)
    clock.at = night
    promised = night - timedelta(hours=1)
    apply(
        state,
        event("placed", night),
        event(
            "shipped",
            night,
            shipment={
                "carrier": "Correios",
                "tracking_code": "BR1",
                "tracking_url": "https://r.example/BR1",
                "promised_by": promised.isoformat(),
            },
        ),
    )
    alert = next(a for a in state.agenda if a.alert is not None)
    assert alert.due == night  # 02:00: the store hears of it now
    assert due(state)["delivery_apology"].hour == 9  # the customer in the morning


# --- stop rules ---------------------------------------------------------------------------


def test_a_return_skips_promotional_steps_and_keeps_service_and_feedback() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    sent = run_due(state, clock, START + timedelta(days=2))
    apply(state, event("returned", clock.at))
    sent += run_due(state, clock, START + timedelta(days=60))
    assert sent == ["thanks", "feedback_request", "feedback_reminder", "delivery_questions"]
    assert skipped(state) == {
        "photo_invite": "promotional, and the order returned",
        "come_back_coupon": "promotional, and the order returned",
    }


def test_an_opt_out_stops_every_further_message_at_once_but_alerts_still_go() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    run_due(state, clock, START + timedelta(days=2))
    state.take_feedback(FeedbackSubmission(rating=1, comment="quebrado"))  # low: an alert
    apply(state, event("opted_out", clock.at, reason="pediu para parar"))
    assert {a.name for a in state.agenda} == {"alert_low_rating"}
    assert skipped(state) == {
        "feedback_request": "feedback already received",
        "photo_invite": "customer opted out",
        "delivery_questions": "customer opted out",
        "come_back_coupon": "customer opted out",
        "feedback_thanks": "customer opted out",
        "support_followup": "customer opted out",
    }
    assert run_due(state, clock, START + timedelta(days=60)) == ["alert_low_rating"]
    assert state.finished() and state.progress.stop_reason == "opted out: pediu para parar"


def test_feedback_skips_the_request_and_its_reminder_and_never_withholds_reviews() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    run_due(state, clock, START + timedelta(days=2))
    state.take_feedback(FeedbackSubmission(rating=2, comment="Chegou amassado"))
    sent = run_due(state, clock, START + timedelta(days=60))
    assert "feedback_request" in skipped(state) and "feedback_reminder" not in sent
    assert {"feedback_thanks", "support_followup", "alert_low_rating"} <= set(sent)
    assert {"photo_invite", "come_back_coupon"} <= set(sent)  # no review gating


def test_feedback_after_the_request_went_out_skips_its_reminder() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    sent = run_due(state, clock, START + timedelta(days=4, hours=2))
    assert sent == ["thanks", "feedback_request"] and "feedback_reminder" in due(state)
    state.take_feedback(FeedbackSubmission(rating=5))
    sent = run_due(state, clock, START + timedelta(days=60))
    assert "feedback_reminder" not in sent
    assert skipped(state)["feedback_reminder"] == "feedback already received"


def test_runs_from_before_the_rule_skip_an_answered_request_only_when_it_is_due() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    run_due(state, clock, START + timedelta(days=2))
    state.take_feedback(FeedbackSubmission(rating=5), drop_answered_requests=False)
    assert "feedback_request" in due(state) and "feedback_request" not in skipped(state)
    run_due(state, clock, START + timedelta(days=60))
    assert skipped(state)["feedback_request"] == "feedback already received"


def test_a_refused_recipient_stops_the_journey_and_a_refused_message_does_not() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    thanks = state.next_action()
    assert thanks is not None
    clock.at = thanks.due
    state.take(thanks)
    rejected = state.planned_outcome(thanks).model_copy(
        update={"status": StepStatus.FAILED, "error_type": SendErrorType.MESSAGE_REJECTED}
    )
    state.after_send(thanks, rejected)
    assert not state.facts.stopped and "feedback_request" in due(state)

    request = state.next_action()
    assert request is not None
    clock.at = request.due
    state.take(request)
    refused = state.planned_outcome(request).model_copy(
        update={"status": StepStatus.FAILED, "error_type": SendErrorType.RECIPIENT_REJECTED}
    )
    state.after_send(request, refused)
    assert state.agenda == [] and state.finished()
    assert state.progress.stop_reason is not None
    assert set(skipped(state).values()) == {"journey stopped: RecipientRejected"}


def test_without_a_delivery_the_journey_ends_its_wait_limit_after_the_last_event() -> None:
    state, clock = journey(delivery_wait_limit="P60D")
    apply(state, event("placed", START))
    run_due(state, clock, START + timedelta(days=1))
    wake, why = state.next_wake(state.next_action())
    assert (wake, why) == (
        START + timedelta(days=60),
        "end the journey if delivery is never reported",
    )
    clock.at = START + timedelta(days=60) - timedelta(seconds=1)
    assert not state.finished()
    clock.at = START + timedelta(days=60)
    assert state.finished()


@pytest.mark.parametrize("kind", ["cancelled", "refunded", "returned"])
def test_cancelled_refunded_or_returned_before_delivery_ends_at_once(kind: str) -> None:
    state, _ = journey()
    apply(state, event("placed", START), event("shipped", START))
    apply(state, event(kind, START))
    assert set(skipped(state).values()) == {f"order {kind}"}
    assert state.finished()


def test_a_delivery_before_its_tracking_message_skips_the_tracking_message() -> None:
    state, _ = journey()
    apply(state, event("placed", START), event("delivered", START), event("shipped", START))
    assert skipped(state)["shipping_update"] == "already delivered"
    assert state.progress.stage is JourneyStage.DELIVERED


def test_a_late_delivery_alerts_the_store_and_apologises_once() -> None:
    promised = START + timedelta(days=1)
    state, clock = journey(order=builders.placed_order(promised_delivery_by=promised.isoformat()))
    apply(state, event("placed", START))
    clock.at = START + timedelta(days=3, minutes=1)  # past the promise and 2 days of grace
    state.watch_delivery()
    state.watch_delivery()
    names = [a.name for a in state.agenda]
    assert names.count("alert_late_delivery") == 1 and names.count("delivery_apology") == 1
    assert state.progress.stage is JourneyStage.DELIVERY_LATE


def test_a_repeated_event_is_applied_once() -> None:
    state, _ = journey()
    apply(state, event("delivered", START, "evt-9"), event("delivered", START, "evt-9"))
    apply(state, event("delivered", START, "evt-10"))
    assert state.progress.events == ["delivered:evt-9"]
    assert state.progress.ignored_events == [
        "delivered:evt-9 (repeat)",
        "delivered:evt-10 (already applied)",
    ]


# --- the journey's refusals -------------------------------------------------------------


def test_feedback_is_refused_with_a_reason_the_caller_can_match() -> None:
    state, _ = journey()
    assert state.refuse_feedback(FeedbackSubmission(rating=4)) == (
        Refusal.NOT_DELIVERED,
        "the order has not been delivered yet",
    )
    state.receive(event("delivered", START))  # waiting in the inbox counts
    assert state.refuse_feedback(FeedbackSubmission(rating=4)) is None
    assert state.refuse_feedback(FeedbackSubmission(rating=9)) == (
        Refusal.INVALID_RATING,
        "rating must be 1 to 5, got 9",
    )
    assert state.refuse_feedback(FeedbackSubmission(rating=4, comment="a\x00b")) == (
        Refusal.INVALID_COMMENT,
        "comment contains a control character",
    )
    state.take_feedback(FeedbackSubmission(rating=4))
    assert state.refuse_feedback(FeedbackSubmission(rating=5))[0] is Refusal.FEEDBACK_ALREADY_GIVEN  # type: ignore[index]


def test_journey_time_runs_faster_under_a_speedup() -> None:
    state, clock = journey(speedup=86_400)
    clock.at = START + timedelta(seconds=2)
    assert state.clock.now() == START + timedelta(days=2)
    assert state.clock.real(timedelta(days=1)) == timedelta(seconds=1)


def test_records_are_reported_to_the_hook() -> None:
    recorded: list[StepOutcome] = []
    clock = Clock(START)
    journey_input = OrderJourneyInput(
        order=builders.placed_order(),
        settings=JourneySettings.model_validate(builders.settings()),
    )
    state = JourneyState(journey_input, "j", JourneyClock(START, 1, clock), recorded.append)
    apply(state, event("placed", START), event("opted_out", START))
    assert [(o.step_id, o.status) for o in recorded] == [("order_confirmation", StepStatus.SKIPPED)]
    assert OrderEventType.OPTED_OUT in {
        OrderEventType(e.split(":")[0]) for e in state.progress.events
    }

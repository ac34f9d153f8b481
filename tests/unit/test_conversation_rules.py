"""What a journey makes of WhatsApp's statuses and the customer's messages, in plain
Python (journey/conversation.py), driven through `JourneyState` with a clock the test
moves, as tests/unit/test_journey_rules.py does for the other rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from journey.conversation import (
    LISTEN,
    MAX_REPLIES,
    SEEN_LIMIT,
    rating_digit,
    take_reply,
    take_status,
)
from journey.state import JourneyState
from models import Channel, Receipt, StepStatus
from models.conversation import (
    CustomerReply,
    DeliveryStatus,
    FallbackScope,
    ReplyKind,
    ReplyUse,
    StatusUpdate,
)
from models.journey import AlertKind
from tests.unit.test_journey_rules import START, Clock, apply, event, journey

DAY = timedelta(days=1)


def send_due(state: JourneyState, clock: Clock, until: datetime) -> list[str]:
    """Act on what is due up to `until` as the workflow would, every send accepted by
    the channel its route names first; WhatsApp messages get the wamid `wamid.<step>`.
    The names of what went out, with the channel."""
    sent: list[str] = []
    while (action := state.next_action()) is not None and action.due <= until:
        clock.at = max(clock.at, action.due)
        state.take(action)
        if action.alert is not None:
            state.record(state.planned_outcome(action))
            sent.append(action.name)
            continue
        step = state.step_to_send(action)
        if step is None:
            continue
        request = state.message_request(step, action.due, action)
        channel = Channel.EMAIL if Channel.WHATSAPP in request.unreachable else Channel.WHATSAPP
        if request.reply_to is not None:
            channel = Channel.WHATSAPP
        receipt = Receipt(
            channel=channel,
            adapter="test",
            message_id=f"wamid.{step.id}" if channel is Channel.WHATSAPP else f"mail.{step.id}",
            idempotency_key=request.idempotency_key,
        )
        state.after_send(action, state.sent(state.planned_outcome(action), receipt))
        sent.append(f"{step.id} by {channel}")
    return sent


def status(
    step: str, kind: DeliveryStatus, at: datetime, code: int | None = None, **fields: object
) -> StatusUpdate:
    scope = {131026: FallbackScope.CHANNEL, 131047: FallbackScope.MESSAGE}.get(code or 0)
    values: dict[str, object] = {
        "status_id": f"wamid.{step}:{kind}",
        "message_id": f"wamid.{step}",
        "step_id": step,
        "template": step,
        "status": kind,
        "at": at,
    }
    if code is not None:
        values |= {
            "error_code": code,
            "error": f"{code} Message undeliverable",
            "error_type": "RecipientUnreachable" if code == 131026 else "TemplateRequired",
            "fallback": scope or FallbackScope.NONE,
        }
    return StatusUpdate.model_validate(values | fields)


def reply(message_id: str, text: str | None, at: datetime, **fields: object) -> CustomerReply:
    values: dict[str, object] = {
        "message_id": message_id,
        "received_at": at,
        "kind": ReplyKind.TEXT,
        "text": text,
        "taker": True,
    }
    return CustomerReply.model_validate(values | fields)


def never() -> bool:
    raise AssertionError("asked only when a message becomes the rating")


def delivered_and_thanked(**settings: Any) -> tuple[JourneyState, Clock]:
    """Delivered at START; the thanks went by WhatsApp a day later, 10:00."""
    state, clock = journey(**settings)
    apply(state, event("delivered", START))
    assert send_due(state, clock, START + DAY) == ["thanks by whatsapp"]
    return state, clock


def outcome_of(state: JourneyState, step_id: str, channel: Channel = Channel.WHATSAPP):
    return next(s for s in state.progress.steps if s.step_id == step_id and s.channel is channel)


# --- statuses -----------------------------------------------------------------------------


def test_delivered_then_read_are_recorded_on_the_step_with_their_times() -> None:
    state, _ = delivered_and_thanked()
    delivered_at, read_at = START + DAY + timedelta(minutes=1), START + DAY + timedelta(hours=2)
    assert not take_status(state, status("thanks", DeliveryStatus.SENT, START + DAY))
    assert not take_status(state, status("thanks", DeliveryStatus.DELIVERED, delivered_at))
    assert not take_status(state, status("thanks", DeliveryStatus.READ, read_at))
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None
    assert (delivery.status, delivery.delivered_at, delivery.read_at) == (
        DeliveryStatus.READ,
        delivered_at,
        read_at,
    )
    details = state.details()
    assert "delivered Wed 11 Mar 10:01 America/Sao_Paulo" in details
    assert "read Wed 11 Mar 12:00 America/Sao_Paulo" in details


def test_statuses_out_of_order_keep_each_time_and_the_furthest_status() -> None:
    state, _ = delivered_and_thanked()
    read_at = START + DAY + timedelta(minutes=5)
    take_status(state, status("thanks", DeliveryStatus.READ, read_at))
    take_status(state, status("thanks", DeliveryStatus.DELIVERED, read_at - timedelta(minutes=1)))
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None and delivery.status is DeliveryStatus.READ
    assert delivery.delivered_at == read_at - timedelta(minutes=1)


def test_a_status_that_comes_before_the_sends_answer_is_applied_when_it_is_recorded() -> None:
    state, clock = journey()
    apply(state, event("delivered", START))
    delivered_at = START + DAY + timedelta(seconds=2)
    assert not take_status(state, status("thanks", DeliveryStatus.DELIVERED, delivered_at))
    send_due(state, clock, START + DAY)
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None and delivery.delivered_at == delivered_at


def test_a_status_repeated_by_a_retry_is_applied_once() -> None:
    state, _ = delivered_and_thanked()
    first = status("thanks", DeliveryStatus.DELIVERED, START + DAY)
    take_status(state, first)
    again = first.model_copy(update={"at": START + 2 * DAY})  # a retry is never newer news
    take_status(state, again)
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None and delivery.delivered_at == START + DAY


def test_the_memory_of_applied_ids_is_bounded() -> None:
    state, _ = delivered_and_thanked()
    for n in range(SEEN_LIMIT + 50):
        take_status(state, status("thanks", DeliveryStatus.SENT, START, status_id=f"x:{n}"))
    assert len(state.conversation.seen) == SEEN_LIMIT
    assert (
        "x:0" not in state.conversation.seen and f"x:{SEEN_LIMIT + 49}" in state.conversation.seen
    )


# --- a failure after the send -----------------------------------------------------------


def test_undeliverable_sends_the_step_again_by_email_once_and_later_steps_skip_whatsapp() -> None:
    state, clock = delivered_and_thanked(fallback_channels=["email"])
    failed = status("thanks", DeliveryStatus.FAILED, START + DAY, 131026)
    assert take_status(state, failed)
    # Meta reports the failure again, under another retry: nothing more is planned.
    assert not take_status(state, failed)
    assert not take_status(state, failed.model_copy(update={"status_id": "other:failed"}))
    sent = send_due(state, clock, START + 30 * DAY)
    assert sent[0] == "thanks by email"
    assert sent.count("thanks by email") == 1
    assert all(s.endswith("by email") for s in sent if " by " in s)
    original = outcome_of(state, "thanks")
    assert original.delivery is not None
    assert original.delivery.error == "131026 Message undeliverable"
    assert original.delivery.fell_back
    again = outcome_of(state, "thanks", Channel.EMAIL)
    assert again.route_reason == "whatsapp failed after it was sent (131026 Message undeliverable)"
    keys = state.message_request(state.journey.plan.steps[0], START, None).idempotency_key
    assert keys == "post-purchase:loja-1:PED-1:thanks"


def test_the_fallback_send_takes_the_fallback_key_and_skips_whatsapp() -> None:
    state, _ = delivered_and_thanked(fallback_channels=["email"])
    take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131026))
    action = state.next_action()
    assert action is not None and action.fallback is not None
    step = state.step_to_send(action)
    assert step is not None
    request = state.message_request(step, action.due, action)
    assert request.idempotency_key == "post-purchase:loja-1:PED-1:thanks:email"
    assert Channel.WHATSAPP in request.unreachable


def test_a_message_whatsapp_cannot_carry_goes_by_email_but_later_steps_try_whatsapp() -> None:
    state, clock = delivered_and_thanked(fallback_channels=["email"])
    assert take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131047))
    sent = send_due(state, clock, START + 5 * DAY)
    assert sent == ["thanks by email", "feedback_request by whatsapp"]


def test_no_fallback_after_an_opt_out() -> None:
    state, clock = delivered_and_thanked(fallback_channels=["email"])
    apply(state, event("opted_out", START + DAY))
    assert not take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131026))
    assert send_due(state, clock, START + 30 * DAY) == []
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None and delivery.status is DeliveryStatus.FAILED
    assert not delivery.fell_back


def test_no_fallback_once_the_journey_has_ended() -> None:
    state, _ = delivered_and_thanked(fallback_channels=["email"])
    state.close()
    assert not take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131026))
    assert all(a.fallback is None for a in state.agenda)
    assert outcome_of(state, "thanks").delivery is None


def test_a_failure_that_says_nothing_of_the_customer_is_recorded_and_the_journey_goes_on() -> None:
    state, clock = delivered_and_thanked(fallback_channels=["email"])
    take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131000))
    assert send_due(state, clock, START + 5 * DAY) == ["feedback_request by whatsapp"]
    delivery = outcome_of(state, "thanks").delivery
    assert delivery is not None and delivery.error_code == 131000 and not delivery.fell_back


def test_undeliverable_without_another_channel_stops_the_journey_as_a_refusal_would() -> None:
    state, clock = delivered_and_thanked()
    assert take_status(state, status("thanks", DeliveryStatus.FAILED, START + DAY, 131026))
    assert send_due(state, clock, START + 30 * DAY) == []
    assert state.finished()
    assert state.progress.stop_reason is not None
    assert state.progress.stop_reason.startswith("RecipientUnreachable: WhatsApp failed after")
    assert state.facts.stop_kind == "RecipientUnreachable"


# --- the customer's messages ------------------------------------------------------------


def test_a_free_text_reply_is_the_answer_to_how_was_it_and_goes_to_the_store() -> None:
    state, _ = delivered_and_thanked()
    at = START + DAY + timedelta(hours=1)
    assert take_reply(state, reply("wamid.in1", "chegou quebrado", at), never)
    [recorded] = state.progress.replies
    assert (recorded.answers, recorded.taken_as, recorded.text) == (
        "thanks",
        ReplyUse.ANSWER,
        "chegou quebrado",
    )
    assert outcome_of(state, "thanks").answered_at == at
    [alert] = [a for a in state.agenda if a.alert is not None]
    assert alert.alert is AlertKind.CUSTOMER_REPLY and alert.reply is not None
    request = state.alert_request(alert)
    assert request.idempotency_key == "post-purchase:loja-1:PED-1:alert_customer_reply:wamid.in1"
    assert request.reply is not None and request.reply.text == "chegou quebrado"
    # Operators read that the customer answered, never what: the text is customer data.
    assert "chegou quebrado" not in state.details()
    assert "reply to `thanks`" in state.details()


def test_a_message_repeated_by_a_retry_is_recorded_and_forwarded_once() -> None:
    state, _ = delivered_and_thanked()
    message = reply("wamid.in1", "chegou quebrado", START + DAY)
    assert take_reply(state, message, never)
    assert not take_reply(state, message, never)
    assert len(state.progress.replies) == 1
    assert len([a for a in state.agenda if a.alert is not None]) == 1


def test_a_reply_quoting_another_journeys_message_is_left_to_it() -> None:
    state, _ = delivered_and_thanked()
    quoting = reply(
        "wamid.in1", "e o outro pedido?", START + DAY, in_reply_to="wamid.other", taker=False
    )
    assert not take_reply(state, quoting, never)
    assert state.progress.replies == []
    # The newest journey takes a quote it does not know rather than lose it.
    assert take_reply(
        state, quoting.model_copy(update={"message_id": "wamid.in2", "taker": True}), never
    )
    assert state.progress.replies[0].answers is None


def test_a_digit_answering_the_feedback_request_is_the_rating() -> None:
    state, clock = delivered_and_thanked()
    send_due(state, clock, START + 4 * DAY)  # the feedback request, three days later
    at = START + 4 * DAY + timedelta(minutes=3)
    assert take_reply(state, reply("wamid.in1", " 2 ", at), lambda: True)
    feedback = state.facts.feedback
    assert feedback is not None and feedback.rating == 2
    assert state.progress.replies[0].taken_as is ReplyUse.RATING
    # A low rating: the store is alerted and support follows, as for the rating page.
    assert {a.name for a in state.agenda} >= {
        "alert_low_rating",
        "support_followup",
        "feedback_thanks",
    }
    assert "feedback_reminder" not in {a.name for a in state.agenda}


def test_a_digit_answering_how_was_it_is_a_reply_not_a_rating() -> None:
    state, _ = delivered_and_thanked()
    assert take_reply(state, reply("wamid.in1", "5", START + DAY), never)
    assert state.facts.feedback is None
    assert state.progress.replies[0].taken_as is ReplyUse.ANSWER


def test_a_digit_after_a_rating_is_a_reply() -> None:
    state, clock = delivered_and_thanked()
    send_due(state, clock, START + 4 * DAY)
    take_reply(state, reply("wamid.in1", "4", START + 4 * DAY), lambda: True)
    assert take_reply(state, reply("wamid.in2", "1", START + 4 * DAY), never)
    assert state.facts.feedback is not None and state.facts.feedback.rating == 4
    assert state.progress.replies[1].taken_as is ReplyUse.ANSWER


def test_only_the_whole_message_as_one_digit_is_a_rating() -> None:
    assert [rating_digit(t) for t in ("4", " 4\n", "４", "0", "6", "45", "4!", "nota 4", None)] == [
        4,
        4,
        4,
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_replies_past_the_limit_are_counted_not_recorded() -> None:
    state, _ = delivered_and_thanked()
    for n in range(MAX_REPLIES + 3):
        take_reply(state, reply(f"wamid.in{n}", "oi", START + DAY), never)
    assert len(state.progress.replies) == MAX_REPLIES
    assert state.conversation.unrecorded == 3
    assert "3 more replies" in state.details()


# --- opting out by keyword --------------------------------------------------------------


def opt_out(message_id: str, at: datetime, taker: bool = True) -> CustomerReply:
    return reply(message_id, "Parar", at, kind=ReplyKind.OPT_OUT, keyword="PARAR", taker=taker)


def test_an_opt_out_keyword_stops_every_message_and_the_taker_confirms_once() -> None:
    state, clock = delivered_and_thanked()
    at = START + DAY + timedelta(hours=2)
    clock.at = at
    assert take_reply(state, opt_out("wamid.in1", at), never)
    state.absorb_events()
    assert state.progress.opted_out
    assert state.progress.steps[-1].reason == "customer opted out"
    # Parar again, in another message: already opted out, nothing more goes.
    assert not take_reply(state, opt_out("wamid.in2", at), never)
    assert send_due(state, clock, START + 60 * DAY) == ["opt_out_confirmation by whatsapp"]
    request_step = state.progress.steps[-1]
    assert request_step.step_id == "opt_out_confirmation" and request_step.status is StepStatus.SENT
    assert state.finished()
    assert state.progress.stop_reason == "opted out: asked on WhatsApp (PARAR)"
    assert [r.taken_as for r in state.progress.replies] == [
        ReplyUse.OPT_OUT,
        ReplyUse.ALREADY_OPTED_OUT,
    ]


def test_the_confirmation_answers_the_customers_message() -> None:
    state, _ = delivered_and_thanked()
    take_reply(state, opt_out("wamid.in1", START + DAY), never)
    state.absorb_events()
    action = state.next_action()
    assert action is not None and action.reply is not None
    step = state.step_to_send(action)
    assert step is not None
    request = state.message_request(step, action.due, action)
    assert request.reply_to == "wamid.in1"
    assert request.idempotency_key == "post-purchase:loja-1:PED-1:opt_out_confirmation"


def test_a_journey_that_is_not_the_taker_opts_out_without_confirming() -> None:
    state, clock = delivered_and_thanked()
    take_reply(state, opt_out("wamid.in1", START + DAY, taker=False), never)
    state.absorb_events()
    assert state.progress.opted_out
    assert send_due(state, clock, START + 60 * DAY) == []


def test_no_confirmation_outside_the_24_hour_window_the_customers_message_opened() -> None:
    state, clock = delivered_and_thanked()
    take_reply(state, opt_out("wamid.in1", START + DAY), never)
    state.absorb_events()
    clock.at = START + 2 * DAY + timedelta(minutes=1)  # a worker down for a day
    assert send_due(state, clock, clock.at) == []
    assert state.progress.steps[-1].reason == "outside WhatsApp's 24-hour customer service window"


# --- listening after the last message ---------------------------------------------------


def test_a_journey_that_hears_statuses_waits_a_day_after_its_last_whatsapp_message() -> None:
    state, clock = delivered_and_thanked()
    take_status(state, status("thanks", DeliveryStatus.DELIVERED, START + DAY))
    sent = send_due(state, clock, START + 60 * DAY)
    assert sent[-1] == "come_back_coupon by whatsapp"
    last = clock.at
    assert not state.finished()
    wake, why = state.next_wake(None)
    assert wake == last + LISTEN and "statuses and replies" in why
    clock.at = last + LISTEN
    assert state.finished()


def test_a_journey_that_never_heard_a_status_ends_with_its_plan() -> None:
    state, clock = delivered_and_thanked()
    send_due(state, clock, START + 60 * DAY)
    assert state.finished()

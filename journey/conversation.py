"""What a journey makes of what flows back from WhatsApp, as plain Python: the
delivery statuses of the messages it sent, and the customer's own messages.

- A status is recorded on the step whose message it is (`delivery` in the progress);
  a `failed` one whose code means WhatsApp cannot reach the customer, or cannot carry
  this message, sends the step again by the next channel, once, unless the journey
  has stopped (an opt-out, a refusal, a cancel) or ended.
- An opt-out keyword opts the customer out the way an `opted_out` event does; the
  journey Meta marked as the taker answers with one short confirmation, inside the
  24-hour window the customer's message opened.
- A single digit 1–5 answering the feedback request (or its reminder) is the rating,
  under the same rules as the feedback page's.
- Any other message is recorded as the answer to the message it replies to (the one it
  quotes, else the last one sent by WhatsApp) and forwarded to the store as an alert.

Meta retries a webhook it got no 200 for, so every status (by `{message id}:{status}`)
and every message (by its id) is applied once; the memory of ids is bounded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from journey.agenda import Action
from models import Channel, Receipt, Step, StepKind, StepOutcome, StepStatus
from models.channels import message_category, route
from models.conversation import (
    CustomerReply,
    Delivery,
    DeliveryStatus,
    FallbackScope,
    ReplyKind,
    ReplyUse,
    StatusUpdate,
)
from models.events import FeedbackSubmission, OrderEvent, OrderEventType
from models.journey import AlertKind
from models.sealed import Sealed
from models.stages import OPT_OUT_CONFIRMATION, STAGE_STEPS

if TYPE_CHECKING:
    from journey.state import JourneyState

SEEN_LIMIT = 256  # ids of statuses and messages applied, remembered against retries
WAITING_LIMIT = 20  # statuses that came before their send's answer was recorded
MAX_REPLIES = 50  # customer messages a journey records and forwards
# A journey that hears WhatsApp statuses stays open this long after its last WhatsApp
# message, so the statuses and replies of that message still reach it.
LISTEN = timedelta(days=1)
# WhatsApp's customer service window: a free-form answer may go this long after the
# customer's own message.
SERVICE_WINDOW = timedelta(hours=24)
_RANK = {DeliveryStatus.SENT: 0, DeliveryStatus.DELIVERED: 1, DeliveryStatus.READ: 2}


@dataclass
class Conversation:
    """What the journey remembers of its WhatsApp conversation, besides its progress."""

    seen: dict[str, None] = field(default_factory=dict)  # oldest first
    waiting: list[StatusUpdate] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (step id, wamid), in order
    fell_back: list[str] = field(default_factory=list)  # steps sent again after a failure
    heard: bool = False  # a status came: this journey's WhatsApp reports back
    last_whatsapp_at: datetime | None = None
    unrecorded: int = 0  # messages past MAX_REPLIES

    def first_time(self, key: str) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > SEEN_LIMIT:
            del self.seen[next(iter(self.seen))]
        return True


# --- statuses ---------------------------------------------------------------------------


def take_status(state: JourneyState, update: StatusUpdate) -> bool:
    """Record a status of a message this journey sent. True when the journey must act:
    a failure moved the message to the next channel, or stopped the journey."""
    talk = state.conversation
    if state.ended or not talk.first_time(update.status_id):
        return False
    talk.heard = True
    index = _sent_index(state, update.message_id)
    if index is None:
        # Meta may report before the send's answer is recorded; applied when it is.
        talk.waiting = [*talk.waiting, update][-WAITING_LIMIT:]
        return False
    return _apply(state, index, update)


def note_sent(state: JourneyState, step_id: str, receipt: Receipt) -> None:
    """A message went out: remember WhatsApp ones, which statuses and replies refer to."""
    if receipt.channel is Channel.WHATSAPP:
        talk = state.conversation
        talk.sent.append((step_id, receipt.message_id))
        talk.last_whatsapp_at = state.clock.now()


def apply_waiting(state: JourneyState, outcome: StepOutcome) -> bool:
    """A send was recorded: apply the statuses of its message that came first."""
    talk = state.conversation
    if outcome.status is not StepStatus.SENT or outcome.message_id is None:
        return False
    mine = [u for u in talk.waiting if u.message_id == outcome.message_id]
    if not mine:
        return False
    talk.waiting = [u for u in talk.waiting if u.message_id != outcome.message_id]
    index = len(state.progress.steps) - 1
    acted = False
    for update in mine:
        acted = _apply(state, index, update) or acted
    return acted


def _sent_index(state: JourneyState, message_id: str) -> int | None:
    for index in range(len(state.progress.steps) - 1, -1, -1):
        outcome = state.progress.steps[index]
        if outcome.status is StepStatus.SENT and outcome.message_id == message_id:
            return index
    return None


def _apply(state: JourneyState, index: int, update: StatusUpdate) -> bool:
    outcome = state.progress.steps[index]
    delivery = _delivery(outcome.delivery, update)
    acted = False
    if update.status is DeliveryStatus.FAILED and update.fallback is not FallbackScope.NONE:
        acted, fell_back = _fall_back(state, outcome, update)
        delivery = delivery.model_copy(update={"fell_back": fell_back or delivery.fell_back})
    state.progress.steps[index] = outcome.model_copy(update={"delivery": delivery})
    return acted


def _delivery(current: Delivery | None, update: StatusUpdate) -> Delivery:
    """Statuses may come out of order (a `read` without its `delivered`): each keeps its
    own time, and the status shown is the furthest, or `failed`."""
    delivery = current or Delivery(status=update.status)
    changes: dict[str, object] = {}
    if update.status is DeliveryStatus.DELIVERED:
        changes["delivered_at"] = delivery.delivered_at or update.at
    elif update.status is DeliveryStatus.READ:
        changes["read_at"] = delivery.read_at or update.at
    elif update.status is DeliveryStatus.FAILED:
        changes |= {"failed_at": update.at, "error_code": update.error_code, "error": update.error}
    if update.status is DeliveryStatus.FAILED or delivery.status is DeliveryStatus.FAILED:
        changes["status"] = DeliveryStatus.FAILED
    elif _RANK[update.status] > _RANK[delivery.status]:
        changes["status"] = update.status
    return delivery.model_copy(update=changes)


def _fall_back(
    state: JourneyState, outcome: StepOutcome, update: StatusUpdate
) -> tuple[bool, bool]:
    """Send the step again by the next channel, once: (the journey must act, it fell back).
    With no channel left for a customer WhatsApp cannot reach, the journey stops, as it
    does when the Cloud API refuses the send itself."""
    talk, facts = state.conversation, state.facts
    step = _step(state, outcome.step_id)
    if facts.stopped or step is None or step.id in talk.fell_back:
        return False, False
    if update.fallback is FallbackScope.CHANNEL and Channel.WHATSAPP not in state.unreachable:
        state.unreachable.append(Channel.WHATSAPP)
    channel = fallback_channel(state, step)
    if channel is None:
        if update.fallback is not FallbackScope.CHANNEL:
            return False, False
        error_type = update.error_type or "RecipientUnreachable"
        facts.stopped = f"{error_type}: WhatsApp failed after it was sent ({update.error})"
        facts.stop_kind = error_type
        state.skip_pending(None, f"journey stopped: {error_type}")
        return True, False
    talk.fell_back.append(step.id)
    why = f"whatsapp failed after it was sent; again by {channel}, in the send window"
    state.schedule(step, state.clock.now(), why, fallback=update)
    return True, True


def _step(state: JourneyState, step_id: str) -> Step | None:
    """The plan's or a stage's step of this id; None for alerts and answers."""
    steps = [*state.journey.plan.steps, *STAGE_STEPS]
    found = next((step for step in steps if step.id == step_id), None)
    return None if found is None or found.id == OPT_OUT_CONFIRMATION.id else found


def fallback_channel(state: JourneyState, step: Step) -> Channel | None:
    """The channel that carries `step` once WhatsApp cannot, if any."""
    settings = state.settings
    unreachable = [*state.unreachable, Channel.WHATSAPP]
    candidates = route(
        state.journey.order.customer, settings, message_category(step, settings), unreachable
    )
    return next((c.channel for c in candidates if c.usable), None)


def request_route(
    state: JourneyState, step: Step, action: Action, key: str, unreachable: list[Channel]
) -> tuple[str, list[Channel], str | None]:
    """The idempotency key, channels to skip and message answered of a send the
    conversation caused. A step sent again after WhatsApp failed skips WhatsApp and
    takes the fallback's key, `{key}:{channel}`, as a synchronous fallback would."""
    if action.fallback is not None:
        unreachable = [
            *unreachable,
            *([] if Channel.WHATSAPP in unreachable else [Channel.WHATSAPP]),
        ]
        channel = fallback_channel(state, step)
        return (f"{key}:{channel}" if channel else key), unreachable, None
    if action.reply is not None:
        return key, unreachable, action.reply.message_id
    return key, unreachable, None


def fallback_outcome(outcome: StepOutcome, update: StatusUpdate) -> StepOutcome:
    why = f"whatsapp failed after it was sent ({update.error})"
    reason = f"{why}; {outcome.route_reason}" if outcome.route_reason else why
    return outcome.model_copy(update={"route_reason": reason})


def listening_until(state: JourneyState) -> datetime | None:
    """Until when the journey waits for the statuses and replies of its last WhatsApp
    message once nothing else is planned; None when it need not."""
    talk = state.conversation
    if not talk.heard or talk.last_whatsapp_at is None or state.facts.stopped:
        return None
    until = talk.last_whatsapp_at + LISTEN
    return until if until > state.clock.now() else None


# --- the customer's messages -----------------------------------------------------------


def take_reply(
    state: JourneyState, reply: CustomerReply, drop_answered_requests: Callable[[], bool]
) -> bool:
    """Take a customer's message to the store; True when the journey must act on it.
    `drop_answered_requests`: asked only when the message becomes the rating."""
    talk = state.conversation
    if state.ended or not talk.first_time(f"message:{reply.message_id}"):
        return False
    answered = _answered_step(state, reply)
    if reply.kind is ReplyKind.OPT_OUT:
        return _opt_out(state, reply.model_copy(update={"answers": answered}))
    if answered is None and not reply.taker:
        return False  # it quotes a message of another of the customer's journeys
    reply = reply.model_copy(update={"answers": answered})
    rating = rating_digit(reply.text) if reply.kind is ReplyKind.TEXT else None
    step = _step(state, answered) if answered else None
    if rating is not None and step is not None and step.kind is StepKind.FEEDBACK_REQUEST:
        submission = FeedbackSubmission(rating=rating)
        if state.refuse_feedback(submission) is None:
            state.take_feedback(submission, drop_answered_requests=drop_answered_requests())
            _keep(state, reply, ReplyUse.RATING)
            return True
    if not _keep(state, reply, ReplyUse.ANSWER):
        return False
    state.schedule_alert(AlertKind.CUSTOMER_REPLY, "the customer replied on WhatsApp", reply=reply)
    return True


def rating_digit(text: str | Sealed | None) -> int | None:
    """1 to 5 when the whole message is that one digit ("4", " 4 ", a full-width "４").
    A sealed text is never one: the edge seals everything but a lone digit."""
    if not isinstance(text, str):
        return None
    said = unicodedata.normalize("NFKC", text).strip()
    return int(said) if len(said) == 1 and said in "12345" else None


def _answered_step(state: JourneyState, reply: CustomerReply) -> str | None:
    """The step a message answers: the one whose message it quotes, else the last one
    sent by WhatsApp. None when it quotes a message this journey did not send."""
    sent = state.conversation.sent
    if reply.in_reply_to is not None:
        return next((step for step, wamid in sent if wamid == reply.in_reply_to), None)
    return sent[-1][0] if sent else None


def _opt_out(state: JourneyState, reply: CustomerReply) -> bool:
    if state.opted_out():
        _keep(state, reply, ReplyUse.ALREADY_OPTED_OUT)
        return False
    reason = f"asked on WhatsApp ({reply.keyword or 'an opt-out keyword'})"
    try:
        event = OrderEvent(
            event_id=f"whatsapp:{reply.message_id}"[:100],
            type=OrderEventType.OPTED_OUT,
            occurred_at=reply.received_at,
            reason=reason,
        )
    except ValidationError:  # a signal sent by hand: the journey still opts out
        event = OrderEvent(
            event_id=f"whatsapp:{len(state.progress.replies)}",
            type=OrderEventType.OPTED_OUT,
            occurred_at=state.clock.now(),
            reason="asked on WhatsApp",
        )
    state.receive(event)
    _keep(state, reply, ReplyUse.OPT_OUT)
    if reply.taker:
        state.schedule(
            OPT_OUT_CONFIRMATION,
            state.clock.now(),
            "the customer opted out on WhatsApp",
            exact=True,
            reply=reply,
        )
    return True


def _keep(state: JourneyState, reply: CustomerReply, use: ReplyUse) -> bool:
    """Record the message, and mark the step it answers; False past MAX_REPLIES."""
    progress = state.progress
    if len(progress.replies) >= MAX_REPLIES:
        state.conversation.unrecorded += 1
        return False
    progress.replies.append(reply.model_copy(update={"taken_as": use}))
    if use in (ReplyUse.ANSWER, ReplyUse.RATING) and reply.answers is not None:
        for index, outcome in enumerate(progress.steps):
            if outcome.step_id == reply.answers and outcome.status is StepStatus.SENT:
                if outcome.answered_at is None:
                    update = {"answered_at": reply.received_at}
                    progress.steps[index] = outcome.model_copy(update=update)
                break
    return True


def answer_to_send(state: JourneyState, action: Action) -> Step | None:
    """An answer to the customer's message goes whatever the stop rules say (it
    confirms the stop), but only inside WhatsApp's 24-hour customer service window."""
    assert action.reply is not None and action.step is not None
    if state.clock.real_now() - action.reply.received_at > SERVICE_WINDOW:
        state.record_skip(action, "outside WhatsApp's 24-hour customer service window")
        return None
    return action.step

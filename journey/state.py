"""The order journey's rules, as plain Python: what the journey knows, what it plans,
and, given an event, feedback or the moment, what is due, what is skipped and why.

`JourneyState` holds the facts events taught it, the agenda of messages with their due
moments, and the record operators read (`progress`). The workflow feeds it events and
the journey clock, asks it what comes next, and reports back how each send ended; the
state never waits, sends or reads a clock of its own, so its rules are tested in
milliseconds (tests/unit/test_journey_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from journey.agenda import Action, Facts
from journey.clock import JourneyClock
from journey.conversation import (
    Conversation,
    answer_to_send,
    apply_waiting,
    fallback_outcome,
    listening_until,
    note_sent,
    request_route,
)
from journey.schedule import next_in_window, plan_times
from journey.stops import CANCELLED, ERASED, OPTED_OUT
from journey.view import current_details, search_stage
from models import (
    Channel,
    JourneyProgress,
    JourneySettings,
    JourneyStatus,
    MessageRequest,
    Receipt,
    Step,
    StepKind,
    StepOutcome,
    StepPurpose,
    StepStatus,
)
from models.base import control_character
from models.conversation import CustomerReply, StatusUpdate
from models.durations import describe_duration
from models.errors import STOPS_JOURNEY, Refusal, SendErrorType
from models.events import ENDS_PROMOTION, Feedback, FeedbackSubmission, OrderEvent, OrderEventType
from models.journey import AlertKind, AlertRequest, JourneyFacts, JourneyStage, OrderJourneyInput
from models.limits import MAX_COMMENT, MAX_REASON
from models.sealed import Sealed
from models.stages import (
    DELIVERY_APOLOGY,
    FEEDBACK_REMINDER,
    FEEDBACK_THANKS,
    ORDER_CONFIRMATION,
    SHIPPING_UPDATE,
    SUPPORT_FOLLOWUP,
)

# Timer and dispatch latency: a send this late (in real time) still counts as on time.
LATE_TOLERANCE = timedelta(minutes=1)
OPERATOR_OPT_OUT_ID = "operator-opt-out"
ERASURE_ID = "customer-data-erased"
PRE_DELIVERY = frozenset({ORDER_CONFIRMATION.id, SHIPPING_UPDATE.id, DELIVERY_APOLOGY.id})
# Why a journey refuses an update: the refusal's type and what the caller reads.
Refused = tuple[Refusal, str]


def _ignore(_: StepOutcome) -> None:
    return None


class JourneyState:
    """One order's journey: its facts, its agenda and its record."""

    def __init__(
        self,
        journey: OrderJourneyInput,
        journey_id: str,
        clock: JourneyClock,
        on_record: Callable[[StepOutcome], None] = _ignore,
    ) -> None:
        self.journey = journey
        self.journey_id = journey_id
        self.clock = clock
        self._on_record = on_record
        self.facts = Facts(promised_by=journey.order.promised_delivery_by)
        self.facts.last_event_at = clock.now()
        self.progress = JourneyProgress(
            journey_id=journey_id,
            status=JourneyStatus.WAITING,
            customer=journey.order.customer.masks(),
        )
        self.inbox: list[OrderEvent] = []
        self.agenda: list[Action] = []
        self.unreachable: list[Channel] = []  # channels a provider said cannot reach
        self.ended = False
        self.conversation = Conversation()  # what WhatsApp said back (journey/conversation.py)
        self._seq = 0

    @property
    def settings(self) -> JourneySettings:
        return self.journey.settings

    @property
    def timezone(self) -> str:
        return self.journey.order.customer.timezone

    # --- events -----------------------------------------------------------------------

    def receive(self, event: OrderEvent) -> bool:
        """Queue an event for the loop to apply; False for a repeat, which is recorded
        as ignored. Events are idempotent by id."""
        if event.event_id in self.facts.seen:
            self.progress.ignored_events.append(f"{event.type}:{event.event_id} (repeat)")
            return False
        self.facts.seen.add(event.event_id)
        self.inbox.append(event)
        return True

    def waiting(self, kind: OrderEventType) -> bool:
        """An event of this kind has arrived and waits in the inbox: an update handled
        while the loop is busy (a send in flight) sees it before the loop applies it."""
        return any(event.type is kind for event in self.inbox)

    def absorb_events(self) -> None:
        """Apply every queued event, in the order they came."""
        facts, progress = self.facts, self.progress
        while self.inbox:
            event = self.inbox.pop(0)
            now = self.clock.now()
            facts.last_event_at = now
            kind, label = event.type, f"{event.type}:{event.event_id}"
            progress.events.append(label)
            if kind is OrderEventType.PLACED and not facts.placed:
                facts.placed = True
                if facts.delivered_at is None:
                    progress.stage = JourneyStage.PLACED
                    self._schedule(ORDER_CONFIRMATION, now, "order placed")
            elif kind is OrderEventType.SHIPPED and facts.shipment_event is None:
                facts.shipment_event = event
                if event.shipment and event.shipment.promised_by:
                    facts.promised_by = event.shipment.promised_by
                self._schedule(SHIPPING_UPDATE, now, "order shipped")
                if facts.delivered_at is None:
                    progress.stage = JourneyStage.SHIPPED
                else:
                    self.skip_pending(PRE_DELIVERY, "already delivered")
            elif kind is OrderEventType.DELIVERED and facts.delivered_at is None:
                facts.delivered_at = event.occurred_at
                progress.stage = JourneyStage.DELIVERED
                self.skip_pending(PRE_DELIVERY, "delivered before it was sent")
                self._schedule_plan(event.occurred_at)
            elif kind in ENDS_PROMOTION:
                facts.promotion_ended_by = facts.promotion_ended_by or f"order {kind}"
                if facts.delivered_at is None:
                    self.skip_pending(PRE_DELIVERY, f"order {kind}")
            elif kind is OrderEventType.OPTED_OUT and facts.opted_out is None:
                facts.opted_out = event.reason or OPTED_OUT
                if facts.stopped is None and event.event_id == ERASURE_ID:
                    facts.stopped, facts.stop_kind = ERASED, "erased"
                elif facts.stopped is None:
                    facts.stopped = f"opted out: {facts.opted_out}"
                    facts.stop_kind = "opted_out"
                progress.opted_out = True
                # Store alerts still go; every customer message stops now.
                self.skip_pending(None, OPTED_OUT)
            else:
                progress.events.remove(label)
                progress.ignored_events.append(f"{label} (already applied)")

    def watch_delivery(self) -> None:
        """A delivery missing past the promised date and its grace: apologise to the
        customer and alert the store, once."""
        facts = self.facts
        if facts.delivered_at or facts.late_reported or facts.promised_by is None:
            return
        if facts.stopped or facts.promotion_ended_by:
            return
        now = self.clock.now()
        if now >= facts.promised_by + self.settings.delivery_grace:
            facts.late_reported = True
            self.progress.stage = JourneyStage.DELIVERY_LATE
            self._schedule_alert(AlertKind.LATE_DELIVERY, "delivery is late")
            self._schedule(DELIVERY_APOLOGY, now, "delivery is late")

    # --- the customer's answers and controls ------------------------------------------

    def refuse_feedback(self, submission: FeedbackSubmission) -> Refused | None:
        """Why the journey refuses this feedback, if it does. Whatever `take_feedback`
        builds from it must build: an update that bypassed the edge (the Web UI, the
        CLI) is refused here, not where an error would fail the workflow task."""
        if self.ended:
            return Refusal.JOURNEY_ENDED, "the journey has ended"
        if self.facts.feedback is not None:
            return Refusal.FEEDBACK_ALREADY_GIVEN, "feedback was already received"
        if self.facts.delivered_at is None and not self.waiting(OrderEventType.DELIVERED):
            return Refusal.NOT_DELIVERED, "the order has not been delivered yet"
        if not 1 <= submission.rating <= 5:
            return Refusal.INVALID_RATING, f"rating must be 1 to 5, got {submission.rating}"
        comment = submission.comment
        if isinstance(comment, Sealed):  # checked at the edge before it was sealed
            return None
        if comment is not None and len(comment) > MAX_COMMENT:
            return Refusal.INVALID_COMMENT, f"comment is longer than {MAX_COMMENT} characters"
        if comment is not None and control_character(comment, prose=True):
            return Refusal.INVALID_COMMENT, "comment contains a control character"
        return None

    def answered_requests_pending(self) -> bool:
        """Feedback requests (the plan's, or the reminder) wait on the agenda."""
        return any(a.step and a.step.kind is StepKind.FEEDBACK_REQUEST for a in self.agenda)

    def take_feedback(
        self, submission: FeedbackSubmission, *, drop_answered_requests: bool = True
    ) -> None:
        """Thank the customer; a low rating alerts the store and opens support. The
        requests for feedback still pending are skipped now rather than when due, so no
        timer wakes the journey only to skip them (`drop_answered_requests`: runs
        started before this rule skipped them when due, and keep doing so)."""
        feedback = Feedback(rating=submission.rating, comment=submission.comment)
        self.facts.feedback = feedback
        if drop_answered_requests:
            pending = frozenset(
                a.step.id
                for a in self.agenda
                if a.step and a.step.kind is StepKind.FEEDBACK_REQUEST
            )
            self.skip_pending(pending, "feedback already received")
        now = self.clock.now()
        self._schedule(FEEDBACK_THANKS, now, "thanks for the feedback")
        if feedback.rating <= self.settings.low_rating:
            self._schedule_alert(AlertKind.LOW_RATING, "a low rating")
            self._schedule(SUPPORT_FOLLOWUP, now, f"rated {feedback.rating}")

    def refuse_opt_out(self, reason: str) -> Refused | None:
        if self.ended:
            return Refusal.JOURNEY_ENDED, "the journey has ended"
        if len(reason) > MAX_REASON:
            return Refusal.INVALID_REASON, f"reason is longer than {MAX_REASON} characters"
        if control_character(reason):
            return Refusal.INVALID_REASON, "reason contains a control character"
        return None

    def opted_out(self) -> bool:
        """The customer has opted out, or an opt-out waits to be applied."""
        return self.facts.opted_out is not None or self.waiting_opt_out()

    def waiting_opt_out(self) -> bool:
        """An opt-out waits in the inbox: a send in flight meets it as a stop."""
        return self.waiting(OrderEventType.OPTED_OUT)

    @staticmethod
    def erasure(at: datetime) -> OrderEvent:
        """The event an erasure becomes: an opt-out recorded as the customer's data
        erased, since nothing can be sent to them again."""
        return OrderEvent(
            event_id=ERASURE_ID, type=OrderEventType.OPTED_OUT, occurred_at=at, reason=ERASED
        )

    def erased(self) -> bool:
        return self.facts.stop_kind == "erased" or any(e.event_id == ERASURE_ID for e in self.inbox)

    @staticmethod
    def operator_opt_out(reason: str, at: datetime) -> OrderEvent:
        """The event an operator's opt-out becomes."""
        return OrderEvent(
            event_id=OPERATOR_OPT_OUT_ID,
            type=OrderEventType.OPTED_OUT,
            occurred_at=at,
            reason=reason.strip() or "opted out by an operator",
        )

    # --- what comes next --------------------------------------------------------------

    def finished(self) -> bool:
        """Nothing more can come: the agenda is empty and no event is awaited."""
        if self.agenda or listening_until(self) is not None:
            return False
        facts = self.facts
        if facts.stopped:
            self.progress.stop_reason = facts.stopped
            return True
        if facts.delivered_at is not None:
            return facts.plan_scheduled
        if facts.promotion_ended_by:  # cancelled, refunded or returned before delivery
            return True
        assert facts.last_event_at is not None
        return self.clock.now() >= facts.last_event_at + self.settings.delivery_wait_limit

    def next_action(self) -> Action | None:
        return min(self.agenda, key=lambda a: (a.due, a.seq), default=None)

    def next_wake(self, action: Action | None) -> tuple[datetime | None, str]:
        """The next moment something is due, and why, for the timer and the operator.
        None: nothing is due until an event arrives."""
        facts, settings, now = self.facts, self.settings, self.clock.now()
        candidates: list[tuple[datetime, str]] = []
        if action is not None:
            candidates.append((action.due, f"send '{action.name}': {action.why}"))
        if facts.delivered_at is None and not facts.stopped and not facts.promotion_ended_by:
            assert facts.last_event_at is not None
            limit = facts.last_event_at + settings.delivery_wait_limit
            if limit > now:
                candidates.append((limit, "end the journey if delivery is never reported"))
            if facts.promised_by and not facts.late_reported:
                deadline = facts.promised_by + settings.delivery_grace
                candidates.append((deadline, "check the delivery is not late"))
        listening = listening_until(self) if action is None else None
        if listening is not None:
            candidates.append(
                (listening, "hear WhatsApp's statuses and replies to the last message")
            )
        if not candidates:
            return None, "waiting for an order event"
        return min(candidates, key=lambda c: c[0])

    def is_due(self, action: Action | None) -> bool:
        return action is not None and action.due <= self.clock.now()

    def show(self, action: Action | None) -> None:
        """Keep the progress record's next action and facts up to date."""
        progress = self.progress
        progress.next_step = action.name if action else None
        progress.next_at = action.due if action else None
        progress.next_why = action.why if action else None
        progress.facts = self.journey_facts()

    # --- sends --------------------------------------------------------------------------

    def take(self, action: Action) -> None:
        """Take a due action off the agenda, to act on it now."""
        self.agenda.remove(action)

    def step_to_send(self, action: Action) -> Step | None:
        """Whether a due step goes now. The rules are checked now, right before sending,
        not when the step was planned: a stop, a return, feedback already given skip it
        (recorded); a send woken long after its due time (an outage) once the window has
        closed waits for the next opening."""
        assert action.step is not None
        if action.reply is not None:
            return answer_to_send(self, action)
        step, facts = action.step, self.facts
        if facts.stopped:
            self.record_skip(action, facts.stopped)
            return None
        if step.purpose is StepPurpose.PROMOTIONAL and facts.promotion_ended_by:
            self.record_skip(action, f"promotional, and the {facts.promotion_ended_by}")
            return None
        if step.kind is StepKind.FEEDBACK_REQUEST and facts.feedback is not None:
            self.record_skip(action, "feedback already received")
            return None
        now = self.clock.now()
        window_moment = next_in_window(now, self.settings.send_window, self.timezone)
        if window_moment > now and self.clock.real(now - action.due) > LATE_TOLERANCE:
            self._seq += 1
            self.agenda.append(
                Action(self._seq, window_moment, "moved into the send window", step=step)
            )
            return None
        return step

    def message_request(
        self, step: Step, due: datetime, action: Action | None = None
    ) -> MessageRequest:
        key, unreachable, reply_to = f"{self.journey_id}:{step.id}", list(self.unreachable), None
        if action is not None:
            key, unreachable, reply_to = request_route(self, step, action, key, unreachable)
        return MessageRequest(
            journey_id=self.journey_id,
            step=step,
            order=self.journey.order,
            settings=self.settings,
            scheduled_for=due,
            idempotency_key=key,
            facts=self.journey_facts(),
            unreachable=unreachable,
            reply_to=reply_to,
        )

    def alert_request(self, action: Action) -> AlertRequest:
        assert action.alert is not None
        key = f"{self.journey_id}:alert_{action.alert}"
        if action.reply is not None:  # one alert per message the customer sent
            key += f":{action.reply.message_id}"
        return AlertRequest(
            journey_id=self.journey_id,
            kind=action.alert,
            order=self.journey.order,
            settings=self.settings,
            facts=self.journey_facts(),
            idempotency_key=key,
            reply=action.reply,
        )

    def planned_outcome(self, action: Action) -> StepOutcome:
        """The record of an action as if it goes as planned; a send's end amends it."""
        template = action.step.template if action.step else f"alert_{action.alert}"
        return StepOutcome(
            step_id=action.name,
            template=template,
            status=StepStatus.SENT,
            scheduled_for=action.due,
            channel=self.settings.channel,
        )

    def sent(self, base: StepOutcome, receipt: Receipt) -> StepOutcome:
        """A send the provider took; channels it found unreachable are skipped later."""
        self.unreachable += [c for c in receipt.unreachable if c not in self.unreachable]
        note_sent(self, base.step_id, receipt)
        return base.model_copy(
            update={
                # A message found by asking the provider went out at a moment nobody saw.
                "sent_at": None if receipt.looked_up else self.clock.now(),
                "message_id": receipt.message_id,
                "channel": receipt.channel,
                "route_reason": receipt.route_reason,
            }
        )

    def after_send(self, action: Action, outcome: StepOutcome) -> None:
        """Record how the send ended: a refused recipient stops the journey; a feedback
        request that went out plans its one reminder."""
        assert action.step is not None
        step, facts, settings = action.step, self.facts, self.settings
        if action.reply is not None:  # an answer to the customer: nothing follows from it
            self.record(outcome)
            return
        if action.fallback is not None:
            outcome = fallback_outcome(outcome, action.fallback)
        self.record(outcome)
        if outcome.error_type == SendErrorType.CUSTOMER_ERASED and facts.stopped is None:
            # The key is gone though no erasure reached the journey (yet): it stops alike.
            facts.stopped, facts.stop_kind = ERASED, "erased"
            self.skip_pending(None, ERASED)
        elif outcome.error_type in STOPS_JOURNEY:
            facts.stopped = f"{outcome.error_type}: {outcome.error}"
            facts.stop_kind = outcome.error_type
            self.skip_pending(None, f"journey stopped: {outcome.error_type}")
        elif (
            step.kind is StepKind.FEEDBACK_REQUEST
            and step.id != FEEDBACK_REMINDER.id
            and outcome.status is StepStatus.SENT
            and settings.feedback_reminder_after is not None
            and facts.feedback is None
            and action.fallback is None  # the first send planned the reminder already
        ):
            after = settings.feedback_reminder_after
            self._schedule(
                FEEDBACK_REMINDER,
                action.due + after,
                f"no feedback {describe_duration(after)} after the request",
            )

    def record(self, outcome: StepOutcome) -> None:
        self.progress.steps.append(outcome)
        self._on_record(outcome)
        apply_waiting(self, outcome)  # WhatsApp statuses that came before the answer

    def record_skip(self, action: Action, reason: str) -> None:
        outcome = self.planned_outcome(action).model_copy(
            update={"status": StepStatus.SKIPPED, "reason": reason}
        )
        self.record(outcome)

    def skip_pending(self, step_ids: frozenset[str] | None, reason: str) -> None:
        """Drop pending customer messages (all of them, or those named) as skipped."""
        keep: list[Action] = []
        for action in self.agenda:
            answer = action.reply is not None  # an answer to the customer confirms the stop
            if action.step and not answer and (step_ids is None or action.step.id in step_ids):
                self.record_skip(action, reason)
            else:
                keep.append(action)
        self.agenda = keep

    # --- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """The journey has ended: nothing comes next."""
        self.ended = True
        progress = self.progress
        progress.status = JourneyStatus.STOPPED if progress.stop_reason else JourneyStatus.COMPLETED
        progress.stage = JourneyStage.ENDED
        progress.next_step = progress.next_at = progress.next_why = None
        progress.facts = self.journey_facts()

    def cancel(self) -> None:
        """An operator cancelled the run: it ends recorded as stopped, with every
        message still planned skipped."""
        facts = self.facts
        if facts.stopped is None:
            facts.stopped, facts.stop_kind = CANCELLED, "cancelled"
        self.skip_pending(None, f"journey {CANCELLED}")
        self.progress.stop_reason = facts.stopped
        self.close()

    # --- views --------------------------------------------------------------------------

    def journey_facts(self) -> JourneyFacts:
        facts = self.facts
        shipment = facts.shipment_event.shipment if facts.shipment_event else None
        return JourneyFacts(
            delivered_at=facts.delivered_at,
            promised_by=facts.promised_by,
            shipment=shipment,
            feedback=facts.feedback,
        )

    def stage(self) -> str:
        return search_stage(self.progress, self.facts, ended=self.ended)

    def details(self) -> str:
        return current_details(
            self.progress,
            self.facts,
            self.stage(),
            self.timezone,
            listening_until=listening_until(self),
            unrecorded_replies=self.conversation.unrecorded,
        )

    # --- planning -------------------------------------------------------------------------

    def _schedule_plan(self, delivered_at: datetime) -> None:
        journey = self.journey
        for step, due, why in plan_times(
            journey.plan.steps,
            delivered_at,
            self.settings,
            self.timezone,
            not_before=self.clock.now(),
            first_send_delay=journey.first_send_delay,
        ):
            self._schedule(step, due, why, exact=True)
        self.facts.plan_scheduled = True

    def _schedule(self, step: Step, earliest: datetime, why: str, *, exact: bool = False) -> None:
        self.schedule(step, earliest, f"{why}, in the send window", exact=exact)

    def schedule(
        self,
        step: Step,
        earliest: datetime,
        why: str,
        *,
        exact: bool = False,
        reply: CustomerReply | None = None,
        fallback: StatusUpdate | None = None,
    ) -> None:
        """Put a customer message on the agenda, due at `earliest` moved into the send
        window (`exact`: at `earliest`), for the reason `why`."""
        due = (
            earliest
            if exact
            else next_in_window(earliest, self.settings.send_window, self.timezone)
        )
        self._seq += 1
        self.agenda.append(Action(self._seq, due, why, step=step, reply=reply, fallback=fallback))

    def _schedule_alert(self, kind: AlertKind, why: str) -> None:
        self.schedule_alert(kind, why)

    def schedule_alert(
        self, kind: AlertKind, why: str, *, reply: CustomerReply | None = None
    ) -> None:
        """Put an alert to the store on the agenda, due now."""
        self._seq += 1
        self.agenda.append(Action(self._seq, self.clock.now(), why, alert=kind, reply=reply))


def opening_index(
    journey: OrderJourneyInput, journey_id: str, event: OrderEvent, now: datetime
) -> tuple[str, datetime | None]:
    """The JourneyStage and NextActionAt a run started now with `event` sets in its first
    workflow task. The starter sets them with the run, which costs no upsert and makes
    the journey findable by stage at once; the run upserts only if it finds otherwise
    (a first action due at once, a speed-up)."""
    clock = JourneyClock(now, journey.speedup, lambda: now)
    state = JourneyState(journey, journey_id, clock)
    state.receive(event)
    state.absorb_events()
    state.watch_delivery()
    if state.finished():
        state.close()
        return state.stage(), None
    wake, _ = state.next_wake(state.next_action())
    return state.stage(), clock.real_moment(wake) if wake else None

"""OrderJourney: one order's whole post-purchase journey, driven by its events.

Events (placed, shipped, delivered, returned, refunded, cancelled, opted_out) arrive
as the `event` signal, usually through signal-with-start, in any order and possibly
more than once. The journey keeps an agenda of messages, each with the moment it is
due; it sleeps until the earliest one, or until an event or feedback changes the
picture, and checks the stop rules right before every send.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from journey.agenda import Action, Facts
    from journey.schedule import describe_local, next_in_window, plan_times
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
    from models.durations import describe_duration
    from models.errors import STOPS_JOURNEY, RetryableSendErrorType, SendErrorType
    from models.events import (
        ENDS_PROMOTION,
        Feedback,
        FeedbackSubmission,
        OrderEvent,
        OrderEventType,
    )
    from models.journey import (
        AlertKind,
        AlertRequest,
        JourneyFacts,
        JourneyStage,
        OrderJourneyInput,
        SendCheck,
    )
    from models.limits import MAX_COMMENT, MAX_REASON
    from models.search import JOURNEY_STAGE, NEXT_ACTION_AT, is_indexed
    from models.sending import (
        ALERT_STORE,
        CHECK_RETRY,
        CHECK_SCHEDULE_TO_CLOSE,
        CHECK_SEND,
        CHECK_START_TO_CLOSE,
        REQUEST_FEEDBACK,
        SEND_HEARTBEAT_TIMEOUT,
        SEND_MESSAGE,
        SEND_RETRY,
        SEND_SCHEDULE_TO_CLOSE,
        SEND_START_TO_CLOSE,
    )
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
# workflow.patched ids: each names a change to the commands a journey issues.
CANCEL_SEND_ON_OPT_OUT = "cancel-send-on-opt-out"
INDEX_SEARCH_ATTRIBUTES = "index-search-attributes"
WAIT_FOR_SEND_OUTCOME = "wait-for-send-outcome"
OPTED_OUT = "customer opted out"
CANCELLED = "cancelled by an operator"
FOUND_AFTER_STOP = "an earlier request got no answer but had landed: found after the stop"
OPERATOR_OPT_OUT_ID = "operator-opt-out"
PRE_DELIVERY = frozenset({ORDER_CONFIRMATION.id, SHIPPING_UPDATE.id, DELIVERY_APOLOGY.id})


@workflow.defn
class OrderJourney:
    def __init__(self) -> None:
        self._inbox: list[OrderEvent] = []
        self._facts = Facts()
        self._agenda: list[Action] = []
        self._seq = 0
        self._wake = False
        self._ended = False
        self._origin: datetime | None = None
        self._input: OrderJourneyInput | None = None
        self._progress: JourneyProgress | None = None
        # Channels a provider said cannot reach the customer; later sends skip them.
        self._unreachable: list[Channel] = []
        # Search attributes: kept up to date only in runs started with StoreId set.
        self._indexed = False
        self._last_index: tuple[str, datetime | None] | None = None
        # An operator cancelled the run while a send was in flight: the journey records
        # how the send ended, then ends cancelled.
        self._cancelled = False

    # --- the outside world's controls -------------------------------------------------

    @workflow.signal
    def event(self, event: OrderEvent) -> None:
        if event.event_id in self._facts.seen:
            if self._progress:
                self._progress.ignored_events.append(f"{event.type}:{event.event_id} (repeat)")
            return
        self._facts.seen.add(event.event_id)
        self._inbox.append(event)
        self._wake = True

    @workflow.update
    def submit_feedback(self, submission: FeedbackSubmission) -> str:
        feedback = Feedback(rating=submission.rating, comment=submission.comment)
        self._facts.feedback = feedback
        self._schedule(FEEDBACK_THANKS, self._now(), "thanks for the feedback")
        if feedback.rating <= self._settings.low_rating:
            self._schedule_alert(AlertKind.LOW_RATING, "a low rating")
            self._schedule(SUPPORT_FOLLOWUP, self._now(), f"rated {feedback.rating}")
        self._wake = True
        return "feedback received"

    @submit_feedback.validator
    def _accept_feedback(self, submission: FeedbackSubmission) -> None:
        if self._ended:
            raise ApplicationError("the journey has ended", type="JourneyEnded")
        if self._facts.feedback is not None:
            raise ApplicationError("feedback was already received", type="FeedbackAlreadyGiven")
        if self._facts.delivered_at is None and not self._waiting(OrderEventType.DELIVERED):
            raise ApplicationError("the order has not been delivered yet", type="NotDelivered")
        if not 1 <= submission.rating <= 5:
            raise ApplicationError(
                f"rating must be 1 to 5, got {submission.rating}", type="InvalidRating"
            )
        if submission.comment is not None and len(submission.comment) > MAX_COMMENT:
            raise ApplicationError(
                f"comment is longer than {MAX_COMMENT} characters", type="InvalidComment"
            )
        # Whatever the handler builds from the submission must build: an update that
        # bypassed the edge (the Web UI, the CLI) is refused here, not in the handler,
        # where an error would fail the workflow task.
        if submission.comment is not None and control_character(submission.comment, prose=True):
            raise ApplicationError("comment contains a control character", type="InvalidComment")

    @workflow.update
    def opt_out(self, reason: str = "") -> str:
        """Stop every customer message, as an `opted_out` event would. One string
        argument, so an operator can send it from the Web UI; sending it twice is harmless."""
        if self._facts.opted_out is not None or self._opt_out_waiting():
            return "already opted out"
        self.event(
            OrderEvent(
                event_id=OPERATOR_OPT_OUT_ID,
                type=OrderEventType.OPTED_OUT,
                # Not journey time: this may run before the run method has started.
                occurred_at=workflow.now(),
                reason=reason.strip() or "opted out by an operator",
            )
        )
        return "opted out"

    @opt_out.validator
    def _accept_opt_out(self, reason: str = "") -> None:
        if self._ended:
            raise ApplicationError("the journey has ended", type="JourneyEnded")
        if len(reason) > MAX_REASON:
            raise ApplicationError(
                f"reason is longer than {MAX_REASON} characters", type="InvalidReason"
            )
        if control_character(reason):
            raise ApplicationError("reason contains a control character", type="InvalidReason")

    @workflow.query
    def progress(self) -> JourneyProgress:
        assert self._progress is not None
        return self._progress

    # --- the journey ------------------------------------------------------------------

    @workflow.run
    async def run(self, journey: OrderJourneyInput) -> JourneyProgress:
        self._input = journey
        self._origin = workflow.now()
        self._progress = JourneyProgress(
            journey_id=workflow.info().workflow_id, status=JourneyStatus.WAITING
        )
        self._facts.promised_by = journey.order.promised_delivery_by
        self._facts.last_event_at = self._now()
        self._indexed = is_indexed(workflow.info().typed_search_attributes)
        _count("journey_started", "journeys started")
        workflow.logger.info(
            "journey of order %s started by %s",
            journey.order.order_id,
            ", ".join(str(e.type) for e in journey.events) or "no event",
        )
        for event in journey.events:
            self.event(event)
        try:
            await self._follow_agenda()
        except asyncio.CancelledError:
            self._record_cancel()
            raise
        progress = self._progress
        self._close()
        self._index(None)
        if progress.stop_reason:
            _count("journey_stopped", "journeys stopped", reason=self._facts.stop_kind or "other")
        else:
            _count("journey_completed", "journeys that ran their whole plan")
        workflow.logger.info("journey %s: %s", progress.status, progress.stop_reason or "done")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return progress

    async def _follow_agenda(self) -> None:
        """Apply events, send what is due, sleep until the next thing is: until done."""
        while True:
            self._absorb_events()
            self._check_delivery_watch()
            if self._finished():
                return
            action = min(self._agenda, key=lambda a: (a.due, a.seq), default=None)
            wake_at, why = self._next_wake(action)
            self._show(action)
            self._index(wake_at)
            if action is not None and action.due <= self._now():
                self._agenda.remove(action)
                await self._execute(action)
                if self._cancelled:
                    raise asyncio.CancelledError(CANCELLED)
                continue
            await self._sleep(wake_at, why)

    def _close(self) -> None:
        """The journey has ended: nothing comes next."""
        assert self._progress is not None
        self._ended = True
        progress = self._progress
        progress.status = JourneyStatus.STOPPED if progress.stop_reason else JourneyStatus.COMPLETED
        progress.stage = JourneyStage.ENDED
        progress.next_step = progress.next_at = progress.next_why = None
        progress.facts = self._journey_facts()
        workflow.set_current_details(self._details())

    def _record_cancel(self) -> None:
        """An operator cancelled the run: it ends cancelled, recorded as stopped with
        every message still planned skipped. Bookkeeping only, no command: runs of every
        version end this way alike."""
        assert self._progress is not None
        facts = self._facts
        if facts.stopped is None:
            facts.stopped, facts.stop_kind = CANCELLED, "cancelled"
        self._skip_pending(None, f"journey {CANCELLED}")
        self._progress.stop_reason = facts.stopped
        self._close()
        _count("journey_stopped", "journeys stopped", reason=facts.stop_kind or "other")
        workflow.logger.info("journey cancelled: %s", facts.stopped)

    async def _sleep(self, until: datetime | None, why: str) -> None:
        """Sleep until `until`, or until a signal or update wakes the journey."""
        assert self._input is not None
        self._wake = False
        if until is None:
            await workflow.wait_condition(lambda: self._wake)
            return
        remaining = (until - self._now()) / self._input.speedup
        if remaining <= timedelta(0):
            return
        summary = f"wait until {describe_local(until, self._tz)}: {why}"
        # On timeout the moment came; the loop then looks at what is due.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._wake, timeout=remaining, timeout_summary=summary
            )

    @property
    def _settings(self) -> JourneySettings:
        assert self._input is not None
        return self._input.settings

    @property
    def _tz(self) -> str:
        assert self._input is not None
        return self._input.order.customer.timezone

    def _now(self) -> datetime:
        """Journey time: workflow time, sped up for demos."""
        assert self._origin is not None and self._input is not None
        return self._origin + (workflow.now() - self._origin) * self._input.speedup

    def _absorb_events(self) -> None:
        assert self._progress is not None and self._input is not None
        facts, progress = self._facts, self._progress
        while self._inbox:
            event = self._inbox.pop(0)
            facts.last_event_at = self._now()
            kind, label = event.type, f"{event.type}:{event.event_id}"
            progress.events.append(label)
            if kind is OrderEventType.PLACED and not facts.placed:
                facts.placed = True
                if facts.delivered_at is None:
                    progress.stage = JourneyStage.PLACED
                    self._schedule(ORDER_CONFIRMATION, self._now(), "order placed")
            elif kind is OrderEventType.SHIPPED and facts.shipment_event is None:
                facts.shipment_event = event
                if event.shipment and event.shipment.promised_by:
                    facts.promised_by = event.shipment.promised_by
                self._schedule(SHIPPING_UPDATE, self._now(), "order shipped")
                if facts.delivered_at is None:
                    progress.stage = JourneyStage.SHIPPED
                else:
                    self._skip_pending(PRE_DELIVERY, "already delivered")
            elif kind is OrderEventType.DELIVERED and facts.delivered_at is None:
                facts.delivered_at = event.occurred_at
                progress.stage = JourneyStage.DELIVERED
                self._skip_pending(PRE_DELIVERY, "delivered before it was sent")
                self._schedule_plan(event.occurred_at)
            elif kind in ENDS_PROMOTION:
                facts.promotion_ended_by = facts.promotion_ended_by or f"order {kind}"
                if facts.delivered_at is None:
                    self._skip_pending(PRE_DELIVERY, f"order {kind}")
            elif kind is OrderEventType.OPTED_OUT and facts.opted_out is None:
                facts.opted_out = event.reason or "customer opted out"
                if facts.stopped is None:
                    facts.stopped = f"opted out: {facts.opted_out}"
                    facts.stop_kind = "opted_out"
                progress.opted_out = True
                # Store alerts still go; every customer message stops now.
                self._skip_pending(None, "customer opted out")
            else:
                progress.events.remove(label)
                progress.ignored_events.append(f"{label} (already applied)")

    def _schedule_plan(self, delivered_at: datetime) -> None:
        assert self._input is not None
        journey = self._input
        for step, due, why in plan_times(
            journey.plan.steps,
            delivered_at,
            self._settings,
            self._tz,
            not_before=self._now(),
            first_send_delay=journey.first_send_delay,
        ):
            self._schedule(step, due, why, exact=True)
        self._facts.plan_scheduled = True

    def _schedule(self, step: Step, earliest: datetime, why: str, *, exact: bool = False) -> None:
        settings = self._settings
        due = earliest if exact else next_in_window(earliest, settings.send_window, self._tz)
        self._seq += 1
        self._agenda.append(Action(self._seq, due, f"{why}, in the send window", step=step))

    def _schedule_alert(self, kind: AlertKind, why: str) -> None:
        self._seq += 1
        self._agenda.append(Action(self._seq, self._now(), why, alert=kind))

    def _skip_pending(self, step_ids: frozenset[str] | None, reason: str) -> None:
        """Drop pending customer messages (all of them, or those named) as skipped."""
        keep: list[Action] = []
        for action in self._agenda:
            if action.step and (step_ids is None or action.step.id in step_ids):
                self._record_skip(action, reason)
            else:
                keep.append(action)
        self._agenda = keep

    def _check_delivery_watch(self) -> None:
        facts = self._facts
        if facts.delivered_at or facts.late_reported or facts.promised_by is None:
            return
        if facts.stopped or facts.promotion_ended_by:
            return
        if self._now() >= facts.promised_by + self._settings.delivery_grace:
            facts.late_reported = True
            assert self._progress is not None
            self._progress.stage = JourneyStage.DELIVERY_LATE
            self._schedule_alert(AlertKind.LATE_DELIVERY, "delivery is late")
            self._schedule(DELIVERY_APOLOGY, self._now(), "delivery is late")

    def _finished(self) -> bool:
        if self._agenda:
            return False
        facts = self._facts
        if facts.stopped:
            assert self._progress is not None
            self._progress.stop_reason = facts.stopped
            return True
        if facts.delivered_at is not None:
            return facts.plan_scheduled
        if facts.promotion_ended_by:  # cancelled, refunded or returned before delivery
            return True
        assert facts.last_event_at is not None
        return self._now() >= facts.last_event_at + self._settings.delivery_wait_limit

    def _next_wake(self, action: Action | None) -> tuple[datetime | None, str]:
        """The next moment something is due, and why, for the timer and the operator.
        None: nothing is due until an event arrives."""
        facts, settings, now = self._facts, self._settings, self._now()
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
        if not candidates:
            return None, "waiting for an order event"
        return min(candidates, key=lambda c: c[0])

    async def _execute(self, action: Action) -> None:
        assert self._progress is not None
        if action.alert is not None:
            await self._alert(action)
            return
        assert action.step is not None and self._input is not None
        step, facts, settings = action.step, self._facts, self._settings
        # The rules are checked now, right before sending, not when the step was planned.
        if facts.stopped:
            self._record_skip(action, facts.stopped)
            return
        if step.purpose is StepPurpose.PROMOTIONAL and facts.promotion_ended_by:
            self._record_skip(action, f"promotional, and the {facts.promotion_ended_by}")
            return
        if step.kind is StepKind.FEEDBACK_REQUEST and facts.feedback is not None:
            self._record_skip(action, "feedback already received")
            return
        now = self._now()
        window_moment = next_in_window(now, settings.send_window, self._tz)
        late = (now - action.due) / self._input.speedup
        if window_moment > now and late > LATE_TOLERANCE:
            # Woke long after the due time (an outage) and the window has closed since:
            # wait for it to open again rather than message the customer at night.
            self._seq += 1
            self._agenda.append(
                Action(self._seq, window_moment, "moved into the send window", step=step)
            )
            return
        self._progress.status = JourneyStatus.SENDING
        outcome = await self._send(step, action.due)
        self._progress.status = JourneyStatus.WAITING
        self._record(outcome)
        if outcome.error_type in STOPS_JOURNEY:
            facts.stopped = f"{outcome.error_type}: {outcome.error}"
            facts.stop_kind = outcome.error_type
            self._skip_pending(None, f"journey stopped: {outcome.error_type}")
        elif (
            step.kind is StepKind.FEEDBACK_REQUEST
            and step.id != FEEDBACK_REMINDER.id
            and outcome.status is StepStatus.SENT
            and settings.feedback_reminder_after is not None
            and facts.feedback is None
        ):
            after = settings.feedback_reminder_after
            self._schedule(
                FEEDBACK_REMINDER,
                action.due + after,
                f"no feedback {describe_duration(after)} after the request",
            )

    async def _send(self, step: Step, due: datetime) -> StepOutcome:
        assert self._input is not None
        journey_id = workflow.info().workflow_id
        channel = self._settings.channel
        request = MessageRequest(
            journey_id=journey_id,
            step=step,
            order=self._input.order,
            settings=self._settings,
            scheduled_for=due,
            idempotency_key=f"{journey_id}:{step.id}",
            facts=self._journey_facts(),
            unreachable=list(self._unreachable),
        )
        activity = REQUEST_FEEDBACK if step.kind is StepKind.FEEDBACK_REQUEST else SEND_MESSAGE
        base = StepOutcome(
            step_id=step.id,
            template=step.template,
            status=StepStatus.SENT,
            scheduled_for=due,
            channel=channel,
        )
        # A stop that meets the send waits for the send's own word on how it ended. Runs
        # started before this rule cancelled without waiting (TRY_CANCEL, which resolves
        # at once), so they keep doing so.
        waits_for_outcome = workflow.patched(WAIT_FOR_SEND_OUTCOME)
        sending = workflow.start_activity(
            activity,
            request,
            result_type=Receipt,
            start_to_close_timeout=SEND_START_TO_CLOSE,
            schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
            heartbeat_timeout=SEND_HEARTBEAT_TIMEOUT,
            retry_policy=SEND_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
            if waits_for_outcome
            else workflow.ActivityCancellationType.TRY_CANCEL,
            summary=f"send '{step.template}' by {channel}",
        )
        if waits_for_outcome:
            stop = await self._stop_during(sending)
            if stop is not None:
                return await self._outcome_after_stop(sending, request, base, stop)
        elif workflow.patched(CANCEL_SEND_ON_OPT_OUT):
            # A send can retry for hours while a provider is down. An opt-out arriving in
            # that time cancels it rather than letting it land afterwards. Runs started
            # before this rule never issued that cancellation, so they keep not issuing it.
            await workflow.wait_condition(lambda: sending.done() or self._opt_out_waiting())
            if not sending.done():
                sending.cancel()
        try:
            receipt = await sending
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):  # only runs that never wait for it
                return base.model_copy(update={"status": StepStatus.SKIPPED, "reason": OPTED_OUT})
            return _failed(base, err)
        return self._sent(base, receipt)

    def _sent(self, base: StepOutcome, receipt: Receipt) -> StepOutcome:
        self._unreachable += [c for c in receipt.unreachable if c not in self._unreachable]
        return base.model_copy(
            update={
                # A message found by asking the provider went out at a moment nobody saw.
                "sent_at": None if receipt.looked_up else self._now(),
                "message_id": receipt.message_id,
                "channel": receipt.channel,
                "route_reason": receipt.route_reason,
            }
        )

    async def _stop_during(self, sending: workflow.ActivityHandle[Receipt]) -> str | None:
        """Wait until the send ends or a stop comes (an opt-out, an operator's cancel);
        the stop, if it came first."""
        try:
            await workflow.wait_condition(lambda: sending.done() or self._opt_out_waiting())
        except asyncio.CancelledError:
            self._cancelled = True
        if sending.done():
            return None
        return CANCELLED if self._cancelled else OPTED_OUT

    async def _outcome_after_stop(
        self,
        sending: workflow.ActivityHandle[Receipt],
        request: MessageRequest,
        base: StepOutcome,
        stop: str,
    ) -> StepOutcome:
        """A stop met the send in flight. Ask what its attempts did (the server cancels
        a send waiting between attempts without asking it), cancel it, and wait for it to
        end: its own word, or the server's. The wait is bounded: once a cancel is asked,
        the server retries no attempt, so it lasts at most one attempt's start-to-close
        timeout (30 s), or its heartbeat timeout (10 s) if its worker is lost."""
        check = await self._check_send(request)
        if not sending.done():
            sending.cancel()
        await self._until_done(sending)
        outcome = await self._how_it_ended(sending, request, base, check)
        outcome = outcome.model_copy(update={"after_stop": stop})
        if outcome.status is StepStatus.SKIPPED and outcome.reason is None:
            outcome = outcome.model_copy(update={"reason": stop})
        _count(
            "journey_stopped_sends",
            "sends a stop met in flight, by how they ended",
            channel=str(outcome.channel),
            template=outcome.template,
            outcome=_STOPPED_SEND_OUTCOMES[outcome.status],
        )
        return outcome

    async def _how_it_ended(
        self,
        sending: workflow.ActivityHandle[Receipt],
        request: MessageRequest,
        base: StepOutcome,
        check: SendCheck | None,
    ) -> StepOutcome:
        """How a send a stop met ended: by its own word (a receipt, not sent, outcome
        unknown), by a provider's refusal, or, when it ended without a word on the stop,
        by what checking its requests finds."""
        try:
            receipt = sending.result()
        except ActivityError as err:
            cause = err.cause
            skipped = base.model_copy(update={"status": StepStatus.SKIPPED})
            if _is_error(cause, SendErrorType.STOPPED_BEFORE_SENDING):
                return skipped
            if isinstance(cause, ApplicationError) and cause.type == SendErrorType.OUTCOME_UNKNOWN:
                return base.model_copy(
                    update={"status": StepStatus.UNKNOWN, "reason": cause.message}
                )
            if isinstance(cause, CancelledError):
                # The server cancelled it between attempts: the check read their trail.
                return _judged_by_check(base, check)
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                return _failed(base, err)  # the provider refused it
            # The attempt ended unaware of the stop (a retryable failure, a lost worker),
            # and no other follows. Ask again if it, or an earlier one, may have sent.
            if _left_in_doubt(cause, check):
                return _judged_by_check(base, await self._check_send(request))
            return skipped
        found = FOUND_AFTER_STOP if receipt.looked_up else None
        return self._sent(base, receipt).model_copy(update={"reason": found})

    async def _check_send(self, request: MessageRequest) -> SendCheck | None:
        """What the send's attempts did so far; None if that could not be read."""
        checking: workflow.ActivityHandle[SendCheck] = workflow.start_activity(
            CHECK_SEND,
            request,
            result_type=SendCheck,
            start_to_close_timeout=CHECK_START_TO_CLOSE,
            schedule_to_close_timeout=CHECK_SCHEDULE_TO_CLOSE,
            retry_policy=CHECK_RETRY,
            summary=f"check what the send of '{request.step.template}' did",
        )
        await self._until_done(checking)
        try:
            return checking.result()
        except ActivityError as err:
            workflow.logger.warning("could not check the send: %s", err.cause)
            return None

    async def _until_done(self, handle: workflow.ActivityHandle[Any]) -> None:
        """Wait for an activity to end. An operator's cancel meanwhile is noted, for the
        journey to act on once it has recorded the outcome, not thrown into the wait."""
        while not handle.done():
            try:
                await workflow.wait_condition(handle.done)
            except asyncio.CancelledError:
                self._cancelled = True

    async def _alert(self, action: Action) -> None:
        assert self._input is not None and self._progress is not None and action.alert
        journey_id = workflow.info().workflow_id
        request = AlertRequest(
            journey_id=journey_id,
            kind=action.alert,
            order=self._input.order,
            settings=self._settings,
            facts=self._journey_facts(),
            idempotency_key=f"{journey_id}:alert_{action.alert}",
        )
        base = StepOutcome(
            step_id=action.name,
            template=f"alert_{action.alert}",
            status=StepStatus.SENT,
            scheduled_for=action.due,
            channel=self._settings.channel,
        )
        try:
            receipt = await workflow.execute_activity(
                ALERT_STORE,
                request,
                result_type=Receipt,
                start_to_close_timeout=SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
                retry_policy=SEND_RETRY,
                summary=f"alert the store: {action.alert}",
            )
        except ActivityError as err:
            self._record(base.model_copy(update=_failure(err)))
            return
        self._record(
            base.model_copy(update={"sent_at": self._now(), "message_id": receipt.message_id})
        )

    def _record(self, outcome: StepOutcome) -> None:
        assert self._progress is not None
        self._progress.steps.append(outcome)
        _count(
            "journey_messages",
            "messages by channel, template and outcome (sent, failed, skipped, unknown)",
            channel=str(outcome.channel),
            template=outcome.template,
            outcome=str(outcome.status),
        )

    def _record_skip(self, action: Action, reason: str) -> None:
        assert self._progress is not None and action.step is not None
        self._record(
            StepOutcome(
                step_id=action.step.id,
                template=action.step.template,
                status=StepStatus.SKIPPED,
                scheduled_for=action.due,
                channel=self._settings.channel,
                reason=reason,
            )
        )

    def _opt_out_waiting(self) -> bool:
        """An opt-out has arrived and waits in the inbox for the loop to apply it."""
        return self._waiting(OrderEventType.OPTED_OUT)

    def _waiting(self, kind: OrderEventType) -> bool:
        """An event of this kind has arrived and waits in the inbox: an update handled
        in the same workflow task as the signal sees it before the loop applies it."""
        return any(event.type is kind for event in self._inbox)

    def _journey_facts(self) -> JourneyFacts:
        facts = self._facts
        shipment = facts.shipment_event.shipment if facts.shipment_event else None
        return JourneyFacts(
            delivered_at=facts.delivered_at,
            promised_by=facts.promised_by,
            shipment=shipment,
            feedback=facts.feedback,
        )

    def _show(self, action: Action | None) -> None:
        """Keep the progress query and the Web UI's current details up to date."""
        assert self._progress is not None
        progress = self._progress
        progress.next_step = action.name if action else None
        progress.next_at = action.due if action else None
        progress.next_why = action.why if action else None
        progress.facts = self._journey_facts()
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        """What an operator reads at the top of the run's page: the stage, every message
        sent (and whether it landed after a stop), skipped, failed or of unknown outcome,
        and what comes next. No customer contact details."""
        assert self._progress is not None
        progress, tz = self._progress, self._tz
        lines = [f"**Stage** {self._search_stage()} · {progress.status}"]
        for outcome in progress.steps:
            if outcome.status is StepStatus.SENT:
                at = describe_local(outcome.sent_at or outcome.scheduled_for, tz)
                note = f" by {outcome.channel}, {at}"
                if outcome.stop_note:
                    note += f", {outcome.stop_note}"
            else:
                note = f": {outcome.reason or outcome.error_type}"
            lines.append(f"- {outcome.status.label} `{outcome.step_id}`{note}")
        if progress.next_step and progress.next_at:
            when = describe_local(progress.next_at, tz)
            lines.append(f"**Next** `{progress.next_step}` {when}: {progress.next_why}")
        if self._facts.feedback is not None:
            lines.append(f"**Feedback** rated {self._facts.feedback.rating} of 5")
        if progress.stop_reason:
            lines.append(f"**Stopped** {progress.stop_reason}")
        return "\n".join(lines)

    def _search_stage(self) -> str:
        """JourneyStage: the order's stage while it runs; at the end `ended` (the plan
        ran), `opted_out` or `stopped` (a provider refused the recipient)."""
        assert self._progress is not None
        facts = self._facts
        if facts.opted_out is not None:
            return "opted_out"
        if self._ended:
            return "stopped" if facts.stopped else "ended"
        return str(self._progress.stage or "waiting")

    def _index(self, next_at: datetime | None) -> None:
        """Upsert JourneyStage and NextActionAt (real time, when the worker acts next)
        when they change. Runs started before this existed never upserted, so they don't."""
        if not self._indexed or not workflow.patched(INDEX_SEARCH_ATTRIBUTES):
            return
        stage = self._search_stage()
        if next_at is not None:
            assert self._input is not None
            next_at = workflow.now() + (next_at - self._now()) / self._input.speedup
        if self._last_index == (stage, next_at):
            return
        self._last_index = (stage, next_at)
        workflow.upsert_search_attributes(
            [
                JOURNEY_STAGE.value_set(stage),
                NEXT_ACTION_AT.value_set(next_at) if next_at else NEXT_ACTION_AT.value_unset(),
            ]
        )


def _count(name: str, description: str, **labels: str) -> None:
    """Add one to a counter on the worker's metrics endpoint; not counted on replay."""
    counter = workflow.metric_meter().create_counter(name, description)
    counter.add(1, labels or None)


# journey_stopped_sends' `outcome` label, by how the journey recorded the send.
_STOPPED_SEND_OUTCOMES = {
    StepStatus.SENT: "landed_after_stop",
    StepStatus.SKIPPED: "not_sent",
    StepStatus.UNKNOWN: "unknown",
    StepStatus.FAILED: "failed",
}


def _failed(base: StepOutcome, err: ActivityError) -> StepOutcome:
    """A send that ended in an error: skipped without marketing consent, else failed."""
    failure = _failure(err)
    if failure["error_type"] == SendErrorType.NO_MARKETING_CONSENT:
        return base.model_copy(
            update={"status": StepStatus.SKIPPED, "reason": "no marketing consent"}
        )
    return base.model_copy(update=failure)


def _is_error(cause: BaseException | None, error_type: str) -> bool:
    return isinstance(cause, ApplicationError) and cause.type == error_type


def _left_in_doubt(cause: BaseException | None, check: SendCheck | None) -> bool:
    """A send that ended unaware of the stop may have reached a provider unseen: its
    last request got no answer, its worker was lost, or an earlier attempt's request
    was already in doubt (or could not be checked)."""
    if isinstance(cause, ActivityTimeoutError):
        return True  # its worker was lost: it may have been anywhere in its requests
    if _is_error(cause, RetryableSendErrorType.NO_ANSWER):
        return True
    return check is None or bool(check.unanswered)


def _judged_by_check(base: StepOutcome, check: SendCheck | None) -> StepOutcome:
    """A send that gave no word on the stop, as the check of its requests finds it."""
    unknown = {"status": StepStatus.UNKNOWN}
    if check is None:
        return base.model_copy(update=unknown | {"reason": "its requests could not be checked"})
    if check.found is not None:
        found = check.found
        return base.model_copy(
            update={
                "message_id": found.message_id,
                "channel": found.channel,
                "reason": FOUND_AFTER_STOP,
            }
        )
    if check.why is not None and not check.absent:
        return base.model_copy(update=unknown | {"reason": check.why})
    return base.model_copy(update={"status": StepStatus.SKIPPED})


def _failure(err: ActivityError) -> dict[str, object]:
    cause = err.cause
    error_type = cause.type if isinstance(cause, ApplicationError) else None
    workflow.logger.warning("send failed: %s", cause)
    return {
        "status": StepStatus.FAILED,
        "error_type": error_type or type(cause).__name__,
        "error": str(cause),
    }

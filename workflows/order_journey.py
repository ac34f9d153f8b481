"""OrderJourney: one order's whole post-purchase journey, driven by its events.

Events (placed, shipped, delivered, returned, refunded, cancelled, opted_out) arrive
as the `event` signal, or in the input of the run they start, in any order and
possibly more than once. The rules live in `journey.state`, plain Python: this class
feeds them events, updates and the journey clock, sleeps until the next thing is due,
and turns each due message into activities (`workflows.sends`).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from journey.agenda import Action
    from journey.clock import JourneyClock
    from journey.conversation import take_reply, take_status
    from journey.schedule import describe_local
    from journey.state import JourneyState, Refused
    from journey.stops import CANCELLED
    from models import JourneyProgress, JourneyStatus
    from models.conversation import CustomerReply, StatusUpdate
    from models.events import FeedbackSubmission, OrderEvent
    from models.journey import OrderJourneyInput
    from models.search import (
        JOURNEY_STAGE,
        NEXT_ACTION_AT,
        is_indexed,
        nearly_the_same,
        opening_index,
    )
    from workflows.metrics import count, count_message
    from workflows.sends import CANCEL_SEND_ON_OPT_OUT, WAIT_FOR_SEND_OUTCOME, Sends

# workflow.patched ids: each names a change to the commands a journey issues.
INDEX_SEARCH_ATTRIBUTES = "index-search-attributes"
SKIP_ANSWERED_REQUESTS = "skip-answered-requests-at-once"
HEAR_WHATSAPP = "hear-whatsapp-statuses-and-replies"
__all__ = [
    "CANCEL_SEND_ON_OPT_OUT",
    "HEAR_WHATSAPP",
    "INDEX_SEARCH_ATTRIBUTES",
    "SKIP_ANSWERED_REQUESTS",
    "WAIT_FOR_SEND_OUTCOME",
    "OrderJourney",
]


@workflow.defn
class OrderJourney:
    @workflow.init
    def __init__(self, journey: OrderJourneyInput) -> None:
        clock = JourneyClock(workflow.now(), journey.speedup, workflow.now)
        info = workflow.info()
        self._state = JourneyState(journey, info.workflow_id, clock, on_record=count_message)
        self._sends = Sends(self._state)
        self._wake = False
        # Search attributes: kept up to date only in runs started with StoreId set, and
        # upserted when they change. The starter may have set the first values already.
        self._indexed = is_indexed(info.typed_search_attributes)
        self._started_with = opening_index(info.typed_search_attributes)
        self._last_index: tuple[str, datetime | None] | None = None

    # --- the outside world's controls -------------------------------------------------

    @workflow.signal
    def event(self, event: OrderEvent) -> None:
        if self._state.receive(event):
            self._wake = True

    @workflow.update
    def submit_feedback(self, submission: FeedbackSubmission) -> str:
        state = self._state
        # Asked only when there is something to drop: the marker costs a history event.
        drop = state.answered_requests_pending() and workflow.patched(SKIP_ANSWERED_REQUESTS)
        state.take_feedback(submission, drop_answered_requests=drop)
        self._wake = True
        return "feedback received"

    @submit_feedback.validator
    def _accept_feedback(self, submission: FeedbackSubmission) -> None:
        _refuse(self._state.refuse_feedback(submission))

    @workflow.update
    def opt_out(self, reason: str = "") -> str:
        """Stop every customer message, as an `opted_out` event would. One string
        argument, so an operator can send it from the Web UI; sending it twice is harmless."""
        if self._state.opted_out():
            return "already opted out"
        # Not journey time: this may run before the run method has started.
        self.event(self._state.operator_opt_out(reason, workflow.now()))
        return "opted out"

    @opt_out.validator
    def _accept_opt_out(self, reason: str = "") -> None:
        _refuse(self._state.refuse_opt_out(reason))

    @workflow.signal
    def whatsapp_status(self, update: StatusUpdate) -> None:
        """A WhatsApp status of a message the journey sent, from Meta's webhook."""
        # Runs before this rule never heard statuses: a history without the marker
        # replays the signal as the buffered no-op it was then.
        if not workflow.patched(HEAR_WHATSAPP):
            return
        if take_status(self._state, update):
            self._wake = True
        workflow.set_current_details(self._state.details())

    @workflow.signal
    def customer_reply(self, reply: CustomerReply) -> None:
        """A message the customer sent the store on WhatsApp, from Meta's webhook."""
        if not workflow.patched(HEAR_WHATSAPP):
            return
        state = self._state

        def drop_answered_requests() -> bool:
            return state.answered_requests_pending() and workflow.patched(SKIP_ANSWERED_REQUESTS)

        if take_reply(state, reply, drop_answered_requests):
            self._wake = True
        workflow.set_current_details(state.details())

    @workflow.update
    def erase(self) -> str:
        """The customer's data was erased (their data key deleted): stop every message,
        recorded as erased. Sent by `forget`; sending it twice is harmless."""
        if self._state.erased():
            return "already erased"
        self.event(self._state.erasure(workflow.now()))
        return "erased"

    @erase.validator
    def _accept_erase(self) -> None:
        _refuse(self._state.refuse_opt_out(""))

    @workflow.query
    def progress(self) -> JourneyProgress:
        return self._state.progress

    # --- the journey ------------------------------------------------------------------

    @workflow.run
    async def run(self, journey: OrderJourneyInput) -> JourneyProgress:
        state = self._state
        count("journey_started", "journeys started")
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
            # An operator cancelled the run: it ends cancelled, recorded as stopped with
            # every message still planned skipped. Bookkeeping only, no command: runs of
            # every version end this way alike.
            state.cancel()
            workflow.set_current_details(state.details())
            count("journey_stopped", "journeys stopped", reason=state.facts.stop_kind or "other")
            workflow.logger.info("journey cancelled: %s", state.facts.stopped)
            raise
        state.close()
        workflow.set_current_details(state.details())
        self._index(None)
        progress = state.progress
        if progress.stop_reason:
            count("journey_stopped", "journeys stopped", reason=state.facts.stop_kind or "other")
        else:
            count("journey_completed", "journeys that ran their whole plan")
        workflow.logger.info("journey %s: %s", progress.status, progress.stop_reason or "done")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return progress

    async def _follow_agenda(self) -> None:
        """Apply events, send what is due, sleep until the next thing is: until done."""
        state = self._state
        while True:
            state.absorb_events()
            state.watch_delivery()
            if state.finished():
                return
            action = state.next_action()
            wake_at, why = state.next_wake(action)
            state.show(action)
            workflow.set_current_details(state.details())
            self._index(wake_at)
            if action is not None and state.is_due(action):
                state.take(action)
                await self._act(action)
                if self._sends.cancelled:
                    raise asyncio.CancelledError(CANCELLED)
                continue
            await self._sleep(wake_at, why)

    async def _act(self, action: Action) -> None:
        """Alert the store, or send a step if the rules still let it go."""
        state = self._state
        if action.alert is not None:
            state.record(await self._sends.alert(action))
            return
        step = state.step_to_send(action)
        if step is None:
            return
        state.progress.status = JourneyStatus.SENDING
        outcome = await self._sends.send(action, step)
        state.progress.status = JourneyStatus.WAITING
        state.after_send(action, outcome)

    async def _sleep(self, until: datetime | None, why: str) -> None:
        """Sleep until `until`, or until a signal or update wakes the journey."""
        self._wake = False
        if until is None:
            await workflow.wait_condition(lambda: self._wake)
            return
        clock = self._state.clock
        remaining = clock.real(until - clock.now())
        if remaining <= timedelta(0):
            return
        summary = f"wait until {describe_local(until, self._state.timezone)}: {why}"
        # On timeout the moment came; the loop then looks at what is due.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._wake, timeout=remaining, timeout_summary=summary
            )

    def _index(self, next_at: datetime | None) -> None:
        """Upsert JourneyStage and NextActionAt (real time, when the worker acts next)
        when they change. Runs started before this existed never upserted, so they don't."""
        if not self._indexed or not workflow.patched(INDEX_SEARCH_ATTRIBUTES):
            return
        stage = self._state.stage()
        if next_at is not None:
            next_at = self._state.clock.real_moment(next_at)
        current, started_with = (stage, next_at), self._started_with
        self._started_with = None
        if self._last_index is None and started_with and nearly_the_same(started_with, current):
            self._last_index = current  # the run started with these: no upsert
            return
        if self._last_index == current:
            return
        self._last_index = current
        workflow.upsert_search_attributes(
            [
                JOURNEY_STAGE.value_set(stage),
                NEXT_ACTION_AT.value_set(next_at) if next_at else NEXT_ACTION_AT.value_unset(),
            ]
        )


def _refuse(refused: Refused | None) -> None:
    """An update's validator: refuse with the rules' reason, typed for the caller."""
    if refused is not None:
        refusal, message = refused
        raise ApplicationError(message, type=refusal)

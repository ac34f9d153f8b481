"""How OrderJourney turns a due message into activities: the send, the store alert, and,
when a stop (an opt-out, an operator's cancel) meets a send in flight, the check of
what its attempts did and the wait for its own word (journey/stops.py judges it)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from journey.agenda import Action
    from journey.state import JourneyState
    from journey.stops import (
        CANCELLED,
        FOUND_AFTER_STOP,
        OPTED_OUT,
        STOPPED_SEND_OUTCOMES,
        after_stop,
        failed,
        judged_by_check,
        left_in_doubt,
    )
    from models import MessageRequest, Receipt, Step, StepKind, StepOutcome, StepStatus
    from models.errors import RetryableSendErrorType, SendErrorType
    from models.journey import SendCheck
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
    from workflows.metrics import count

# workflow.patched ids: each names a change to the commands a journey issues.
CANCEL_SEND_ON_OPT_OUT = "cancel-send-on-opt-out"
WAIT_FOR_SEND_OUTCOME = "wait-for-send-outcome"


class Sends:
    """The journey's sends and alerts, as activities. `cancelled`: an operator cancelled
    the run while a send was in flight; the journey acts on it once recorded."""

    def __init__(self, state: JourneyState) -> None:
        self.state = state
        self.cancelled = False

    async def send(self, action: Action, step: Step) -> StepOutcome:
        request = self.state.message_request(step, action.due, action)
        activity = REQUEST_FEEDBACK if step.kind is StepKind.FEEDBACK_REQUEST else SEND_MESSAGE
        base = self.state.planned_outcome(action)
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
            summary=f"send '{step.template}' by {self.state.settings.channel}",
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
            return failed(base, *_failure(err))
        return self.state.sent(base, receipt)

    async def alert(self, action: Action) -> StepOutcome:
        """Alert the store: at any hour, whatever the customer's consent."""
        base = self.state.planned_outcome(action)
        try:
            receipt = await workflow.execute_activity(
                ALERT_STORE,
                self.state.alert_request(action),
                result_type=Receipt,
                start_to_close_timeout=SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
                retry_policy=SEND_RETRY,
                summary=f"alert the store: {action.alert}",
            )
        except ActivityError as err:
            error_type, error = _failure(err)
            return base.model_copy(
                update={"status": StepStatus.FAILED, "error_type": error_type, "error": error}
            )
        return base.model_copy(
            update={"sent_at": self.state.clock.now(), "message_id": receipt.message_id}
        )

    def _opt_out_waiting(self) -> bool:
        return self.state.waiting_opt_out()

    async def _stop_during(self, sending: workflow.ActivityHandle[Receipt]) -> str | None:
        """Wait until the send ends or a stop comes (an opt-out, an operator's cancel);
        the stop, if it came first."""
        try:
            await workflow.wait_condition(lambda: sending.done() or self._opt_out_waiting())
        except asyncio.CancelledError:
            self.cancelled = True
        if sending.done():
            return None
        return CANCELLED if self.cancelled else OPTED_OUT

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
        outcome = after_stop(await self._how_it_ended(sending, request, base, check), stop)
        count(
            "journey_stopped_sends",
            "sends a stop met in flight, by how they ended",
            channel=str(outcome.channel),
            template=outcome.template,
            outcome=STOPPED_SEND_OUTCOMES[outcome.status],
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
                return judged_by_check(base, check)
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                return failed(base, *_failure(err))  # the provider refused it
            # The attempt ended unaware of the stop (a retryable failure, a lost worker),
            # and no other follows. Ask again if it, or an earlier one, may have sent.
            doubt = left_in_doubt(
                lost=isinstance(cause, ActivityTimeoutError),
                no_answer=_is_error(cause, RetryableSendErrorType.NO_ANSWER),
                check=check,
            )
            if doubt:
                return judged_by_check(base, await self._check_send(request))
            return skipped
        found = FOUND_AFTER_STOP if receipt.looked_up else None
        return self.state.sent(base, receipt).model_copy(update={"reason": found})

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
                self.cancelled = True


def _is_error(cause: BaseException | None, error_type: str) -> bool:
    return isinstance(cause, ApplicationError) and cause.type == error_type


def _failure(err: ActivityError) -> tuple[str, str]:
    """The failure's named type (`models.errors`) and message."""
    cause = err.cause
    error_type = cause.type if isinstance(cause, ApplicationError) else None
    workflow.logger.warning("send failed: %s", cause)
    return error_type or type(cause).__name__, str(cause)

"""PostPurchaseJourney (legacy): from a delivered order to the last message of its plan.
Frozen: it only has to replay the runs started before OrderJourney."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from journey.schedule import describe_local, first_send_time, next_in_window
    from models import (
        JourneyProgress,
        JourneyStatus,
        MessageRequest,
        Receipt,
        Step,
        StepKind,
        StepOutcome,
        StepStatus,
    )
    from models.durations import describe_duration
    from models.errors import STOPS_JOURNEY
    from models.journey import JourneyFacts
    from models.sending import (
        REQUEST_FEEDBACK,
        SEND_MESSAGE,
        SEND_RETRY,
        SEND_SCHEDULE_TO_CLOSE,
        SEND_START_TO_CLOSE,
    )
    from workflows.legacy.journey_input import JourneyInput


@workflow.defn
class PostPurchaseJourney:
    def __init__(self) -> None:
        self._progress: JourneyProgress | None = None
        self._origin: datetime | None = None
        self._speedup = 1

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyProgress:
        info = workflow.info()
        self._origin = workflow.now()
        self._speedup = journey.speedup
        progress = JourneyProgress(journey_id=info.workflow_id, status=JourneyStatus.WAITING)
        self._progress = progress

        order, settings = journey.order, journey.settings
        tz = order.customer.timezone
        due = first_send_time(
            order.delivered_at, settings.wait_after_delivery, settings.send_window, tz
        )
        why = (
            f"{describe_duration(settings.wait_after_delivery)} after delivery, in the send window"
        )
        if journey.first_send_delay:
            due += journey.first_send_delay
            why += f", delayed {describe_duration(journey.first_send_delay)}"
        for index, step in enumerate(journey.plan.steps):
            if index > 0:
                due += step.wait
                previous = journey.plan.steps[index - 1].id
                why = f"{describe_duration(step.wait)} after '{previous}', in the send window"
            # Never in the past (a delivery reported late, a step retried for hours), and
            # always inside the customer's window.
            due = next_in_window(max(due, self._journey_now()), settings.send_window, tz)
            progress.next_step, progress.next_at = step.id, due
            progress.status = JourneyStatus.WAITING
            await self._sleep_until(due, f"wait until {describe_local(due, tz)}: {why}")

            progress.status = JourneyStatus.SENDING
            outcome = await self._run_step(journey, step, due)
            progress.steps.append(outcome)
            if outcome.error_type in STOPS_JOURNEY:
                progress.status = JourneyStatus.STOPPED
                progress.stop_reason = f"{outcome.error_type}: {outcome.error}"
                break
        else:
            progress.status = JourneyStatus.COMPLETED
        progress.next_step, progress.next_at = None, None
        return progress

    @workflow.query
    def progress(self) -> JourneyProgress:
        assert self._progress is not None
        return self._progress

    def _journey_now(self) -> datetime:
        """Journey time: real workflow time, sped up for demos."""
        assert self._origin is not None
        return self._origin + (workflow.now() - self._origin) * self._speedup

    async def _sleep_until(self, due: datetime, summary: str) -> None:
        remaining = (due - self._journey_now()) / self._speedup
        if remaining > timedelta(0):
            await workflow.sleep(remaining, summary=summary)

    async def _run_step(self, journey: JourneyInput, step: Step, due: datetime) -> StepOutcome:
        journey_id = workflow.info().workflow_id
        request = MessageRequest(
            journey_id=journey_id,
            step=step,
            order=journey.order.without_delivery(),
            settings=journey.settings,
            scheduled_for=due,
            idempotency_key=f"{journey_id}:{step.id}",
            facts=JourneyFacts(delivered_at=journey.order.delivered_at),
        )
        activity = REQUEST_FEEDBACK if step.kind is StepKind.FEEDBACK_REQUEST else SEND_MESSAGE
        channel = journey.settings.channel
        base = StepOutcome(
            step_id=step.id,
            template=step.template,
            status=StepStatus.SENT,
            scheduled_for=due,
            channel=channel,
        )
        try:
            receipt = await workflow.execute_activity(
                activity,
                request,
                result_type=Receipt,
                start_to_close_timeout=SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
                retry_policy=SEND_RETRY,
                summary=f"send '{step.template}' by {channel}",
            )
        except ActivityError as err:
            cause = err.cause
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            workflow.logger.warning("step %s failed: %s", step.id, cause)
            return base.model_copy(
                update={
                    "status": StepStatus.FAILED,
                    "error_type": error_type or type(cause).__name__,
                    "error": str(cause),
                }
            )
        return base.model_copy(
            update={"sent_at": self._journey_now(), "message_id": receipt.message_id}
        )

"""What the journey records when a stop (an opt-out, an operator's cancel) meets a send
in flight: the send's own word, or, when it gave none, what checking its requests
found. Plain functions of the outcome and the check."""

from __future__ import annotations

from models import StepOutcome, StepStatus
from models.errors import SendErrorType
from models.journey import SendCheck

OPTED_OUT = "customer opted out"
CANCELLED = "cancelled by an operator"
ERASED = "customer data erased"
FOUND_AFTER_STOP = "an earlier request got no answer but had landed: found after the stop"

# journey_stopped_sends' `outcome` label, by how the journey recorded the send.
STOPPED_SEND_OUTCOMES = {
    StepStatus.SENT: "landed_after_stop",
    StepStatus.SKIPPED: "not_sent",
    StepStatus.UNKNOWN: "unknown",
    StepStatus.FAILED: "failed",
}


def failed(base: StepOutcome, error_type: str, error: str) -> StepOutcome:
    """A send that ended in an error: skipped without marketing consent, else failed."""
    if error_type == SendErrorType.NO_MARKETING_CONSENT:
        return base.model_copy(
            update={"status": StepStatus.SKIPPED, "reason": "no marketing consent"}
        )
    if error_type == SendErrorType.CUSTOMER_ERASED:
        return base.model_copy(
            update={"status": StepStatus.SKIPPED, "reason": ERASED, "error_type": error_type}
        )
    return base.model_copy(
        update={"status": StepStatus.FAILED, "error_type": error_type, "error": error}
    )


def left_in_doubt(*, lost: bool, no_answer: bool, check: SendCheck | None) -> bool:
    """A send that ended unaware of the stop may have reached a provider unseen: its
    worker was lost (it may have been anywhere in its requests), its last request got no
    answer, or an earlier attempt's request was already in doubt (or could not be
    checked)."""
    return lost or no_answer or check is None or bool(check.unanswered)


def judged_by_check(base: StepOutcome, check: SendCheck | None) -> StepOutcome:
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


def after_stop(outcome: StepOutcome, stop: str) -> StepOutcome:
    """The outcome marked with the stop it met; a send not made says why."""
    outcome = outcome.model_copy(update={"after_stop": stop})
    if outcome.status is StepStatus.SKIPPED and outcome.reason is None:
        outcome = outcome.model_copy(update={"reason": stop})
    return outcome

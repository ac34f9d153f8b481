"""`status`: one journey as an operator reads it: what was sent (and whether after a
stop), skipped, of unknown outcome or failed, what comes next, the feedback, the stop
reason; or, for a stuck journey, the error it is stuck on."""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus

from models import JourneyProgress, StepOutcome, StepStatus
from models.conversation import CustomerReply, DeliveryStatus, ReplyKind
from models.sealed import text_length
from models.search import JOURNEY_STAGE
from operators.stuck import Stuck, describe, stuck
from runtime.observability import redact_contacts
from starter import JourneyNotFound
from workflows import OrderJourney


def _when(moment: datetime | None, like: datetime | None = None) -> str:
    """A time in the offset the journey gave it (the customer's), or `like`'s."""
    if moment is None:
        return "-"
    if like is not None and like.tzinfo is not None:
        moment = moment.astimezone(like.tzinfo)
    return moment.strftime("%a %d %b %Y %H:%M %z")


def format_stuck(description: WorkflowExecutionDescription, problem: Stuck) -> str:
    """A stuck journey: its progress cannot be read until a fixed worker runs it."""
    return "\n".join(
        [
            f"Journey   {description.id}",
            "Run       running · STUCK",
            f"Started   {_when(description.start_time)}",
            f"Stuck     {problem.describe()}",
            "          Deploy a fixed worker and the journey goes on where it stopped,",
            "          or stop it with `temporal workflow terminate`.",
        ]
    )


def _step_detail(step: StepOutcome) -> str:
    """One step in `status`: when and how it was sent, or why it was not, or why nobody
    knows whether it was."""
    if step.status is not StepStatus.SENT:
        return f"{step.reason} (due {_when(step.scheduled_for)})"
    detail = f"{_when(step.sent_at, step.scheduled_for)}  {step.channel}  message {step.message_id}"
    if step.stop_note:
        detail += f"  {step.stop_note}"
    for note in _delivery_notes(step):
        detail += f"\n  {'':<20}   {note}"
    return detail


def _delivery_notes(step: StepOutcome) -> list[str]:
    """What WhatsApp's statuses said of a sent message, and the customer's answer."""
    notes: list[str] = []
    delivery, like = step.delivery, step.scheduled_for
    if delivery is not None:
        if delivery.delivered_at is not None:
            notes.append(f"delivered {_when(delivery.delivered_at, like)}")
        if delivery.read_at is not None:
            notes.append(f"read      {_when(delivery.read_at, like)}")
        if delivery.status is DeliveryStatus.FAILED:
            then = "; the next channel took it" if delivery.fell_back else ""
            notes.append(f"failed    {_when(delivery.failed_at, like)}: {delivery.error}{then}")
    if step.answered_at is not None:
        notes.append(f"answered  {_when(step.answered_at, like)}")
    return notes


def _reply_detail(reply: CustomerReply, like: datetime | None) -> str:
    """A customer's message: when, to what, what it became; its length, not its text."""
    if reply.kind is ReplyKind.OPT_OUT:
        what = f"opt-out keyword {reply.keyword}"
    elif reply.kind is ReplyKind.MEDIA:
        what = reply.media_type or "media"
    else:
        what = f"text, {text_length(reply.text)} characters"
    to = f"  to {reply.answers}" if reply.answers else ""
    taken = f": {reply.taken_as.replace('_', ' ')}" if reply.taken_as else ""
    return f"  {_when(reply.received_at, like)}{to}  ({what}){taken}"


def format_status(description: WorkflowExecutionDescription, progress: JourneyProgress) -> str:
    """The progress as an operator reads it: sent (and whether after a stop), skipped,
    of unknown outcome, failed, next, feedback."""
    stage = description.typed_search_attributes.get(JOURNEY_STAGE)
    status = description.status.name if description.status else "UNKNOWN"
    lines = [
        f"Journey   {progress.journey_id}",
        f"Run       {status.lower()} · journey {progress.status}"
        + (f" · stage {stage or progress.stage}" if stage or progress.stage else ""),
        f"Started   {_when(description.start_time)}",
    ]
    if progress.customer:  # masked: the codec server shows them whole, to operators
        lines.insert(1, f"Customer  {' · '.join(progress.customer.values())}")
    if description.close_time:
        lines.append(f"Closed    {_when(description.close_time)}")
    if progress.events:
        lines.append(f"Events    {', '.join(progress.events)}")
    for label, wanted in (
        ("Sent", StepStatus.SENT),
        ("Skipped", StepStatus.SKIPPED),
        ("Outcome unknown", StepStatus.UNKNOWN),
    ):
        chosen = [s for s in progress.steps if s.status is wanted]
        if chosen:
            lines.append(label)
        for step in chosen:
            lines.append(f"  {step.step_id:<20} {_step_detail(step)}")
    failed = [s for s in progress.steps if s.status is StepStatus.FAILED]
    if failed:
        lines.append("Failed")
    for step in failed:
        # A provider's error text can quote the address it refused.
        lines.append(f"  {step.step_id:<20} {step.error_type}: {redact_contacts(step.error or '')}")
    if progress.next_step:
        lines.append(
            f"Next      {progress.next_step} at {_when(progress.next_at)}: {progress.next_why}"
        )
    elif progress.status in ("waiting", "sending"):
        lines.append("Next      nothing planned: waiting for an order event")
    if progress.replies:
        lines.append("Replies   (on WhatsApp; the text went to the store)")
        like = progress.steps[0].scheduled_for if progress.steps else None
        lines += [_reply_detail(reply, like) for reply in progress.replies]
    feedback = progress.facts.feedback
    if feedback is not None:
        comment = f': "{feedback.comment}"' if feedback.comment else ""
        lines.append(f"Feedback  rated {feedback.rating} of 5{comment}")
    if progress.opted_out:
        lines.append("Opted out yes")
    if progress.stop_reason:
        lines.append(f"Stopped   {progress.stop_reason}")
    return "\n".join(lines)


async def journey_status(client: Client, workflow_id: str) -> str:
    handle = client.get_workflow_handle_for(OrderJourney.run, workflow_id)
    description = await describe(handle)
    if description is None:
        raise JourneyNotFound(f"no journey {workflow_id}")
    problem = await stuck(handle, description, client.data_converter)
    if problem is not None:
        return format_stuck(description, problem)
    if description.status is WorkflowExecutionStatus.COMPLETED:
        progress = await handle.result()  # the run's own record, no worker needed
    else:
        progress = await handle.query(OrderJourney.progress)
    return format_status(description, progress)

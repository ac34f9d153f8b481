"""What an operator reads of a journey: the run's summary and details in the Web UI,
its current details as it goes, and the stage its search attribute carries. Plain
functions of the journey's state; contact data only masked (models.sealed)."""

from __future__ import annotations

from datetime import datetime

from journey.agenda import Facts
from journey.schedule import describe_local
from models import JourneyProgress, StepOutcome, StepStatus
from models.conversation import CustomerReply, DeliveryStatus, ReplyKind
from models.durations import describe_duration
from models.journey import OrderJourneyInput
from models.order import Order
from models.sealed import text_length


def run_summary(order: Order, delivered_at: datetime | None = None) -> str:
    """The one-line summary set when the run starts."""
    summary = f"Order {order.order_id} of store {order.store_id}"
    if delivered_at is not None:
        summary += f", delivered {describe_local(delivered_at, order.customer.timezone)}"
    return summary


def run_details(journey: OrderJourneyInput) -> str:
    """The run's static details: the channel, the send window and the plan."""
    steps = "\n".join(
        f"{n}. `{step.id}` ({step.kind}, {step.purpose}, template `{step.template}`)"
        + (f", {describe_duration(step.wait)} after the previous step" if n > 1 else "")
        for n, step in enumerate(journey.plan.steps, start=1)
    )
    settings = journey.settings
    return (
        f"**Channel** {settings.channel} · **send window** {settings.send_window.describe()} "
        f"{journey.order.customer.timezone} · **first message after delivery** "
        f"{describe_duration(settings.wait_after_delivery)} later\n\n{steps}"
    )


def search_stage(progress: JourneyProgress, facts: Facts, *, ended: bool) -> str:
    """JourneyStage: the order's stage while it runs; at the end `ended` (the plan ran),
    `opted_out` or `stopped` (a provider refused the recipient, an operator cancelled)."""
    if facts.opted_out is not None:
        return "opted_out"
    if ended:
        return "stopped" if facts.stopped else "ended"
    return str(progress.stage or "waiting")


def current_details(
    progress: JourneyProgress,
    facts: Facts,
    stage: str,
    timezone: str,
    *,
    listening_until: datetime | None = None,
    unrecorded_replies: int = 0,
) -> str:
    """What an operator reads at the top of the run's page: the stage, every message
    sent (and whether it landed after a stop, was delivered, read or answered),
    skipped, failed or of unknown outcome, what comes next, the customer's replies
    (never their text), the feedback and the stop reason."""
    lines = [f"**Stage** {stage} · {progress.status}"]
    if progress.customer:
        lines.append(f"**Customer** {' · '.join(progress.customer.values())}")
    for outcome in progress.steps:
        if outcome.status is StepStatus.SENT:
            at = describe_local(outcome.sent_at or outcome.scheduled_for, timezone)
            note = f" by {outcome.channel}, {at}"
            if outcome.stop_note:
                note += f", {outcome.stop_note}"
            note += "".join(f", {part}" for part in delivery_notes(outcome, timezone))
        else:
            note = f": {outcome.reason or outcome.error_type}"
        lines.append(f"- {outcome.status.label} `{outcome.step_id}`{note}")
    if progress.next_step and progress.next_at:
        when = describe_local(progress.next_at, timezone)
        lines.append(f"**Next** `{progress.next_step}` {when}: {progress.next_why}")
    elif listening_until is not None:
        when = describe_local(listening_until, timezone)
        lines.append(f"**Listening** until {when} for WhatsApp statuses and replies")
    for reply in progress.replies:
        lines.append(f"- {reply_note(reply, timezone)}")
    if unrecorded_replies:
        lines.append(f"- {unrecorded_replies} more replies, past the limit: not recorded")
    if facts.feedback is not None:
        lines.append(f"**Feedback** rated {facts.feedback.rating} of 5")
    if progress.stop_reason:
        lines.append(f"**Stopped** {progress.stop_reason}")
    return "\n".join(lines)


def delivery_notes(outcome: StepOutcome, timezone: str) -> list[str]:
    """What WhatsApp said of a sent message, and whether the customer answered it."""
    notes: list[str] = []
    delivery = outcome.delivery
    if delivery is not None:
        if delivery.delivered_at is not None:
            notes.append(f"delivered {describe_local(delivery.delivered_at, timezone)}")
        if delivery.read_at is not None:
            notes.append(f"read {describe_local(delivery.read_at, timezone)}")
        if delivery.status is DeliveryStatus.FAILED:
            failed = f"failed after it was sent: {delivery.error}"
            notes.append(failed + ("; the next channel took it" if delivery.fell_back else ""))
    if outcome.answered_at is not None:
        notes.append(f"answered {describe_local(outcome.answered_at, timezone)}")
    return notes


def reply_note(reply: CustomerReply, timezone: str) -> str:
    """A customer's message as operators read it: when, to what, what it became, and
    how long it is, never what it says (customer data)."""
    at = describe_local(reply.received_at, timezone)
    to = f" to `{reply.answers}`" if reply.answers else ""
    if reply.kind is ReplyKind.OPT_OUT:
        what = f"opt-out keyword {reply.keyword}"
    elif reply.kind is ReplyKind.MEDIA:
        what = f"{reply.media_type or 'media'}"
    else:
        what = f"text, {text_length(reply.text)} characters"
    taken = f": {reply.taken_as.replace('_', ' ')}" if reply.taken_as else ""
    return f"reply{to} {at} ({what}){taken}"

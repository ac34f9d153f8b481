"""The journey's counters on the worker's metrics endpoint, added from workflow code
through the SDK's metric meter, which does not count again when a worker replays."""

from __future__ import annotations

from temporalio import workflow

from models import StepOutcome


def count(name: str, description: str, **labels: str) -> None:
    """Add one to a counter."""
    counter = workflow.metric_meter().create_counter(name, description)
    counter.add(1, labels or None)


def count_message(outcome: StepOutcome) -> None:
    """A message or store alert, as the journey recorded it."""
    count(
        "journey_messages",
        "messages by channel, template and outcome (sent, failed, skipped, unknown)",
        channel=str(outcome.channel),
        template=outcome.template,
        outcome=str(outcome.status),
    )

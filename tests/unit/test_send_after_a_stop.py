"""A send's word to a journey that stopped it, through the real adapters and providers
on loopback. The trail earlier attempts left in the heartbeat details decides between
"not sent" and "outcome unknown"; a provider that can be asked without sending again
(the outbox) settles an unknown; nothing is ever sent after the stop."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from activities.channels import OutboxAdapter
from models import MessageRequest, Receipt
from models.errors import SendErrorType
from tests.fake_whatsapp import FakeWhatsApp
from tests.messages import KEY, lines, message, request


def attempt(number: int = 1, trail: dict[str, Any] | None = None) -> ActivityEnvironment:
    """Attempt `number` of a send, finding `trail` left by the attempts before it."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, attempt=number, heartbeat_details=[trail] if trail is not None else []
    )
    return env


async def word(activities: JourneyActivities, env: ActivityEnvironment) -> Receipt:
    """What the send says when the journey stops it (cancel_requested: an opt-out or an
    operator's cancel) as the attempt starts, before its request leaves."""

    async def stopped_send(req: MessageRequest) -> Receipt:
        env.cancel()  # thrown into the send at its first await, as a real cancel is
        return await activities.send_message(req)

    return await env.run(stopped_send, request())


async def refusal(activities: JourneyActivities, env: ActivityEnvironment) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        await word(activities, env)
    assert exc.value.non_retryable
    return exc.value


async def test_a_send_stopped_before_any_request_says_not_sent_and_calls_no_one(
    provider_activities: JourneyActivities, whatsapp: FakeWhatsApp
) -> None:
    error = await refusal(provider_activities, attempt())
    assert error.type == SendErrorType.STOPPED_BEFORE_SENDING
    assert whatsapp.requests == []


async def test_after_earlier_attempts_that_were_all_answered_it_is_not_sent(
    provider_activities: JourneyActivities, whatsapp: FakeWhatsApp
) -> None:
    # Attempt 1 got a 503: an answer, so nothing of it can have landed.
    answered: dict[str, Any] = {"attempt": 1, "in_flight": None, "unanswered": []}
    error = await refusal(provider_activities, attempt(2, answered))
    assert error.type == SendErrorType.STOPPED_BEFORE_SENDING
    assert whatsapp.requests == []


@pytest.mark.parametrize(
    ("number", "trail"),
    [
        # Attempt 1's request timed out: it may have landed.
        (2, {"attempt": 1, "unanswered": [KEY]}),
        # Attempt 1's worker died while its request was out.
        (2, {"attempt": 1, "in_flight": KEY}),
        # Attempt 2 died before it left any trail: it may have sent.
        (3, {"attempt": 1, "unanswered": []}),
    ],
    ids=["timed-out", "died-in-flight", "left-no-trail"],
)
async def test_on_whatsapp_an_earlier_request_in_doubt_leaves_the_outcome_unknown(
    provider_activities: JourneyActivities,
    whatsapp: FakeWhatsApp,
    number: int,
    trail: dict[str, Any],
) -> None:
    error = await refusal(provider_activities, attempt(number, trail))
    assert error.type == SendErrorType.OUTCOME_UNKNOWN
    assert "whatsapp by cloud_api cannot say" in error.message
    # The Cloud API takes no idempotency key: asking by sending again would message
    # the customer after the stop, so it is never done.
    assert whatsapp.requests == []


async def test_the_outbox_is_asked_and_a_message_an_earlier_attempt_wrote_counts_as_sent(
    outbox_activities: JourneyActivities, outbox_path: Path
) -> None:
    # Attempt 1 wrote the line, then its worker died before it could say so.
    written = await OutboxAdapter(outbox_path).deliver(message(KEY))
    receipt = await word(outbox_activities, attempt(2, {"attempt": 1, "in_flight": KEY}))
    assert receipt.looked_up and receipt.message_id == written.message_id
    assert len(lines(outbox_path)) == 1


async def test_the_outbox_is_asked_and_a_message_it_never_took_is_not_sent(
    outbox_activities: JourneyActivities, outbox_path: Path
) -> None:
    error = await refusal(outbox_activities, attempt(2, {"attempt": 1, "in_flight": KEY}))
    assert error.type == SendErrorType.STOPPED_BEFORE_SENDING
    assert not outbox_path.exists() or lines(outbox_path) == []

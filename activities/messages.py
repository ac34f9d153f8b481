"""The activities a journey runs: render a step's message and deliver it.

A send walks the channel route (models.channels): the first channel that can carry
the message gets it. When a provider answers that the contact is unreachable on
its channel (WhatsApp 131026), the send records that and moves on to the next
channel in the same attempt, and the receipt says which channels to skip later.

A stop (an opt-out, an operator's cancel) that meets a send gets the send's word on
what the customer got (activities/stops.py): its receipt, `StoppedBeforeSending`, or
`SendOutcomeUnknown`. `check_send` tells a stop what a send waiting between attempts
did, since the server cancels such a send without asking it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.alerts import StoreAlerts
from activities.channels.base import ChannelAdapter, OutgoingMessage, TemplateCall
from activities.channels.http_errors import left_without_answer
from activities.heartbeat import heartbeating
from activities.stops import (
    SendTrail,
    despite_stop,
    journey_stopped,
    leave_unless_stopped,
    pending_send,
)
from activities.unsealing import Unsealer
from messages.feedback_links import feedback_url
from messages.rendering import (
    RenderedMessage,
    Renderer,
    TemplateProblem,
    message_context,
    variable,
)
from models import Channel, MessageCategory, MessageRequest, Receipt
from models.channels import (
    WHATSAPP_LANGUAGES,
    Candidate,
    Obstacle,
    message_category,
    route,
    route_reason,
)
from models.errors import (
    CANNOT_CARRY,
    CONTACT_FAILURES,
    RetryableSendErrorType,
    SendErrorType,
)
from models.journey import SendCheck
from models.sending import CHECK_SEND, REQUEST_FEEDBACK, SEND_MESSAGE


def idempotency_key(request: MessageRequest, index: int, channel: Channel) -> str:
    """The first channel tried keeps the step's key; a fallback gets its own.

    The route is a pure function of the request, and an unreachable contact answers
    the same on every attempt, so a retry after a crash tries the same channels with
    the same keys and the provider drops the repeat. A separate key for a fallback
    keeps a provider that saw the failed first try (one webhook carrying both
    channels) from taking the fallback for a repeat of it.
    """
    if index == 0:
        return request.idempotency_key
    return f"{request.idempotency_key}:{channel}"


def candidates_for(request: MessageRequest) -> list[Candidate]:
    """The channels that may carry the message, in order. An answer to the customer's
    own WhatsApp message goes back the way it came, and only that way: the customer
    opened the conversation, so it needs no opt-in, and it is no message for email."""
    customer, settings = request.order.customer, request.settings
    if request.reply_to is not None:
        missing = [] if customer.phone else [Obstacle(reason="no phone")]
        return [Candidate(channel=Channel.WHATSAPP, role="answer", obstacles=missing)]
    category = message_category(request.step, settings)
    return route(customer, settings, category, request.unreachable)


def route_keys(request: MessageRequest) -> list[tuple[str, Channel]]:
    """The idempotency key and channel of every request the send may make, in order."""
    usable = [c for c in candidates_for(request) if c.usable]
    return [(idempotency_key(request, i, c.channel), c.channel) for i, c in enumerate(usable)]


def no_route_error(candidates: list[Candidate], category: MessageCategory) -> ApplicationError:
    why = "; ".join(f"{c.channel}: {c.describe_obstacles()}" for c in candidates)
    no_consent_only = category is MessageCategory.MARKETING and any(
        [o.reason for o in c.obstacles] == ["no marketing consent"] for c in candidates
    )
    error_type = SendErrorType.NO_MARKETING_CONSENT if no_consent_only else SendErrorType.NO_CONTACT
    return ApplicationError(
        f"no channel can carry this message ({why})", type=error_type, non_retryable=True
    )


class JourneyActivities:
    """Holds what activities share for the worker's lifetime: compiled templates,
    the channel adapters and their HTTP connection pools."""

    def __init__(
        self,
        renderer: Renderer,
        adapters: Mapping[Channel, ChannelAdapter],
        feedback_secret: bytes,
        alerts: StoreAlerts,
        *,
        feedback_page: str,
        unsealer: Unsealer | None = None,
    ) -> None:
        self._renderer = renderer
        self._adapters = dict(adapters)
        self._feedback_secret = feedback_secret
        self._feedback_page = feedback_page  # the web service's, where links point
        self.alerts = alerts
        self._unsealer = unsealer or Unsealer()

    @property
    def all(self) -> list[Callable[..., Awaitable[object]]]:
        """Every activity, for registering on a worker."""
        return [self.send_message, self.request_feedback, self.check_send, self.alerts.alert_store]

    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, request: MessageRequest) -> Receipt:
        request = await self._unsealer.message(request)
        context = message_context(request.order, request.settings, facts=request.facts)
        return await self._deliver(request, context)

    @activity.defn(name=REQUEST_FEEDBACK)
    async def request_feedback(self, request: MessageRequest) -> Receipt:
        request = await self._unsealer.message(request)
        url = self.feedback_link(request, issued_at=request.scheduled_for)
        context = message_context(request.order, request.settings, url, request.facts)
        return await self._deliver(request, context)

    @activity.defn(name=CHECK_SEND)
    async def check_send(self, request: MessageRequest) -> SendCheck:
        """What a send's attempts did, read just before a stop cancels it, and again if
        it ended in doubt without a word on the stop. A send waiting between attempts is
        cancelled by the server at once, without a word from it; its trail, kept by the
        server for the next attempt, is read now or never."""
        pending = await pending_send(activity.client(), request.journey_id)
        keys = route_keys(request)
        if pending is None:
            # It ended without a word on the stop, and its trail went with it: every
            # request it may have made is in doubt.
            return await self._ask_providers(SendTrail(lost_attempt=True), keys)
        trail = SendTrail.from_details(pending.details).as_found_by(pending.attempt)
        if pending.running:
            # The running attempt gets the cancel and gives its own word, asking the
            # providers itself. This answer counts only if it ends before the cancel
            # reaches it; a request still out then shows in its trail after 2 s.
            doubts = trail.doubts([key for key, _ in keys])
            why = (
                "a request of it got no answer, and the provider was not asked" if doubts else None
            )
            return SendCheck(pending=True, running=True, unanswered=doubts, why=why)
        asked = await self._ask_providers(trail, keys)
        return asked.model_copy(update={"pending": True})

    async def aclose(self) -> None:
        # One adapter may carry several channels; close each once.
        for adapter in {id(a): a for a in self._adapters.values()}.values():
            await adapter.aclose()
        await self.alerts.aclose()

    def feedback_link(self, request: MessageRequest, *, issued_at: datetime) -> str:
        # Issued at the step's due time, not the wall clock: every retry gets the same link.
        # It carries the customer's locale, so the page speaks the customer's language.
        return feedback_url(
            self._feedback_page,
            journey_id=request.journey_id,
            order_id=request.order.order_id,
            step_id=request.step.id,
            issued_at=issued_at,
            ttl=request.settings.feedback_link_ttl,
            secret=self._feedback_secret,
            locale=request.order.customer.locale,
        )

    async def _deliver(self, request: MessageRequest, context: dict[str, Any]) -> Receipt:
        customer = request.order.customer
        category = message_category(request.step, request.settings)
        candidates = candidates_for(request)
        usable = [c for c in candidates if c.usable]
        if not usable:
            raise no_route_error(candidates, category)
        try:
            rendered = self._renderer.render(request.step.template, customer.locale, context)
            template_call = self._template_call(request, context)
        except TemplateProblem as err:
            raise ApplicationError(
                str(err), type=SendErrorType.TEMPLATE_ERROR, non_retryable=True
            ) from err

        messages = [
            self._message(request, rendered, category, template_call, index, c.channel)
            for index, c in enumerate(usable)
        ]
        trail = SendTrail.carried()
        try:
            return await self._send_along(messages, candidates, trail)
        except BaseException:
            trail.record()  # for the next attempt, and for a stop before it
            raise

    async def _send_along(
        self, messages: list[OutgoingMessage], candidates: list[Candidate], trail: SendTrail
    ) -> Receipt:
        """Offer the message to each channel of the route in turn (one message each),
        until one takes it or the journey stops the send."""
        failed: dict[Channel, str] = {}
        unreachable: list[Channel] = []
        for index, message in enumerate(messages):
            channel = message.channel
            if journey_stopped():
                return await self._word_after_stop(messages, trail)
            try:
                receipt = await self._request(message, trail)
            except ApplicationError as err:
                _count_attempt(channel, message.template, str(err.type or "error"))
                if journey_stopped() and not err.non_retryable:
                    return await self._word_after_stop(messages, trail)
                is_last = index == len(messages) - 1
                if is_last or err.type not in CONTACT_FAILURES | CANNOT_CARRY:
                    raise
                failed[channel] = f"{err.type}: {err.message}"
                if err.type in CONTACT_FAILURES:
                    unreachable.append(channel)
                activity.logger.warning(
                    "%s cannot carry %s (%s); trying %s",
                    channel,
                    message.step_id,
                    err.message,
                    messages[index + 1].channel,
                )
                continue
            except Exception:
                if journey_stopped():
                    return await self._word_after_stop(messages, trail)
                raise
            outcome = "duplicate" if receipt.duplicate else "accepted"
            _count_attempt(channel, message.template, outcome)
            receipt = receipt.model_copy(
                update={
                    "route_reason": route_reason(candidates, channel, failed),
                    "unreachable": unreachable,
                }
            )
            activity.logger.info(
                "sent %s by %s via %s (message id %s%s; %s)%s",
                message.step_id,
                receipt.channel,
                receipt.adapter,
                receipt.message_id,
                ", already delivered" if receipt.duplicate else "",
                receipt.route_reason,
                ", answered after the journey stopped it" if journey_stopped() else "",
            )
            return receipt
        raise AssertionError("unreachable: the last candidate returns or raises")

    async def _request(self, message: OutgoingMessage, trail: SendTrail) -> Receipt:
        """One request to the channel's provider, kept in the trail while it is out."""
        adapter = self._adapters[message.channel]
        trail.leaving(message.idempotency_key)
        try:
            with heartbeating(trail.details):
                receipt = await leave_unless_stopped(lambda: adapter.deliver(message))
        except Exception as err:
            if not left_without_answer(err):
                trail.answered()
                raise
            trail.left_unanswered()
            raise ApplicationError(
                f"{message.channel} by {adapter.name} gave no answer: {err!r}",
                message.idempotency_key,
                type=RetryableSendErrorType.NO_ANSWER,
            ) from err
        trail.answered()
        return receipt

    async def _word_after_stop(self, messages: list[OutgoingMessage], trail: SendTrail) -> Receipt:
        """What the send tells a journey that stopped it, once no request of it is out:
        the receipt of a message a provider says it took, or an error naming the send
        not sent or of unknown outcome. Never a new request."""
        keys = [(m.idempotency_key, m.channel) for m in messages]
        asked = await despite_stop(lambda: self._ask_providers(trail, keys))
        if asked.found is not None:
            activity.logger.info(
                "%s found at its provider after the journey stopped it (message id %s)",
                messages[0].step_id,
                asked.found.message_id,
            )
            return asked.found
        if asked.why is None:
            raise ApplicationError(
                "the journey stopped this send before any request of it left",
                type=SendErrorType.STOPPED_BEFORE_SENDING,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            )
        raise ApplicationError(
            asked.why,
            type=SendErrorType.OUTCOME_UNKNOWN,
            non_retryable=True,
            category=ApplicationErrorCategory.BENIGN,
        )

    async def _ask_providers(self, trail: SendTrail, keys: list[tuple[str, Channel]]) -> SendCheck:
        """What the providers say of the requests the trail leaves in doubt, asked in a way
        that never sends: a message found, all absent, or why the outcome stays unknown."""
        channels = dict(keys)
        doubts = trail.doubts([key for key, _ in keys])
        if not doubts:
            return SendCheck()
        cannot_tell: list[str] = []
        for key in doubts:
            adapter = self._adapters[channels[key]]
            answer = await adapter.look_up(key, channels[key])
            if answer.receipt is not None:
                return SendCheck(unanswered=doubts, found=answer.receipt)
            if not answer.absent:
                cannot_tell.append(f"{channels[key]} by {adapter.name}")
        if not cannot_tell:
            return SendCheck(unanswered=doubts, absent=True)
        why = (
            "a request of it left without an answer (or with its worker lost), and "
            f"{', '.join(cannot_tell)} cannot say whether it took it without sending again"
        )
        return SendCheck(unanswered=doubts, why=why)

    def _template_call(
        self, request: MessageRequest, context: dict[str, Any]
    ) -> TemplateCall | None:
        mapped = request.settings.whatsapp_templates.get(request.step.template)
        if mapped is None:
            return None
        return TemplateCall(
            name=mapped.name,
            language=WHATSAPP_LANGUAGES[request.order.customer.locale],
            parameters=[variable(context, path) for path in mapped.parameters],
        )

    @staticmethod
    def _message(
        request: MessageRequest,
        rendered: RenderedMessage,
        category: MessageCategory,
        template_call: TemplateCall | None,
        index: int,
        channel: Channel,
    ) -> OutgoingMessage:
        customer = request.order.customer
        to = customer.phone if channel is Channel.WHATSAPP else customer.email
        assert to is not None  # the route skips channels without an address
        return OutgoingMessage(
            idempotency_key=idempotency_key(request, index, channel),
            journey_id=request.journey_id,
            order_id=request.order.order_id,
            step_id=request.step.id,
            template=request.step.template,
            channel=channel,
            locale=customer.locale,
            to=to,
            customer_name=customer.name,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            scheduled_for=request.scheduled_for,
            category=category,
            whatsapp_template=template_call if channel is Channel.WHATSAPP else None,
            reply_to=request.reply_to,
            attempt=activity.info().attempt if activity.in_activity() else 1,
        )


def _count_attempt(channel: Channel, template: str, outcome: str) -> None:
    """Provider answers by channel, template and outcome (`accepted`, `duplicate`, or the
    refusal's error type), on the worker's metrics endpoint. Transient failures that
    Temporal retries show in the SDK's activity metrics instead."""
    if not activity.in_activity():
        return
    counter = activity.metric_meter().create_counter(
        "journey_provider_answers", "provider answers to sends by channel, template and outcome"
    )
    counter.add(1, {"channel": str(channel), "template": template, "outcome": outcome})

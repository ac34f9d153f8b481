"""The activities a journey runs: render a step's message and deliver it.

A send walks the channel route (models.channels): the first channel that can carry
the message gets it. When a provider answers that the contact is unreachable on
its channel (WhatsApp 131026), the send records that and moves on to the next
channel in the same attempt, and the receipt says which channels to skip later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.alerts import StoreAlerts
from activities.channels.base import ChannelAdapter, OutgoingMessage, TemplateCall
from activities.feedback_link import feedback_url
from activities.heartbeat import heartbeating
from activities.rendering import (
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
    message_category,
    route,
    route_reason,
)
from models.errors import CANNOT_CARRY, CONTACT_FAILURES, SendErrorType


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
    ) -> None:
        self._renderer = renderer
        self._adapters = dict(adapters)
        self._feedback_secret = feedback_secret
        self.alerts = alerts

    @property
    def all(self) -> list[Callable[..., Awaitable[Receipt]]]:
        """Every activity, for registering on a worker."""
        return [self.send_message, self.request_feedback, self.alerts.alert_store]

    @activity.defn(name="send_message")
    async def send_message(self, request: MessageRequest) -> Receipt:
        context = message_context(request.order, request.settings, facts=request.facts)
        return await self._deliver(request, context)

    @activity.defn(name="request_feedback")
    async def request_feedback(self, request: MessageRequest) -> Receipt:
        url = self.feedback_link(request, issued_at=request.scheduled_for)
        context = message_context(request.order, request.settings, url, request.facts)
        return await self._deliver(request, context)

    async def aclose(self) -> None:
        # One adapter may carry several channels; close each once.
        for adapter in {id(a): a for a in self._adapters.values()}.values():
            await adapter.aclose()
        await self.alerts.aclose()

    def feedback_link(self, request: MessageRequest, *, issued_at: datetime) -> str:
        # Issued at the step's due time, not the wall clock: every retry gets the same link.
        return feedback_url(
            str(request.settings.review_url),
            journey_id=request.journey_id,
            order_id=request.order.order_id,
            step_id=request.step.id,
            issued_at=issued_at,
            ttl=request.settings.feedback_link_ttl,
            secret=self._feedback_secret,
        )

    async def _deliver(self, request: MessageRequest, context: dict[str, Any]) -> Receipt:
        customer = request.order.customer
        category = message_category(request.step, request.settings)
        candidates = route(customer, request.settings, category, request.unreachable)
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

        failed: dict[Channel, str] = {}
        unreachable: list[Channel] = []
        for index, candidate in enumerate(usable):
            channel = candidate.channel
            message = self._message(request, rendered, category, template_call, index, channel)
            try:
                with heartbeating():
                    receipt = await self._adapters[channel].deliver(message)
            except ApplicationError as err:
                _count_attempt(channel, request.step.template, str(err.type or "error"))
                is_last = index == len(usable) - 1
                if is_last or err.type not in CONTACT_FAILURES | CANNOT_CARRY:
                    raise
                failed[channel] = f"{err.type}: {err.message}"
                if err.type in CONTACT_FAILURES:
                    unreachable.append(channel)
                activity.logger.warning(
                    "%s cannot carry %s (%s); trying %s",
                    channel,
                    request.step.id,
                    err.message,
                    usable[index + 1].channel,
                )
                continue
            outcome = "duplicate" if receipt.duplicate else "accepted"
            _count_attempt(channel, request.step.template, outcome)
            receipt = receipt.model_copy(
                update={
                    "route_reason": route_reason(candidates, channel, failed),
                    "unreachable": unreachable,
                }
            )
            activity.logger.info(
                "sent %s by %s via %s (message id %s%s; %s)",
                request.step.id,
                receipt.channel,
                receipt.adapter,
                receipt.message_id,
                ", already delivered" if receipt.duplicate else "",
                receipt.route_reason,
            )
            return receipt
        raise AssertionError("unreachable: the last candidate returns or raises")

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

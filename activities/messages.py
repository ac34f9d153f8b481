"""The activities a journey runs: render a step's message and deliver it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.alerts import StoreAlerts
from activities.channels.base import ChannelAdapter, OutgoingMessage
from activities.feedback_link import feedback_url
from activities.heartbeat import heartbeating
from activities.rendering import Renderer, TemplateProblem, message_context
from models import Channel, MessageRequest, Receipt
from models.errors import SendErrorType


class NoContact(Exception):
    pass


def recipient(request: MessageRequest) -> str:
    customer = request.order.customer
    address = customer.phone if request.settings.channel is Channel.WHATSAPP else customer.email
    if address is None:
        raise NoContact(f"customer has no contact for channel {request.settings.channel}")
    return address


class JourneyActivities:
    """Holds what activities share for the worker's lifetime: compiled templates,
    the channel adapter and its HTTP connection pool."""

    def __init__(
        self,
        renderer: Renderer,
        adapter: ChannelAdapter,
        feedback_secret: bytes,
        alerts: StoreAlerts,
    ) -> None:
        self._renderer = renderer
        self._adapter = adapter
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
        await self._adapter.aclose()
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

    async def _deliver(self, request: MessageRequest, context: dict[str, object]) -> Receipt:
        customer = request.order.customer
        try:
            to = recipient(request)
        except NoContact as err:
            raise ApplicationError(
                str(err), type=SendErrorType.NO_CONTACT, non_retryable=True
            ) from err
        try:
            rendered = self._renderer.render(request.step.template, customer.locale, context)
        except TemplateProblem as err:
            raise ApplicationError(
                str(err), type=SendErrorType.TEMPLATE_ERROR, non_retryable=True
            ) from err
        message = OutgoingMessage(
            idempotency_key=request.idempotency_key,
            journey_id=request.journey_id,
            order_id=request.order.order_id,
            step_id=request.step.id,
            template=request.step.template,
            channel=request.settings.channel,
            locale=customer.locale,
            to=to,
            customer_name=customer.name,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            scheduled_for=request.scheduled_for,
        )
        async with heartbeating():
            receipt = await self._adapter.deliver(message)
        activity.logger.info(
            "sent %s by %s via %s (message id %s%s)",
            request.step.id,
            receipt.channel,
            receipt.adapter,
            receipt.message_id,
            ", already delivered" if receipt.duplicate else "",
        )
        return receipt

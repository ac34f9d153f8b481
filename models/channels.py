"""Channel choice: which channels may carry a message to a customer, in which order.

A pure function of the customer, the store's settings, the message's category and
the channels already found unreachable, so the activity, the starter's validation
and the workflow all reach the same answer.

Order: the customer's preferred channel, then the store's channel, then the store's
`fallback_channels`, each once. A channel is skipped, with its reasons, when the
customer has no address for it, has not opted in to it (WhatsApp), has not agreed
to marketing (marketing messages, any channel), or was found unreachable earlier.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from models.base import Channel
from models.order import Customer
from models.plan import Step, StepPurpose
from models.settings import JourneySettings, MessageCategory

# WhatsApp template language codes for the customer's locale.
WHATSAPP_LANGUAGES = {"pt-BR": "pt_BR", "en": "en_US"}


class Obstacle(BaseModel):
    """Why a channel cannot carry the message."""

    reason: str
    field: str | None = Field(
        default=None, description="The input field that would remove it, e.g. order.customer.phone"
    )


class Candidate(BaseModel):
    channel: Channel
    role: str = Field(description="Why it is in the route: 'customer preference', ...")
    obstacles: list[Obstacle] = Field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.obstacles

    def describe_obstacles(self) -> str:
        return ", ".join(o.reason for o in self.obstacles)


def message_category(step: Step, settings: JourneySettings) -> MessageCategory:
    """The step's category: its WhatsApp template's when set, else from its purpose."""
    mapped = settings.whatsapp_templates.get(step.template)
    if mapped is not None and mapped.category is not None:
        return mapped.category
    if step.purpose is StepPurpose.PROMOTIONAL:
        return MessageCategory.MARKETING
    return MessageCategory.UTILITY


def _order(customer: Customer, settings: JourneySettings) -> list[tuple[Channel, str]]:
    roles: list[tuple[Channel, str]] = []
    if customer.preferred_channel is not None:
        roles.append((customer.preferred_channel, "customer preference"))
    roles.append((settings.channel, "store channel"))
    roles.extend((channel, "store fallback") for channel in settings.fallback_channels)
    seen: set[Channel] = set()
    unique = []
    for channel, role in roles:
        if channel not in seen:
            seen.add(channel)
            unique.append((channel, role))
    return unique


def _obstacles(
    channel: Channel,
    customer: Customer,
    category: MessageCategory,
    unreachable: Iterable[Channel],
) -> list[Obstacle]:
    found = []
    if channel is Channel.WHATSAPP:
        if customer.phone is None:
            found.append(Obstacle(reason="no phone", field="order.customer.phone"))
        if not customer.whatsapp_opt_in:
            found.append(
                Obstacle(reason="no WhatsApp opt-in", field="order.customer.whatsapp_opt_in")
            )
    elif customer.email is None:
        found.append(Obstacle(reason="no email", field="order.customer.email"))
    if channel in unreachable:
        found.append(Obstacle(reason="unreachable"))
    if category is MessageCategory.MARKETING and not customer.marketing_opt_in:
        found.append(
            Obstacle(reason="no marketing consent", field="order.customer.marketing_opt_in")
        )
    return found


def route(
    customer: Customer,
    settings: JourneySettings,
    category: MessageCategory,
    unreachable: Iterable[Channel] = (),
) -> list[Candidate]:
    """Every channel the store and customer name, in order, each with its obstacles."""
    known_unreachable = set(unreachable)
    return [
        Candidate(
            channel=channel,
            role=role,
            obstacles=_obstacles(channel, customer, category, known_unreachable),
        )
        for channel, role in _order(customer, settings)
    ]


def route_reason(candidates: list[Candidate], used: Channel, failed: dict[Channel, str]) -> str:
    """For people reading the journey's progress, e.g.
    'store fallback; whatsapp skipped: no WhatsApp opt-in'."""
    chosen = next(c for c in candidates if c.channel is used)
    skipped = []
    for candidate in candidates:
        if candidate.channel is used:
            break
        why = failed.get(candidate.channel) or candidate.describe_obstacles()
        skipped.append(f"{candidate.channel} skipped: {why}")
    return "; ".join([chosen.role, *skipped])


def no_route_lines(candidates: list[Candidate]) -> list[str]:
    """Why no channel can carry the message, as starter validation lines.

    With one channel, one line per missing field ("order.customer.phone: required
    for channel whatsapp"); with several, one line naming every channel's obstacles.
    """
    if len(candidates) == 1:
        [only] = candidates
        return [
            f"{o.field}: required for channel {only.channel}"
            if o.field
            else f"order.customer: {o.reason} on channel {only.channel}"
            for o in only.obstacles
        ]
    why = "; ".join(f"{c.channel}: {c.describe_obstacles()}" for c in candidates)
    return [f"order.customer: no channel can reach the customer ({why})"]

"""JSON becomes the journey's models, with their bounds; dates are checked against now;
every moment the journey may act on is computed ahead; every message is dry-run.

`validate_journey` (a delivered order) and `validate_event` (any order event) return a
`CheckedEvent`: the order journey's input and the event that goes to it, ready to
start or signal. Everything wrong is raised together as `InvalidJourney`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from intake.documents import check_document
from intake.dry_run import RenderMemo, dry_run, shared_renderer
from intake.problems import InvalidJourney, field_problems
from journey.schedule import journey_timeline
from messages.rendering import Renderer
from models import DeliveredOrder, JourneyPlan, JourneySettings, default_plan
from models.base import control_character
from models.events import Feedback, OrderEvent, OrderEventType
from models.journey import OrderJourneyInput
from models.limits import (
    MAX_CLOCK_SKEW,
    MAX_EVENT_AGE,
    MAX_PROMISE_AHEAD,
    MAX_REASON,
    MAX_SPEEDUP,
)
from models.order import CONTACT_FIELDS, BusinessId, CustomerIdentifiers, Order, journey_id
from models.sealed import Sealed

M = TypeVar("M", bound=BaseModel)
BUSINESS_ID: TypeAdapter[str] = TypeAdapter(BusinessId)
# The id of the delivered event a delivered order becomes: reporting the same delivery
# twice is one event.
DELIVERED_EVENT_ID = "delivered"


@dataclass(frozen=True)
class CheckedEvent:
    """An order journey's input and the event that goes to it, both checked."""

    journey: OrderJourneyInput
    event: OrderEvent

    @property
    def journey_id(self) -> str:
        return self.journey.order.journey_id


def _parse(
    model: type[M], prefix: str, raw: M | Mapping[str, Any], problems: list[str]
) -> M | None:
    if isinstance(raw, model):
        return raw
    if not isinstance(raw, Mapping):
        problems.append(f"{prefix}: expected a JSON object, got {_json_type(raw)}")
        return None
    try:
        check_document(raw, prefix)
        return model.model_validate(raw)
    except InvalidJourney as err:
        problems.extend(err.problems)
    except ValidationError as err:
        problems.extend(field_problems(prefix, err))
    return None


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _date_problem(
    field: str, moment: datetime | None, earliest: datetime, latest: datetime
) -> list[str]:
    if moment is None or earliest <= moment <= latest:
        return []
    where = "in the future" if moment > latest else "in the past"
    earliest, latest = earliest.astimezone(UTC), latest.astimezone(UTC)
    return [
        f"{field}: {moment.isoformat()} is too far {where}: it must be between "
        f"{earliest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} UTC"
    ]


def _happened(field: str, moment: datetime | None, now: datetime) -> list[str]:
    """An event: at most a year ago, and not later than now (give or take clock skew)."""
    return _date_problem(field, moment, now - MAX_EVENT_AGE, now + MAX_CLOCK_SKEW)


def _promised(field: str, moment: datetime | None, now: datetime) -> list[str]:
    return _date_problem(field, moment, now - MAX_PROMISE_AHEAD, now + MAX_PROMISE_AHEAD)


def _order_dates(order: Order, now: datetime) -> list[str]:
    problems = _promised("order.promised_delivery_by", order.promised_delivery_by, now)
    if isinstance(order, DeliveredOrder):
        problems += _happened("order.delivered_at", order.delivered_at, now)
    return problems


def _sealed(order: Order) -> list[str]:
    """Customer data comes in as text; only the service seals it."""
    return [
        f"order.customer.{field}: must be text (sealed values are made by the service)"
        for field in CONTACT_FIELDS
        if isinstance(getattr(order.customer, field), Sealed)
    ]


def _event_dates(event: OrderEvent, now: datetime) -> list[str]:
    problems = _happened("event.occurred_at", event.occurred_at, now)
    if event.shipment is not None:
        problems += _promised("event.shipment.promised_by", event.shipment.promised_by, now)
    return problems


def timeline_problems(
    order: Order,
    settings: JourneySettings,
    plan: JourneyPlan,
    delivered_at: datetime,
    now: datetime,
    first_send_delay: timedelta = timedelta(0),
    promised_by: datetime | None = None,
) -> list[str]:
    """Compute every moment the journey may act on now, so that none fails later.
    The bounds make this always succeed; a failure here is a bug, reported as a
    problem rather than a journey that would fail on a date days from now."""
    try:
        journey_timeline(
            plan.steps,
            delivered_at,
            settings,
            order.customer.timezone,
            now=now,
            first_send_delay=first_send_delay,
            promised_by=promised_by or order.promised_delivery_by,
        )
    except (ArithmeticError, ValueError) as err:
        return [f"plan: the journey's timeline cannot be computed: {err}"]
    return []


def validate_journey(
    order: DeliveredOrder | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
    render_memo: RenderMemo | None = None,
    now: datetime | None = None,
) -> CheckedEvent:
    """The journey of a delivered order and its `delivered` event, or `InvalidJourney`
    listing everything wrong. `now`: what dates are checked against (the wall clock by
    default; tests on a time-skipping server pass its time). `render_memo`: see
    `dry_run`."""
    now = now or datetime.now(UTC)
    problems: list[str] = []
    parsed_order = _parse(DeliveredOrder, "order", order, problems)
    parsed_settings, parsed_plan = _parse_store(settings, plan, speedup, problems)
    if problems or parsed_order is None or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    problems += _sealed(parsed_order) + _order_dates(parsed_order, now)
    if problems:
        raise InvalidJourney(problems)
    problems += timeline_problems(
        parsed_order, parsed_settings, parsed_plan, parsed_order.delivered_at, now
    )
    problems += dry_run(
        parsed_order, parsed_settings, parsed_plan, renderer or shared_renderer(), memo=render_memo
    )
    if problems:
        raise InvalidJourney(problems)
    delivered = OrderEvent(
        event_id=DELIVERED_EVENT_ID,
        type=OrderEventType.DELIVERED,
        occurred_at=parsed_order.delivered_at,
    )
    journey = OrderJourneyInput(
        order=parsed_order.without_delivery(),
        settings=parsed_settings,
        plan=parsed_plan,
        speedup=speedup,
    )
    return CheckedEvent(journey, delivered)


def validate_event(
    order: Order | Mapping[str, Any],
    event: OrderEvent | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
    now: datetime | None = None,
    render_memo: RenderMemo | None = None,
) -> CheckedEvent:
    """A checked order journey and event, or `InvalidJourney` listing everything wrong.
    `now`, `render_memo`: as for `validate_journey`."""
    now = now or datetime.now(UTC)
    problems: list[str] = []
    if isinstance(order, DeliveredOrder):
        order = order.without_delivery()
    elif isinstance(order, Mapping) and "delivered_at" in order:
        # The same order file serves every event; the delivered event carries the time.
        order = {key: value for key, value in order.items() if key != "delivered_at"}
    parsed_order = _parse(Order, "order", order, problems)
    parsed_event = _parse(OrderEvent, "event", event, problems)
    parsed_settings, parsed_plan = _parse_store(settings, plan, speedup, problems)
    if (
        problems
        or parsed_order is None
        or parsed_event is None
        or parsed_settings is None
        or parsed_plan is None
    ):
        raise InvalidJourney(problems)
    problems += _sealed(parsed_order) + _order_dates(parsed_order, now)
    problems += _event_dates(parsed_event, now)
    if problems:
        raise InvalidJourney(problems)
    # Before delivery, the plan is checked as if the order were delivered now.
    delivered = parsed_event.type is OrderEventType.DELIVERED
    shipment = parsed_event.shipment
    problems += timeline_problems(
        parsed_order,
        parsed_settings,
        parsed_plan,
        parsed_event.occurred_at if delivered else now,
        now,
        promised_by=shipment.promised_by if shipment else None,
    )
    problems += dry_run(
        parsed_order, parsed_settings, parsed_plan, renderer or shared_renderer(), memo=render_memo
    )
    if problems:
        raise InvalidJourney(problems)
    journey = OrderJourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )
    return CheckedEvent(journey, parsed_event)


def validate_feedback(rating: object, comment: object = None) -> Feedback:
    """A customer's rating and comment, or `InvalidJourney` naming what is wrong."""
    problems: list[str] = []
    feedback = _parse(Feedback, "feedback", {"rating": rating, "comment": comment}, problems)
    if feedback is not None and isinstance(feedback.comment, Sealed):
        problems.append("feedback.comment: must be text (sealed values are made by the service)")
    if feedback is None or problems:
        raise InvalidJourney(problems)
    return feedback


def validate_reason(reason: object) -> str:
    """An opt-out's reason (free text, may be empty), or `InvalidJourney` naming what is
    wrong: what the journey would refuse is refused before anything reaches it."""
    if not isinstance(reason, str):
        raise InvalidJourney(["reason: Input should be a valid string"])
    if len(reason) > MAX_REASON:
        raise InvalidJourney([f"reason: must have at most {MAX_REASON} characters"])
    found = control_character(reason)
    if found is not None:
        raise InvalidJourney([f"reason: contains the control character U+{ord(found):04X}"])
    return reason


def validate_customer(
    store_id: object,
    *,
    customer_id: object = None,
    email: object = None,
    phone: object = None,
) -> CustomerIdentifiers:
    """Who an erasure is about, or `InvalidJourney` naming what is wrong."""
    problems: list[str] = []
    raw = {"store_id": store_id, "customer_id": customer_id, "email": email, "phone": phone}
    found = _parse(CustomerIdentifiers, "customer", raw, problems)
    if found is None:
        raise InvalidJourney(problems)
    return found


def validate_journey_id(store_id: str, order_id: str) -> str:
    """The workflow id of an order's journey, or `InvalidJourney` when an id could not
    be one (the CLI's and the HTTP API's arguments come from people)."""
    problems: list[str] = []
    for field, value in (("store_id", store_id), ("order_id", order_id)):
        try:
            BUSINESS_ID.validate_python(value)
        except ValidationError as err:
            problems += field_problems(field, err)
    if problems:
        raise InvalidJourney(problems)
    return journey_id(store_id, order_id)


def _parse_store(
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None,
    speedup: int,
    problems: list[str],
) -> tuple[JourneySettings | None, JourneyPlan | None]:
    parsed_settings = _parse(JourneySettings, "settings", settings, problems)
    parsed_plan = _parse(
        JourneyPlan, "plan", plan if plan is not None else default_plan(), problems
    )
    if not 1 <= speedup <= MAX_SPEEDUP:
        problems.append(f"speedup: must be between 1 and {MAX_SPEEDUP}, got {speedup}")
    return parsed_settings, parsed_plan


def validate_store(
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
) -> tuple[JourneySettings, JourneyPlan]:
    """Settings and a plan shared by many orders (a backfill), checked once."""
    problems: list[str] = []
    parsed_settings, parsed_plan = _parse_store(settings, plan, 1, problems)
    if problems or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    return parsed_settings, parsed_plan

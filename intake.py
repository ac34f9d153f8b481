"""The edge: a journey's input is checked whole before anything starts.

Every entry point (the CLI's files and lines, the Python API, backfill) goes through
the same steps:
1. bytes become JSON within the documented limits (`parse_json`: size, UTF-8, nesting
   depth, number length);
2. JSON becomes the pydantic models, with their bounds, and dates are checked against
   now;
3. every moment the journey may act on is computed ahead (`timeline_problems`), the
   customer must be reachable on some channel of the route (models.channels), and a
   dry run renders every template of the plan for this very order, WhatsApp template
   parameters included, so nothing accepted fails days later inside a running journey.

Every problem becomes one line naming the field (`order.customer.phone: ...`), raised
together as `InvalidJourney`. Anything else raised here is a bug.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, HttpUrl, TypeAdapter, ValidationError

from activities.rendering import Renderer, TemplateProblem, message_context, variable
from models import (
    DeliveredOrder,
    JourneyInput,
    JourneyPlan,
    JourneySettings,
    Locale,
    MessageCategory,
    StepKind,
    default_plan,
)
from models.channels import no_route_lines, route
from models.events import Feedback, OrderEvent, OrderEventType, Shipment
from models.journey import JourneyFacts, OrderJourneyInput
from models.limits import (
    MAX_CLOCK_SKEW,
    MAX_DOCUMENT_BYTES,
    MAX_EVENT_AGE,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_PROMISE_AHEAD,
    MAX_SPEEDUP,
)
from models.order import BusinessId, Order, journey_id
from models.schedule import journey_timeline
from models.stages import ALERT_TEMPLATES, STAGE_STEPS

M = TypeVar("M", bound=BaseModel)
BUSINESS_ID: TypeAdapter[str] = TypeAdapter(BusinessId)

PREVIEW_FEEDBACK_URL = "https://example.invalid/feedback?token=preview"
# Stand-ins for what events tell the journey later, so every template can be tried now.
PREVIEW_FACTS = JourneyFacts(
    delivered_at=datetime(2026, 1, 15, 14, 0, tzinfo=UTC),
    promised_by=datetime(2026, 1, 14, 18, 0, tzinfo=UTC),
    shipment=Shipment(
        carrier="Transportadora",
        tracking_code="BR123456789",
        tracking_url=HttpUrl("https://example.invalid/rastreio/BR123456789"),
    ),
    feedback=Feedback(rating=2, comment="preview"),
)


class InvalidJourney(Exception):
    """The input cannot start a journey. `problems` has one line per invalid field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --- bytes to JSON ----------------------------------------------------------------------


class _TooLarge(ValueError):
    """A JSON number or constant outside the documented limits."""


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _TooLarge(f"a number longer than {MAX_NUMBER_CHARS} characters ({text[:12]}...)")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if value in (math.inf, -math.inf):
        raise _TooLarge(f"a number too large to use ({text})")
    return value


def _constant(text: str) -> Any:
    raise _TooLarge(f"{text} is not a number JSON allows")


def parse_json(data: bytes | str, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON document within the documented limits (size, nesting depth, number
    length), or `InvalidJourney` with one line saying what is wrong with it."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise InvalidJourney([f"{what}: larger than {max_bytes // 1024} KiB ({len(raw)} bytes)"])
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark from a Windows editor is fine
    except UnicodeDecodeError as err:
        raise InvalidJourney([f"{what}: not UTF-8 text (byte {err.start + 1})"]) from None
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as err:
        one_line = "\n" not in text.strip()
        where = f"column {err.colno}" if one_line else f"line {err.lineno}, column {err.colno}"
        raise InvalidJourney([f"{what}: not valid JSON ({where}: {err.msg})"]) from None
    except _TooLarge as err:
        raise InvalidJourney([f"{what}: {err}"]) from None
    except RecursionError:
        raise InvalidJourney([f"{what}: nested deeper than {MAX_JSON_DEPTH} levels"]) from None
    check_document(value, what)
    return value


def check_document(value: Any, what: str) -> None:
    """The nesting depth and the numbers of a document, however it arrived: parsed from
    JSON, or built by a Python caller."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise InvalidJourney([f"{what}: nested deeper than {MAX_JSON_DEPTH} levels"])
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and item.bit_length() > 100:
            raise InvalidJourney([f"{what}: a number too large to use"])
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidJourney([f"{what}: {item} is not a number JSON allows"])


def load_json(path: Path, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """A JSON file's content, or `InvalidJourney` saying why it cannot be used."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InvalidJourney([f"{what}: cannot read {path}: {reason}"]) from None
    return parse_json(data, f"{what}: {path}", max_bytes=max_bytes)


# --- JSON to models ---------------------------------------------------------------------


def _short(part: object) -> str:
    text = str(part)
    return text if len(text) <= 60 else f"{text[:60]}..."


def _field_problems(prefix: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join([prefix, *(_short(part) for part in item["loc"])])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines


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
        problems.extend(_field_problems(prefix, err))
    return None


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


# --- dates relative to now --------------------------------------------------------------


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


@functools.cache
def _renderer_for(templates_dir: str | None) -> Renderer:
    return Renderer(Path(templates_dir) if templates_dir else None)


def shared_renderer() -> Renderer:
    """One renderer per templates directory for the process: compiling the templates
    costs about 10 ms, rendering a plan with them a fraction of that."""
    return _renderer_for(os.environ.get("JOURNEY_TEMPLATES_DIR"))


def validate_journey(
    order: DeliveredOrder | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
    render_memo: RenderMemo | None = None,
    now: datetime | None = None,
) -> JourneyInput:
    """A checked journey for a delivered order, or `InvalidJourney` listing everything
    wrong. `now`: what dates are checked against (the wall clock by default; tests on a
    time-skipping server pass its time). `render_memo`: see `dry_run`."""
    now = now or datetime.now(UTC)
    problems: list[str] = []
    parsed_order = _parse(DeliveredOrder, "order", order, problems)
    parsed_settings, parsed_plan = _parse_store(settings, plan, speedup, problems)
    if problems or parsed_order is None or parsed_settings is None or parsed_plan is None:
        raise InvalidJourney(problems)
    problems += _order_dates(parsed_order, now)
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
    return JourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )


def validate_event(
    order: Order | Mapping[str, Any],
    event: OrderEvent | Mapping[str, Any],
    settings: JourneySettings | Mapping[str, Any],
    plan: JourneyPlan | Mapping[str, Any] | None = None,
    *,
    speedup: int = 1,
    renderer: Renderer | None = None,
    now: datetime | None = None,
) -> tuple[OrderJourneyInput, OrderEvent]:
    """A checked order journey and event, or `InvalidJourney` listing everything wrong.
    `now`: as for `validate_journey`."""
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
    problems += _order_dates(parsed_order, now) + _event_dates(parsed_event, now)
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
    problems += dry_run(parsed_order, parsed_settings, parsed_plan, renderer or shared_renderer())
    if problems:
        raise InvalidJourney(problems)
    journey = OrderJourneyInput(
        order=parsed_order, settings=parsed_settings, plan=parsed_plan, speedup=speedup
    )
    return journey, parsed_event


def validate_feedback(rating: object, comment: object = None) -> Feedback:
    """A customer's rating and comment, or `InvalidJourney` naming what is wrong."""
    problems: list[str] = []
    feedback = _parse(Feedback, "feedback", {"rating": rating, "comment": comment}, problems)
    if feedback is None:
        raise InvalidJourney(problems)
    return feedback


def validate_journey_id(store_id: str, order_id: str) -> str:
    """The workflow id of an order's journey, or `InvalidJourney` when an id could not
    be one (the CLI's and the HTTP API's arguments come from people)."""
    problems: list[str] = []
    for field, value in (("store_id", store_id), ("order_id", order_id)):
        try:
            BUSINESS_ID.validate_python(value)
        except ValidationError as err:
            problems += _field_problems(field, err)
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


RenderMemo = dict[Hashable, list[str]]
"""Render problems by the shape of an order's template context, for one store's
settings, plan and templates (see `context_shape`)."""


def dry_run(
    order: Order,
    settings: JourneySettings,
    plan: JourneyPlan,
    renderer: Renderer,
    *,
    memo: RenderMemo | None = None,
) -> list[str]:
    """Route the customer and render every message the journey may send for this order
    (the plan, the stage messages, the store alerts); return what would fail.

    With a memo (one store's settings, plan and templates for many orders, as in a
    backfill), orders whose template contexts have the same shape are rendered once:
    what a template can miss is a variable, an item or a set value, never the text of
    a name or an id."""
    # Service messages need only an address and, for WhatsApp, the opt-in; marketing
    # steps without marketing consent are skipped one by one, not refused here.
    candidates = route(order.customer, settings, MessageCategory.UTILITY)
    problems = [] if any(c.usable for c in candidates) else no_route_lines(candidates)
    locale = order.customer.locale
    contexts = (
        message_context(order, settings, facts=PREVIEW_FACTS),
        message_context(order, settings, PREVIEW_FEEDBACK_URL, PREVIEW_FACTS),  # requests
    )
    if memo is None:
        return problems + _render_problems(locale, contexts, settings, plan, renderer)
    key = (locale, context_shape(contexts[1]))  # the first's keys and one more
    if key not in memo:
        memo[key] = _render_problems(locale, contexts, settings, plan, renderer)
    return problems + memo[key]


def context_shape(value: Any) -> Hashable:
    """A template context without its text: the keys, the length of every list and the
    type of every value."""
    if isinstance(value, Mapping):
        return tuple((key, context_shape(item)) for key, item in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ("list", *(context_shape(item) for item in value))
    return type(value).__name__


def _render_problems(
    locale: Locale,
    contexts: tuple[dict[str, Any], dict[str, Any]],
    settings: JourneySettings,
    plan: JourneyPlan,
    renderer: Renderer,
) -> list[str]:
    """Render every message; `contexts`: without and with a feedback link."""
    problems: list[str] = []
    context, with_link = contexts
    labelled = [(f"plan.steps.{i} ({step.id})", step) for i, step in enumerate(plan.steps)]
    labelled += [(f"stage message {step.id}", step) for step in STAGE_STEPS]
    for label, step in labelled:
        step_context = with_link if step.kind is StepKind.FEEDBACK_REQUEST else context
        try:
            renderer.render(step.template, locale, step_context)
            mapped = settings.whatsapp_templates.get(step.template)
            for path in mapped.parameters if mapped else []:
                variable(step_context, path)
        except TemplateProblem as err:
            problems.append(f"{label}: {err}")
    for template in ALERT_TEMPLATES:
        try:
            renderer.render_text(template, settings.store_locale, context)
        except TemplateProblem as err:
            problems.append(f"store alert {template}: {err}")
    return problems

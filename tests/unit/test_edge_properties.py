"""Whatever arrives at the edge, validation either returns a journey or raises
`InvalidJourney`, nothing else; and every journey it accepts can be computed to its
last moment (steps, reminder, link expiries, delivery watch) and rendered in full,
fallback channels included, by the code the journey itself runs."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake import (
    PREVIEW_FACTS,
    PREVIEW_FEEDBACK_URL,
    CheckedEvent,
    InvalidJourney,
    parse_json,
    shared_renderer,
    validate_event,
    validate_journey,
)
from journey.schedule import journey_timeline
from messages.rendering import Renderer, message_context
from models import Channel, MessageCategory, StepKind
from models.channels import route
from models.events import OrderEventType
from models.stages import STAGE_STEPS
from tests import builders

NOW = builders.VALIDATED_AT
PLAN = {
    "steps": [
        {"id": "thanks", "template": "thanks"},
        {
            "id": "feedback_request",
            "kind": "feedback_request",
            "purpose": "feedback",
            "template": "feedback_request",
            "wait": "P3D",
        },
        {"id": "coupon", "purpose": "promotional", "template": "come_back_coupon", "wait": "P7D"},
    ]
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Values that sit on or just past an edge: blank and control text, dates at the ends of
# the calendar and of the bounds, durations far too long or negative, window times
# with offsets, huge and negative numbers, zones that are folders.
edge_values: st.SearchStrategy[Any] = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "a\x00b",
        "\ud800",
        "x" * 5000,
        "America",
        "UTC",
        "Etc/GMT+14",
        "+5511987654321\n",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z",
        "2025-03-12T00:00:00Z",
        "2026-03-11T13:59:00Z",
        "2026-03-11T14:01:00Z",
        "P999999999D",
        "P366D",
        "P90D",
        "P91D",
        "-P1D",
        "PT0S",
        "PT1H",
        "PT59M",
        "09:00Z",
        "23:59:59.999999",
        "00:00",
        "24:00",
        10**30,
        -(10**30),
        -1,
        0,
        1,
        5,
        6,
        1e308,
        True,
        None,
        [],
        {},
    ]
)
replacement = edge_values | json_values


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a document."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A valid document with one to three values replaced, deleted or added."""
    document = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = paths(document)
        if not places:
            break
        path = draw(st.sampled_from(places))
        *parents, last = path
        holder = document
        for part in parents:
            holder = holder[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(holder, dict):
            del holder[last]
        elif action == "add" and isinstance(holder, dict):
            holder[draw(st.text(max_size=8))] = draw(replacement)
        else:
            holder[last] = draw(replacement)
    return document


def full_settings() -> dict[str, Any]:
    return builders.settings(
        fallback_channels=["email"],
        feedback_reminder_after="P2D",
        whatsapp_templates={"thanks": {"name": "obrigado", "parameters": ["customer.first_name"]}},
    )


def computes_to_the_end(checked: CheckedEvent, renderer: Renderer) -> None:
    """Every moment and every message of an accepted journey, as the workflow and the
    activities would compute them (before delivery, as if it were delivered now)."""
    journey, event = checked.journey, checked.event
    delivered_at = event.occurred_at if event.type is OrderEventType.DELIVERED else NOW
    order, store = journey.order, journey.settings
    journey_timeline(
        journey.plan.steps,
        delivered_at,
        store,
        order.customer.timezone,
        now=NOW,
        first_send_delay=journey.first_send_delay,
        promised_by=order.promised_delivery_by,
    )
    for step in [*journey.plan.steps, *STAGE_STEPS]:
        url = PREVIEW_FEEDBACK_URL if step.kind is StepKind.FEEDBACK_REQUEST else None
        context = message_context(order, store, url, PREVIEW_FACTS)
        renderer.render(step.template, order.customer.locale, context)
    for category in MessageCategory:
        for unreachable in ([], [Channel.WHATSAPP], [Channel.EMAIL]):
            route(order.customer, store, category, unreachable)


def check_journey(order: Any, store: Any, plan: Any) -> None:
    renderer = shared_renderer()
    try:
        checked = validate_journey(order, store, plan, now=NOW, renderer=renderer)
    except InvalidJourney as err:
        assert err.problems and all(isinstance(line, str) and line for line in err.problems)
        return
    computes_to_the_end(checked, renderer)


PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(order=mutated(builders.order()), store=mutated(full_settings()), plan=mutated(PLAN))
def test_mutated_valid_inputs_are_refused_with_lines_or_run_to_the_end(
    order: Any, store: Any, plan: Any
) -> None:
    check_journey(order, store, plan)


@PROPERTY
@given(order=mutated(builders.order()))
def test_a_mutated_order_with_good_settings_is_refused_or_runs_to_the_end(order: Any) -> None:
    check_journey(order, full_settings(), PLAN)


@PROPERTY
@given(order=json_values, store=json_values, plan=json_values)
def test_arbitrary_json_is_refused_with_lines(order: Any, store: Any, plan: Any) -> None:
    check_journey(order, store, plan)


@PROPERTY
@given(event=mutated(builders.event("shipped", NOW - timedelta(hours=2))))
def test_a_mutated_event_is_refused_or_runs_to_the_end(event: Any) -> None:
    renderer = shared_renderer()
    try:
        checked = validate_event(
            builders.placed_order(), event, full_settings(), PLAN, now=NOW, renderer=renderer
        )
    except InvalidJourney as err:
        assert err.problems
        return
    computes_to_the_end(checked, renderer)


@PROPERTY
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_json_or_one_problem_line(data: bytes) -> None:
    try:
        parse_json(data, "order")
    except InvalidJourney as err:
        assert len(err.problems) == 1 and err.problems[0].startswith("order: ")

"""The store API, `/v1`: order events, feedback and opt-outs, each request signed by
the store (web/dependencies.py). Thin handlers over the Python API (`starter`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from intake import InvalidJourney, parse_json, validate_event, validate_reason
from starter import (
    FeedbackRejected,
    JourneyNotFound,
    JourneyRefused,
    opt_out,
    report_checked,
    submit_feedback,
)
from web.dependencies import Settings, Signed, TemporalClient
from web.problems import Problem
from web.schemas import EventAccepted, EventBody, FeedbackBody, JourneyAnswer, OptOutBody, body_of

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["store API"])


def json_object(body: bytes, limit: int, fields: set[str], required: set[str]) -> dict[str, Any]:
    """The body as a JSON object with only `fields`, or 422 naming what is wrong."""
    document = parse_json(body, "body", max_bytes=limit)
    if not isinstance(document, dict):
        raise InvalidJourney(["body: expected a JSON object"])
    problems = [f"{key}: Field required" for key in sorted(required - document.keys())]
    problems += [
        f"{key}: Extra inputs are not permitted" for key in sorted(document.keys() - fields)
    ]
    if problems:
        raise InvalidJourney(problems)
    return document


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    openapi_extra=body_of(EventBody),
    summary="Report an order event; the first starts the order's journey",
)
async def report(
    store_id: str, request: Request, signed: Signed, settings: Settings, client: TemporalClient
) -> EventAccepted:
    """A repeat of an event (same `event_id`) is harmless: the journey applies it once,
    however many times it is POSTed."""
    document = json_object(
        signed.body, settings.max_body_bytes, {"order", "event"}, {"order", "event"}
    )
    store = signed.store
    checked = validate_event(
        document["order"],
        document["event"],
        store.settings,
        store.plan,
        render_memo=store.memo(),
    )
    if checked.journey.order.store_id != store_id:
        raise InvalidJourney([f"order.store_id: must be {store_id!r}, the store of the URL"])
    request.state.journey_id = checked.journey_id
    result = await report_checked(
        client,
        checked,
        task_queue=settings.task_queue,
        search_attributes=settings.search_attributes,
        # The service's own setting, the one its WhatsApp webhook hashes senders with.
        phone_secret=(
            settings.phone_hash_secret.get_secret_value().encode()
            if settings.phone_hash_secret
            else None
        ),
    )
    label = f"{checked.event.type}:{checked.event.event_id}"
    if not result.accepted:
        raise Problem(
            409, "journey-ended", f"{result.journey_id} has ended; {label} was not applied"
        )
    return EventAccepted(journey_id=result.journey_id, started=result.started, event=label)


@router.post(
    "/orders/{order_id}/feedback",
    response_model=JourneyAnswer,
    openapi_extra=body_of(FeedbackBody),
    summary="Hand the customer's rating to the order's journey",
)
async def feedback(
    store_id: str,
    order_id: str,
    request: Request,
    signed: Signed,
    settings: Settings,
    client: TemporalClient,
) -> JourneyAnswer:
    document = json_object(signed.body, settings.max_body_bytes, {"rating", "comment"}, {"rating"})
    answer = await _answer(
        request,
        submit_feedback(client, store_id, order_id, document["rating"], document.get("comment")),
        store_id,
        order_id,
    )
    return answer


@router.post(
    "/orders/{order_id}/opt-out",
    response_model=JourneyAnswer,
    openapi_extra=body_of(OptOutBody),
    summary="The customer asked to hear nothing more",
)
async def opt_out_of(
    store_id: str,
    order_id: str,
    request: Request,
    signed: Signed,
    settings: Settings,
    client: TemporalClient,
) -> JourneyAnswer:
    document = json_object(signed.body, settings.max_body_bytes, {"reason"}, set())
    reason = validate_reason(document.get("reason", ""))
    return await _answer(request, opt_out(client, store_id, order_id, reason), store_id, order_id)


async def _answer(request: Request, call: Any, store_id: str, order_id: str) -> JourneyAnswer:
    """The journey's answer, or the problem its refusal is."""
    journey_id = f"post-purchase:{store_id}:{order_id}"
    request.state.journey_id = journey_id
    try:
        answer: str = await call
    except JourneyNotFound as err:
        raise Problem(404, "unknown-journey", str(err)) from None
    except FeedbackRejected as err:
        raise Problem(409, "feedback-refused", str(err)) from None
    except JourneyRefused as err:
        raise Problem(409, "journey-refused", str(err)) from None
    return JourneyAnswer(journey_id=journey_id, answer=answer)

"""The right to erasure (LGPD art. 18), through the store API: forget a customer.

Signed like every store request. Thin over `starter.forget`: the customer's data key
is deleted, which makes their data unreadable in every history, and their running
journeys stop, recorded as erased."""

from __future__ import annotations

from fastapi import APIRouter, Request

from starter import ErasureUnavailable, forget
from web.dependencies import Settings, Signed, TemporalClient
from web.problems import Problem
from web.routers.store_api import json_object
from web.schemas import ErasureBody, ErasureDone, body_of

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["store API"])


@router.post(
    "/erasures",
    response_model=ErasureDone,
    openapi_extra=body_of(ErasureBody),
    summary="Forget a customer: delete their data key and stop their journeys",
)
async def erase(
    store_id: str, request: Request, signed: Signed, settings: Settings, client: TemporalClient
) -> ErasureDone:
    """Idempotent: a repeat finds no key left to delete and no journey left running."""
    fields = {"customer_id", "email", "phone"}
    document = json_object(signed.body, settings.max_body_bytes, fields, set())
    try:
        done = await forget(client, store_id, **document)
    except ErasureUnavailable as err:
        raise Problem(501, "erasure-unavailable", str(err)) from None
    return ErasureDone(
        customers=done.customers,
        keys_deleted=done.keys_deleted,
        stopped=done.stopped,
        ended=done.ended,
        unreached=done.unreached,
    )

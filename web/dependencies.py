"""What handlers get from the app: its settings, its Temporal client, the stores, and a
store's request with its signature checked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from web.problems import Problem
from web.settings import ServiceSettings
from web.stores import Store

# Dependencies are `async def`: FastAPI runs a plain `def` one in a thread pool, a
# thread hop a request for a dictionary lookup.


async def settings(request: Request) -> ServiceSettings:
    found: ServiceSettings = request.app.state.settings
    return found


async def client(request: Request) -> Client:
    found: Client = request.app.state.client
    return found


async def stores(request: Request) -> dict[str, Store]:
    found: dict[str, Store] = request.app.state.stores
    return found


Settings = Annotated[ServiceSettings, Depends(settings)]
TemporalClient = Annotated[Client, Depends(client)]
Stores = Annotated[dict[str, Store], Depends(stores)]


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request's body, or 413 as soon as it is longer than `limit`: never more is
    read into memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, "body-too-large", f"the body is larger than {limit} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise Problem(413, "body-too-large", f"the body is larger than {limit} bytes")
    return bytes(received)


@dataclass(frozen=True)
class SignedRequest:
    """A store's request, its signature checked: the store, and the body it signed."""

    store: Store
    body: bytes


async def signed(store_id: str, request: Request) -> SignedRequest:
    """The store named in the path, and the body it signed: 404 for a store the service
    does not serve, 413 for a body over the limit, 401 for a signature that does not
    match (checked in constant time) or a timestamp more than five minutes off."""
    store = (await stores(request)).get(store_id)
    if store is None:
        raise Problem(404, "unknown-store", f"no store {store_id!r} is registered here")
    body = await bounded_body(request, (await settings(request)).max_body_bytes)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not verify_signature(store.api_secret, timestamp, body, signature, now=time.time()):
        raise Problem(
            401,
            "bad-signature",
            f"{SIGNATURE_HEADER} must be sha256=HMAC-SHA256(api secret, "
            f"'{{{TIMESTAMP_HEADER}}}.{{body}}') with a timestamp within 5 minutes",
        )
    return SignedRequest(store, body)


Signed = Annotated[SignedRequest, Depends(signed)]

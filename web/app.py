"""The application: `create_app()` wires settings, the Temporal client, the stores and
the routers, FastAPI's "bigger applications" way. Stateless: every journey lives in
Temporal, so copies behind a load balancer share nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from customer_data import protection_from_env
from intake import shared_renderer
from runtime.connection import connect
from web import problems
from web.metrics import ObservedRequests, RequestMetrics
from web.routers import codec, customer_pages, erasures, operations, store_api, whatsapp
from web.settings import ServiceSettings
from web.stores import load_stores


def create_app(settings: ServiceSettings | None = None, client: Client | None = None) -> FastAPI:
    """The service. `client`: an existing Temporal client (tests); else one is connected
    when the service starts, from the environment like the worker's."""
    chosen = settings or ServiceSettings()  # from the environment
    stores = load_stores(chosen.stores_dir)  # a bad store file stops the start
    # Keys and key store are checked now: a bad one stops the start (ProtectionError).
    protection = None if client is not None else protection_from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = client or await connect(protection=protection)
        yield

    app = FastAPI(
        title="Post-purchase journeys",
        summary="Order events from stores, feedback and unsubscribe pages for customers.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = chosen
    app.state.stores = stores
    app.state.codec = client.data_converter.payload_codec if client else None
    if protection is not None:
        app.state.codec = protection.codec
    app.state.renderer = shared_renderer()
    app.state.metrics = RequestMetrics()
    app.state.whatsapp_metrics = whatsapp.WhatsAppMetrics(app.state.metrics.registry)
    app.add_middleware(ObservedRequests, metrics=app.state.metrics)
    problems.install(app)
    app.include_router(store_api.router)
    app.include_router(erasures.router)
    app.include_router(codec.router)
    app.include_router(customer_pages.router)
    app.include_router(whatsapp.router)
    app.include_router(operations.router)
    return app

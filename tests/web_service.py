"""The web service on loopback, for tests: uvicorn serving `create_app` in the test's
event loop, on a free port, against the test's Temporal server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from temporalio.client import Client

from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import FEEDBACK_SECRET
from tests.processes import free_port
from web.app import create_app
from web.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
STORES = ROOT / "examples" / "stores"
STORE_ID = "loja-exemplo"
STORE_SECRET = json.loads((STORES / f"{STORE_ID}.json").read_text())["api_secret"].encode()


@asynccontextmanager
async def running_service(client: Client, **settings: Any) -> AsyncIterator[str]:
    """The service's base URL while the block runs."""
    port = free_port()
    chosen = ServiceSettings(
        stores_dir=settings.pop("stores_dir", STORES),
        feedback_secret=FEEDBACK_SECRET,
        public_url=f"http://127.0.0.1:{port}",
        **settings,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(chosen, client=client), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # it failed to start: say why
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def signed_headers(
    body: bytes, secret: bytes = STORE_SECRET, at: float | None = None
) -> dict[str, str]:
    """The headers a store signs its request with."""
    timestamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


async def post_signed(
    http: httpx.AsyncClient, url: str, payload: object, secret: bytes = STORE_SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await http.post(url, content=body, headers=signed_headers(body, secret))

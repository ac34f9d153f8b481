"""The worker's readiness, for scripts and orchestrators: with JOURNEY_HEALTH_ADDRESS
set (e.g. `127.0.0.1:9465`), `GET /healthz` answers 200 `ready` while the worker polls
its task queue, and 503 `starting` or `stopping` before and after. Unset, no port is
opened.

A small HTTP/1.1 responder on asyncio, not a web framework: the worker serves no other
HTTP, and one path with three answers needs none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from enum import StrEnum


class Readiness(StrEnum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


class Health:
    """The worker's readiness, as `/healthz` reports it."""

    def __init__(self) -> None:
        self.state = Readiness.STARTING

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            path = request.split(b" ")[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] != b"/healthz":
                status, body = "404 Not Found", "not found"
            elif self.state is Readiness.READY:
                status, body = "200 OK", str(self.state)
            else:
                status, body = "503 Service Unavailable", str(self.state)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode()
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def served(self, address: str | None) -> AsyncIterator[Health]:
        """Serve `/healthz` on `host:port` for the block; nothing when `address` is None."""
        if not address:
            yield self
            return
        host, _, port = address.rpartition(":")
        server = await asyncio.start_server(self._answer, host or "0.0.0.0", int(port))
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()

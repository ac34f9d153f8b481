"""Request counters and latencies on the service's own `/metrics` (Prometheus text), by
route template, never by path: no order id, token or contact in a label."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

log = logging.getLogger("journey.web")


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "journey_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "journey_http_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def observe(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Time the request; log one line for it (the route, not the path: links carry
        tokens, and the journey id names no person)."""
        began = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - began
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        self.latency.labels(request.method, route).observe(elapsed)
        log.info(
            "%s %s %s %.1f ms",
            request.method,
            route,
            response.status_code,
            elapsed * 1000,
            extra={"journey_id": getattr(request.state, "journey_id", None)},
        )
        return response

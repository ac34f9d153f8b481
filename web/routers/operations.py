"""Health, readiness and metrics, for load balancers and Prometheus."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from web.dependencies import TemporalClient
from web.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Temporal is reachable")
async def readyz(client: TemporalClient) -> dict[str, str]:
    try:
        async with asyncio.timeout(2):
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
    except Exception as err:
        raise Problem(503, "temporal-unavailable", f"Temporal does not answer: {err}") from None
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )

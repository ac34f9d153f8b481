"""`list`: journeys found by their search attributes, with the stuck ones marked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from models.search import JOURNEY_STAGE, NEXT_ACTION_AT, ORDER_ID, STORE_ID
from operators.stuck import Stuck, stuck

JOURNEY_TYPE = "OrderJourney"


def list_query(
    store: str | None = None,
    stage: str | None = None,
    order: str | None = None,
    running_only: bool = True,
    extra: str | None = None,
) -> str:
    """A visibility query over the journey's search attributes."""
    clauses = [f'WorkflowType = "{JOURNEY_TYPE}"']
    if running_only:
        clauses.append('ExecutionStatus = "Running"')
    for key, value in ((STORE_ID, store), (ORDER_ID, order), (JOURNEY_STAGE, stage)):
        if value is not None:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            clauses.append(f'{key.name} = "{escaped}"')
    if extra:
        clauses.append(f"({extra})")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class JourneyRow:
    workflow_id: str
    status: str  # the run's status, or `stuck` for a running journey that cannot move
    stage: str
    next_action_at: datetime | None
    started: datetime | None
    stuck: Stuck | None = None

    @classmethod
    def of(cls, execution: WorkflowExecution, problem: Stuck | None = None) -> JourneyRow:
        attributes = execution.typed_search_attributes
        status = execution.status.name.lower() if execution.status else "unknown"
        return cls(
            workflow_id=execution.id,
            status="stuck" if problem else status,
            stage=attributes.get(JOURNEY_STAGE) or "-",
            next_action_at=attributes.get(NEXT_ACTION_AT),
            started=execution.start_time,
            stuck=problem,
        )


async def list_journeys(
    client: Client, query: str, limit: int = 100, *, stuck_only: bool = False
) -> list[JourneyRow]:
    """The journeys the query finds. Visibility does not know which running journeys are
    stuck, so each running one is described (a few at a time)."""
    executions = [e async for e in client.list_workflows(query, limit=limit)]
    gate = asyncio.Semaphore(8)

    async def row(execution: WorkflowExecution) -> JourneyRow:
        if execution.status is not WorkflowExecutionStatus.RUNNING:
            return JourneyRow.of(execution)
        async with gate:
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                problem = await stuck(handle, await handle.describe(), client.data_converter)
            except RPCError:
                problem = None  # it closed since it was listed
        return JourneyRow.of(execution, problem)

    rows = list(await asyncio.gather(*(row(e) for e in executions)))
    return [r for r in rows if r.stuck] if stuck_only else rows


def format_table(rows: list[JourneyRow]) -> str:
    header = ("WORKFLOW ID", "STATUS", "STAGE", "NEXT ACTION (UTC)", "STARTED (UTC)")
    cells = [header] + [
        (
            r.workflow_id,
            r.status,
            r.stage,
            f"{r.next_action_at:%Y-%m-%d %H:%M}" if r.next_action_at else "-",
            f"{r.started:%Y-%m-%d %H:%M}" if r.started else "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.append(f"{len(rows)} journey{'s' if len(rows) != 1 else ''}")
    lines += [f"stuck: {r.workflow_id}: {r.stuck.describe()}" for r in rows if r.stuck]
    return "\n".join(lines)

"""Steering a journey: cancel it. (An opt-out is the customer's, through the store's
API: `starter.opt_out`.)"""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from starter import JourneyNotFound, JourneyRefused, refuse_if_stuck


async def cancel_journey(client: Client, workflow_id: str) -> None:
    """Cancel the run: nothing more is sent; a send in flight ends first and is recorded
    as what the customer got."""
    handle = client.get_workflow_handle(workflow_id)
    description = await refuse_if_stuck(handle, client.data_converter)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        status = description.status.name.lower() if description.status else "closed"
        raise JourneyRefused(f"no running journey {workflow_id}: it is {status}")
    try:
        await handle.cancel()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise JourneyNotFound(f"no running journey {workflow_id}") from err
        raise

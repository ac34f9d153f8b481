"""The floor: a workflow with the journey's timers and activities and nothing else.

It sleeps and calls no-op activities with the journey's timeouts and retry policy, so
the gap between it and OrderJourney is what the project itself costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from models.sending import SEND_RETRY, SEND_SCHEDULE_TO_CLOSE, SEND_START_TO_CLOSE


@dataclass(frozen=True)
class BareInput:
    timers: int
    activities: int
    timer: timedelta


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareJourney:
    @workflow.run
    async def run(self, bare: BareInput) -> int:
        for _ in range(bare.timers):
            await workflow.sleep(bare.timer)
        done = 0
        for step in range(bare.activities):
            done += await workflow.execute_activity(
                noop,
                step,
                start_to_close_timeout=SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEND_SCHEDULE_TO_CLOSE,
                retry_policy=SEND_RETRY,
            )
        return done

"""Overhead: end-to-end journeys per second against a bare workflow on the same worker.

Journeys run with every wait collapsed: a plan whose waits are 0, a send window open
all day, and a speedup that turns the first step's day into a millisecond. Each then
costs one timer and five sends through the outbox. The floor is BareJourney with the
same timers and no-op activities, counted from a journey's own history.

The project runs as deployed, with customer data encrypted (sealed at the start, every
payload AES-GCM, unsealed at each send); the same journeys also run with encryption
off, on a worker of their own, to price the encryption.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Worker

from activities import JourneyActivities, build_activities
from bench.bare import BareInput, BareJourney, noop
from bench.common import Row, dev_server, median, outbox_config, progress, verdict
from bench.orders import ALWAYS_OPEN, copies, no_wait_plan, order
from customer_data import KeyRing, protect
from customer_data.keys import new_key_line
from intake import CheckedEvent, validate_journey
from runtime.connection import data_converter
from starter import report_checked
from worker import cache_workflow_bytecode, worker_options
from workflows import OrderJourney

# A day of journey time per millisecond: the first step's wait of at least a day
# becomes a 1 ms timer.
SPEEDUP = 86_400_000
TARGET = 0.9
ENCRYPTION_TARGET = 0.9


def journeys(count: int, label: str) -> list[CheckedEvent]:
    now = datetime.now(UTC)
    template = validate_journey(
        order("bench", "template", now), ALWAYS_OPEN, no_wait_plan(), speedup=SPEEDUP
    )
    return copies(template, label, count)


@dataclass(frozen=True)
class Pace:
    per_second: float
    cpu_ms: float  # this process's CPU (worker and client) per journey


def pace(count: int, began: float, began_cpu: float) -> Pace:
    return Pace(
        count / (time.perf_counter() - began),
        (time.process_time() - began_cpu) * 1000 / count,
    )


async def run_project(client: Client, task_queue: str, batch: list[CheckedEvent]) -> Pace:
    began, began_cpu = time.perf_counter(), time.process_time()
    started = await asyncio.gather(
        *(report_checked(client, checked, task_queue=task_queue) for checked in batch)
    )
    await asyncio.gather(*(result.handle.result() for result in started))
    return pace(len(batch), began, began_cpu)


async def start_floor(
    client: Client, task_queue: str, count: int, bare: BareInput
) -> list[WorkflowHandle[BareJourney, int]]:
    label = uuid.uuid4().hex[:8]
    return await asyncio.gather(
        *(
            client.start_workflow(
                BareJourney.run,
                bare,
                id=f"bare:{label}:{n}",
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            for n in range(count)
        )
    )


async def run_floor(client: Client, task_queue: str, count: int, bare: BareInput) -> Pace:
    began, began_cpu = time.perf_counter(), time.process_time()
    handles = await start_floor(client, task_queue, count, bare)
    await asyncio.gather(*(handle.result() for handle in handles))
    return pace(count, began, began_cpu)


def floor_like(history: WorkflowHistory) -> BareInput:
    """The floor of a journey: its history's timers and activities, each timer 1 ms."""
    kinds = [event.event_type for event in history.events]
    return BareInput(
        timers=kinds.count(EventType.EVENT_TYPE_TIMER_STARTED),
        activities=kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        timer=timedelta(milliseconds=1),
    )


def rounds_of(paces: dict[str, list[Pace]], other: str) -> list[tuple[Pace, Pace]]:
    """The project's pace and `other`'s, round by round."""
    return list(zip(paces["project"], paces[other], strict=True))


def journey_worker(
    client: Client, task_queue: str, activities: JourneyActivities, *, floor: bool
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderJourney, BareJourney] if floor else [OrderJourney],
        activities=[activities.send_message, activities.request_feedback, noop],
        **worker_options(),
    )


async def measure(rounds: int, count: int) -> list[Row]:
    async with dev_server() as server:
        plain_client = server.client
        task_queue, plain_queue = f"bench-{uuid.uuid4()}", f"bench-plain-{uuid.uuid4()}"
        with tempfile.TemporaryDirectory() as tmp:
            protection = protect(
                KeyRing.parse(new_key_line("bench"), "bench"), str(Path(tmp) / "keys.db")
            )
            client = Client(
                plain_client.service_client,
                namespace=plain_client.namespace,
                data_converter=data_converter(protection),
            )
            config = outbox_config(Path(tmp))
            activities = build_activities(config)
            cache_workflow_bytecode(OrderJourney, BareJourney)
            worker = journey_worker(client, task_queue, activities, floor=True)
            plain_worker = journey_worker(plain_client, plain_queue, activities, floor=False)
            async with worker, plain_worker:
                # Warm-up: imports, sandbox, templates; and the floor's shape.
                warm = journeys(1, f"warm-{uuid.uuid4().hex[:8]}")
                await run_project(client, task_queue, warm)
                await run_project(plain_client, plain_queue, journeys(1, "warm-plain"))
                warm_handle = client.get_workflow_handle(warm[0].journey_id)
                bare = floor_like(await warm_handle.fetch_history())
                await run_floor(client, task_queue, 10, bare)

                sides = ["project", "plaintext", "floor"]
                paces: dict[str, list[Pace]] = {side: [] for side in sides}
                for round_ in range(rounds):
                    batch = journeys(count, f"r{round_}-{uuid.uuid4().hex[:8]}")
                    plain_batch = journeys(count, f"p{round_}-{uuid.uuid4().hex[:8]}")
                    # Rotate which side goes first, so none always meets a warmer server.
                    for side in sides[round_ % 3 :] + sides[: round_ % 3]:
                        if side == "project":
                            result = await run_project(client, task_queue, batch)
                        elif side == "plaintext":
                            result = await run_project(plain_client, plain_queue, plain_batch)
                        else:
                            result = await run_floor(client, task_queue, count, bare)
                        paces[side].append(result)
                        progress(
                            f"overhead round {round_ + 1}/{rounds}: {side} "
                            f"{result.per_second:.1f} journeys/s, {result.cpu_ms:.1f} CPU ms each"
                        )
            await activities.aclose()
            protection.vault.store.close()

    project = median([p.per_second for p in paces["project"]])
    plaintext = median([p.per_second for p in paces["plaintext"]])
    floor = median([p.per_second for p in paces["floor"]])
    project_cpu = median([p.cpu_ms for p in paces["project"]])
    plaintext_cpu = median([p.cpu_ms for p in paces["plaintext"]])
    floor_cpu = median([p.cpu_ms for p in paces["floor"]])
    # Each round's sides ran back to back: the median of their ratios follows the
    # shared machine's load less than the ratio of the two medians would.
    ratio = median([p.per_second / f.per_second for p, f in rounds_of(paces, "floor")])
    cpu_ratio = median([f.cpu_ms / p.cpu_ms for p, f in rounds_of(paces, "floor")])
    encrypted = median([p.per_second / q.per_second for p, q in rounds_of(paces, "plaintext")])
    shape = f"{count} at once, {bare.timers} timer + {bare.activities} sends each"
    return [
        Row(
            f"overhead: journeys/s ({shape})",
            f"{project:.1f}",
            f"{floor:.1f}",
            f"{ratio:.2f}",
            f">= {TARGET}",
            verdict(ratio >= TARGET),
        ),
        Row(
            "overhead: worker+client CPU ms per journey",
            f"{project_cpu:.1f}",
            f"{floor_cpu:.1f}",
            f"{cpu_ratio:.2f}",
            "(floor/project)",
        ),
        Row(
            "encryption: journeys/s, on (project) vs off (floor)",
            f"{project:.1f}",
            f"{plaintext:.1f}",
            f"{encrypted:.2f}",
            f">= {ENCRYPTION_TARGET}",
            verdict(encrypted >= ENCRYPTION_TARGET),
        ),
        Row(
            "encryption: worker+client CPU ms per journey, on vs off",
            f"{project_cpu:.1f}",
            f"{plaintext_cpu:.1f}",
            f"{plaintext_cpu / project_cpu:.2f}",
            "(off/on)",
        ),
    ]

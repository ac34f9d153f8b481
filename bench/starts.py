"""Backfill: starts per second through `starter.py backfill`'s code path, against a
plain `client.start_workflow` loop at the same concurrency on the same server.

The backfill side reads a JSON Lines file, validates and dry-run renders each order,
spreads first sends and starts with summaries; the plain side starts prepared inputs.
No worker runs: only starting is measured.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from bench.common import Row, dev_server, median, progress, verdict
from bench.orders import SETTINGS, copies, order
from intake import CheckedEvent, validate_journey, validate_store
from intake.backfill import backfill, read_lines
from workflows import OrderJourney

TARGET_RATIO = 0.95
TARGET_RATE = 300


def write_orders(path: Path, store_id: str, count: int) -> Path:
    delivered = datetime.now(UTC) - timedelta(hours=3)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            out.write(json.dumps(order(store_id, f"PED-{n}", delivered)) + "\n")
    return path


async def run_backfill(client: Client, orders: Path, concurrency: int) -> float:
    settings, plan = validate_store(SETTINGS)
    summary = await backfill(
        client, read_lines(orders), settings, plan, concurrency=concurrency, task_queue="bench"
    )
    assert summary.started == summary.lines, summary.describe()
    return summary.starts_per_second


async def run_plain(client: Client, journeys: list[CheckedEvent], concurrency: int) -> float:
    queue: asyncio.Queue[CheckedEvent] = asyncio.Queue()
    for journey in journeys:
        queue.put_nowait(journey)

    async def starter() -> None:
        while not queue.empty():
            checked = queue.get_nowait()
            await client.start_workflow(
                OrderJourney.run,
                checked.journey.model_copy(update={"events": [checked.event]}),
                id=checked.journey_id,
                task_queue="bench",
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    began = time.perf_counter()
    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return len(journeys) / (time.perf_counter() - began)


async def measure(rounds: int, count: int, concurrency: int) -> list[Row]:
    rates: dict[str, list[float]] = {"backfill": [], "plain": []}
    async with dev_server() as server:
        client = server.client
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(rounds):
                label = uuid.uuid4().hex[:8]
                orders = write_orders(Path(tmp) / f"{label}.jsonl", f"backfill-{label}", count)
                template = validate_journey(
                    order(f"plain-{label}", "x", datetime.now(UTC)), SETTINGS
                )
                plain = copies(template, "P", count)
                order_ = ["backfill", "plain"] if round_ % 2 == 0 else ["plain", "backfill"]
                for side in order_:  # alternate which side goes first
                    if side == "backfill":
                        rate = await run_backfill(client, orders, concurrency)
                    else:
                        rate = await run_plain(client, plain, concurrency)
                    rates[side].append(rate)
                    progress(f"backfill round {round_ + 1}/{rounds}: {side} {rate:.0f} starts/s")
    project, floor = median(rates["backfill"]), median(rates["plain"])
    # The median of each round's paired ratio: both sides of a round share the load.
    ratio = median([b / p for b, p in zip(rates["backfill"], rates["plain"], strict=True)])
    return [
        Row(
            f"backfill: starts/s, {count:,} orders, concurrency {concurrency}",
            f"{project:.0f}",
            f"{floor:.0f}",
            f"{ratio:.2f}",
            f">= {TARGET_RATIO}, >= {TARGET_RATE}/s",
            verdict(ratio >= TARGET_RATIO and project >= TARGET_RATE),
        )
    ]

"""Bulk backfill: start the journeys of many delivered orders from a JSON Lines file.

    python starter.py backfill ORDERS.jsonl --settings STORE.json [--plan PLAN.json]
        [--concurrency 64] [--jitter-window PT6H]

Each line is one delivered order. The store's settings and plan are checked once; each
order is then checked like a single start, its messages dry-run rendered once per shape
of order data (see `intake.dry_run`). A bad line is reported with its number and field
and never stops the rest. Starts are idempotent by workflow id, so running the same
file again resumes: journeys that already exist are skipped.

First sends are spread over the jitter window, so ten thousand journeys started in a
minute do not all wake in the same second. Each journey's offset is a hash of its
workflow id: a rerun computes the same one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from temporalio.client import Client
from tqdm import tqdm

from intake import (
    CheckedEvent,
    InvalidJourney,
    RenderMemo,
    parse_json,
    shared_renderer,
    validate_journey,
)
from messages.rendering import Renderer
from models import TASK_QUEUE, JourneyPlan, JourneySettings, default_plan
from models.durations import check_duration
from models.limits import FIRST_SEND_DELAY, MAX_LINE_BYTES
from starter import report_checked

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 64
DEFAULT_JITTER_WINDOW = timedelta(hours=6)


@dataclass
class BackfillSummary:
    started: int = 0
    already_started: int = 0  # running or finished: the order already had a journey
    invalid: int = 0
    elapsed_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # "line 7: order.customer.phone: ..."

    @property
    def lines(self) -> int:
        return self.started + self.already_started + self.invalid

    @property
    def starts_per_second(self) -> float:
        return self.started / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def describe(self) -> str:
        return (
            f"started {self.started}, already started {self.already_started}, "
            f"invalid {self.invalid} ({self.lines} orders in {self.elapsed_seconds:.1f} s, "
            f"{self.starts_per_second:.0f} starts/s)"
        )


def jitter_offset(journey_id: str, window: timedelta) -> timedelta:
    """A whole number of seconds in [0, window), the same for the same journey id."""
    if window <= timedelta(0):
        return timedelta(0)
    digest = hashlib.sha256(journey_id.encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return timedelta(seconds=math.floor(fraction * window.total_seconds()))


def parse_line(
    line: bytes | str,
    settings: JourneySettings,
    plan: JourneyPlan | None,
    renderer: Renderer,
    render_memo: RenderMemo | None = None,
    now: datetime | None = None,
) -> CheckedEvent | InvalidJourney:
    """A checked journey for one line, or what is wrong with it. A line never raises:
    whatever it holds, the next line is checked as if it were the first."""
    try:
        order = parse_json(line, "order", max_bytes=MAX_LINE_BYTES)
        return validate_journey(
            order, settings, plan, renderer=renderer, render_memo=render_memo, now=now
        )
    except InvalidJourney as err:
        return err
    except Exception as err:  # a bug at the edge: report the line, keep going
        log.exception("checking a backfill line failed")
        return InvalidJourney([f"could not be checked ({type(err).__name__}: {err})"])


async def backfill(
    client: Client,
    lines: Iterable[bytes | str],
    settings: JourneySettings,
    plan: JourneyPlan | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    jitter_window: timedelta = DEFAULT_JITTER_WINDOW,
    task_queue: str = TASK_QUEUE,
    renderer: Renderer | None = None,
    total: int | None = None,
    show_progress: bool = False,
    now: datetime | None = None,
) -> BackfillSummary:
    """Start a journey for every valid order line, at most `concurrency` at a time.

    Invalid lines are counted and described in `problems` (and on stderr with the
    progress bar); the other lines go on. A Temporal error other than "already
    started" propagates: what was started stays started, and running again resumes.
    `now`: what dates are checked against, the wall clock by default.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    try:
        check_duration(jitter_window, FIRST_SEND_DELAY)
    except ValueError as err:
        raise InvalidJourney([f"jitter_window: {err}"]) from None
    renderer = renderer or shared_renderer()  # templates compiled once, for every line
    plan = plan or default_plan()
    render_memo: RenderMemo = {}  # every line shares the store's settings, plan, templates
    summary = BackfillSummary()
    queue: asyncio.Queue[tuple[int, bytes | str] | None] = asyncio.Queue(maxsize=concurrency * 2)
    bar = tqdm(total=total, unit="order", file=sys.stderr, disable=not show_progress)
    began = time.perf_counter()

    def report(problems: list[str]) -> None:
        summary.invalid += 1
        summary.problems.extend(problems)
        if show_progress:
            for problem in problems:
                bar.write(problem, file=sys.stderr)

    async def produce() -> None:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                await queue.put((number, line))
        for _ in range(concurrency):
            await queue.put(None)

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            number, line = item
            checked = parse_line(line, settings, plan, renderer, render_memo, now)
            if isinstance(checked, InvalidJourney):
                report([f"line {number}: {problem}" for problem in checked.problems])
            else:
                delay = jitter_offset(checked.journey_id, jitter_window)
                journey = checked.journey.model_copy(update={"first_send_delay": delay})
                result = await report_checked(
                    client, CheckedEvent(journey, checked.event), task_queue=task_queue
                )
                if result.started:
                    summary.started += 1
                else:
                    summary.already_started += 1
            bar.update()

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(concurrency):
                group.create_task(consume())
    except ExceptionGroup as failed:
        # The first failure cancels the other starts; it is the one worth reporting.
        raise failed.exceptions[0] from None
    finally:
        summary.elapsed_seconds = time.perf_counter() - began
        bar.close()
    return summary


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines as bytes; a line longer than the limit is cut short (so that
    checking it reports its size) and the rest of it skipped, never held in memory."""
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        yield line


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in _bounded_lines(handle) if line.strip())


def read_lines(path: Path) -> Iterable[bytes]:
    """Each line as bytes: one that is not UTF-8 is reported by its number like any
    other bad line."""
    with path.open("rb") as handle:
        yield from _bounded_lines(handle)

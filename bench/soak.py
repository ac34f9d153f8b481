"""Soak: many fast journeys while the worker is killed (SIGKILL) at random moments.

    .venv/bin/python -m bench.soak --journeys 200 --kills 5

Runs the dev server on a SQLite file, one worker process and the provider sink
process (tests/harness.py's deployment), starts the journeys with a speedup, kills
and restarts the worker `--kills` times at random points, waits for every journey
to end, then counts what reached the provider by idempotency key: delivered, lost
and duplicated messages, and the wall time. Exits 1 if any message was lost or
duplicated. `--no-dedupe` makes the provider ignore keys, to see the at-least-once
duplicates a non-deduplicating provider would get.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from models import DEMO_SPEEDUP, JourneyStatus
from tests.conftest import BIN
from tests.harness import Harness, expected_keys, messages_per_journey
from tests.processes import wait_until


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    rng = random.Random(args.seed)
    harness = await Harness(str(BIN / "temporal"), workdir).start()
    try:
        await harness.sink.configure(dedupe=not args.no_dedupe)
        began = time.monotonic()
        worker = harness.worker()
        await harness.polling(worker)
        # The kills land at random points of the run, measured in messages delivered,
        # so each one hits a worker in the middle of the traffic.
        total = args.journeys * len(messages_per_journey())
        thresholds = sorted(rng.sample(range(1, total), args.kills))
        starting = asyncio.ensure_future(
            harness.start_journeys(args.journeys, speedup=args.speedup)
        )
        started_at: list[float] = []
        starting.add_done_callback(lambda _: started_at.append(time.monotonic()))
        for threshold in thresholds:
            await wait_until(
                lambda n=threshold: harness.delivered_at_least(n),
                args.timeout,
                f"{threshold} deliveries",
            )
            worker.kill()
            delivered = await harness.delivered()
            print(
                f"{time.monotonic() - began:6.1f} s  SIGKILL, {delivered} delivered so far",
                flush=True,
            )
            await asyncio.sleep(rng.uniform(0, args.max_downtime))
            worker = harness.worker()
        journeys = await starting
        started_all = started_at[0] - began
        progresses = await harness.results(journeys, args.timeout)
        wall = time.monotonic() - began
        records = await harness.sink.records()
    finally:
        await harness.close()

    expected = expected_keys(journeys)
    per_key = records.deliveries_per_key()
    lost = expected - set(per_key)
    duplicated = sum(n - 1 for n in per_key.values() if n > 1)
    statuses = Counter(p.status for p in progresses)
    repeats = sum(1 for a in records.attempts if a.duplicate)
    kills = len(harness.workers) - 1
    print(
        f"journeys:  {len(journeys)} ({statuses[JourneyStatus.COMPLETED]} completed), "
        f"all started after {started_all:.1f} s, speedup {args.speedup}"
    )
    print(f"worker:    killed {kills} times with SIGKILL")
    print(
        f"messages:  {len(expected)} expected, {len(set(per_key) & expected)} delivered, "
        f"{len(lost)} lost, {duplicated} duplicated"
    )
    print(
        f"provider:  {len(records.attempts)} requests, {repeats} repeated keys answered "
        f"without a second delivery ({'deduplicating' if not args.no_dedupe else 'ignoring keys'})"
    )
    print(f"wall time: {wall:.1f} s")
    return 1 if lost or duplicated else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs of the worker")
    parser.add_argument(
        "--speedup", type=int, default=2 * DEMO_SPEEDUP, help="journey time per real time"
    )
    parser.add_argument(
        "--max-downtime", type=float, default=1.0, help="seconds before a killed worker restarts"
    )
    parser.add_argument("--seed", type=int, default=None, help="for repeatable kill moments")
    parser.add_argument("--no-dedupe", action="store_true", help="the provider ignores keys")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for every journey")
    parser.add_argument("--keep", type=Path, help="keep logs and the database in this folder")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(soak(args, args.keep))
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        return asyncio.run(soak(args, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())

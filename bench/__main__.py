"""Benchmarks against the bare Temporal floor. `python3 dev.py bench [--only NAME] ...`

Each comparison runs both sides in one run, on one dev server with the same worker
settings, alternating which side goes first round by round. It reports each side's
median over the rounds, and the median of the rounds' own ratios (the two sides of a
round share the machine's load of the moment). `costs` counts rather than times: what
one journey leaves in Temporal (bench/costs.py). The table is Markdown, ready for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time

from bench import costs, front_door, overhead, sleeping, starts, testspeed
from bench.common import Row, machine, progress, table

BENCHMARKS = ("overhead", "backfill", "sleeping", "tests", "costs", "front-door")


def _levels(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py bench", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="repeatable")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per comparison; costs: journeys of each kind"
    )
    parser.add_argument("--journeys", type=int, default=200, help="overhead: journeys at once")
    parser.add_argument("--orders", type=int, default=10_000, help="backfill: orders per side")
    parser.add_argument("--backfill-rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64, help="backfill: starts in flight")
    parser.add_argument(
        "--sleeping",
        type=_levels,
        default=[1000, 5000, 10_000],
        help="journeys asleep at each reading, e.g. 1000,5000",
    )
    parser.add_argument("--cache", type=int, default=250, help="sleeping: max_cached_workflows")
    parser.add_argument("--suite", action="store_true", help="tests: also time the whole suite")
    parser.add_argument("--events", type=int, default=500, help="front-door: events per side")
    parser.add_argument(
        "--paced-seconds", type=float, default=20, help="front-door: seconds at 50 requests/s"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Row]:
    chosen = args.only or list(BENCHMARKS)
    rows: list[Row] = []
    if "overhead" in chosen:
        rows += await overhead.measure(args.rounds, args.journeys)
    if "backfill" in chosen:
        rows += await starts.measure(args.backfill_rounds, args.orders, args.concurrency)
    if "sleeping" in chosen:
        rows += await sleeping.measure(args.sleeping, args.cache)
    if "tests" in chosen:
        rows += await testspeed.measure(args.rounds, args.suite)
    if "costs" in chosen:
        rows += await costs.measure(args.rounds)
    if "front-door" in chosen:
        rows += await front_door.measure(args.rounds, args.events, args.paced_seconds)
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    rows = asyncio.run(run(args))
    progress(f"done in {time.monotonic() - began:.0f} s")
    print(f"`python3 dev.py bench {shlex.join(argv)}`".replace(" `", "`"))
    print()
    for name, value in machine():
        print(f"- {name}: {value}")
    load_after = os.getloadavg()[0]
    print(f"- load average (1 min) before/after: {load_before:.1f} / {load_after:.1f}")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

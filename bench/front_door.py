"""The front door: order events through the HTTP API against the same events through the
Python API, on one dev server, in the same run.

- throughput: events per second, each side `--events` `placed` events of new orders
  (each starts a journey) with 32 in flight; rounds alternate which side goes first, and
  the ratio is the median of the rounds' own ratios (goal ≥ 0.8);
- latency: from the POST to the journey started (the 202 answer comes once Temporal has
  the run), paced at 50 requests a second for `--seconds`: p50 and p99 (goal p99 ≤ 50
  ms on two cores);
- memory: the service's resident memory at idle and under that load.

Both sides build their payloads before the clock starts, and the HTTP side posts
through `bench.lean_http`, so what is timed is the service and Temporal, not the load
generator sharing their two cores. The service runs as production does, `python -m web`,
its own process; no worker runs (a start is done when Temporal has the run), so only the
front door is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, Row, dev_server, free_port, median, progress, rss_mib, verdict
from bench.lean_http import Connection, connections
from bench.orders import SETTINGS, order
from messages.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from starter import report_event

IN_FLIGHT = 32
WARM_UP = 100  # events a side before the rounds
PACE_PER_SECOND = 50
RATIO_GOAL = 0.8
P99_GOAL_MS = 50
STORE_ID = "bench"
SECRET = "bench-secret-" + "0" * 32
EVENTS_PATH = f"/v1/stores/{STORE_ID}/events"


def write_store(directory: Path) -> None:
    store = {"store_id": STORE_ID, "api_secret": SECRET, "settings": SETTINGS}
    (directory / f"{STORE_ID}.json").write_text(json.dumps(store), encoding="utf-8")


def placed(order_id: str) -> dict[str, Any]:
    the_order = order(STORE_ID, order_id, datetime.now(UTC))
    del the_order["delivered_at"]
    event = {"event_id": "placed", "type": "placed", "occurred_at": datetime.now(UTC).isoformat()}
    return {"order": the_order, "event": event}


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(SECRET.encode(), timestamp, body),
    }
    return body, headers


async def in_flight(items: list[Any], call: Any) -> float:
    """Run `call(item)` for every item, IN_FLIGHT at a time; items per second."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def drain() -> None:
        while not queue.empty():
            await call(queue.get_nowait())

    began = time.perf_counter()
    await asyncio.gather(*(drain() for _ in range(IN_FLIGHT)))
    return len(items) / (time.perf_counter() - began)


Request = tuple[bytes, dict[str, str]]  # a signed body and its headers


async def post_event(pool: asyncio.Queue[Connection], request: Request) -> None:
    connection = await pool.get()
    try:
        status, answer = await connection.post(EVENTS_PATH, *request)
    finally:
        pool.put_nowait(connection)
    assert status == 202, answer


async def through_http(port: int, label: str, count: int) -> float:
    requests = [signed(placed(f"{label}-{n}")) for n in range(count)]
    async with connections("127.0.0.1", port, IN_FLIGHT) as pool:
        return await in_flight(requests, lambda request: post_event(pool, request))


async def through_python(client: Any, label: str, count: int) -> float:
    payloads = [placed(f"{label}-{n}") for n in range(count)]

    async def report(payload: dict[str, Any]) -> None:
        await report_event(client, payload["order"], payload["event"], SETTINGS, task_queue="bench")

    return await in_flight(payloads, report)


async def paced(port: int, seconds: float, pid: int) -> tuple[list[float], float]:
    """POSTs at PACE_PER_SECOND for `seconds`: each one's milliseconds, and the service's
    peak RSS meanwhile."""
    label = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    peak = 0.0

    async def post(n: int) -> None:
        request = signed(placed(f"paced-{label}-{n}"))
        began = time.perf_counter()
        await post_event(pool, request)
        latencies.append((time.perf_counter() - began) * 1000)

    tasks = []
    async with connections("127.0.0.1", port, IN_FLIGHT) as pool:
        start = time.perf_counter()
        for n in range(int(seconds * PACE_PER_SECOND)):
            await asyncio.sleep(max(0.0, start + n / PACE_PER_SECOND - time.perf_counter()))
            tasks.append(asyncio.create_task(post(n)))
            if n % PACE_PER_SECOND == 0:
                peak = max(peak, rss_mib(pid))
        await asyncio.gather(*tasks)
    return latencies, max(peak, rss_mib(pid))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(rounds: int, events: int, seconds: float) -> list[Row]:
    async with dev_server() as server:
        with tempfile.TemporaryDirectory() as stores:
            write_store(Path(stores))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {
                **os.environ,
                "TEMPORAL_ADDRESS": server.target,
                "JOURNEY_STORES_DIR": stores,
                "JOURNEY_FEEDBACK_SECRET": "bench-feedback-secret-0123456789",
                "JOURNEY_WEB_PORT": str(port),
                "JOURNEY_TASK_QUEUE": "bench",
                "JOURNEY_LOG_LEVEL": "WARNING",
            }
            service = subprocess.Popen(
                [sys.executable, "-m", "web"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
            )
            try:
                await wait_ready(url)
                idle = rss_mib(service.pid)
                # Warm both sides first: templates compiled, connections and caches filled.
                await through_http(port, f"warm-{uuid.uuid4().hex[:6]}", WARM_UP)
                await through_python(server.client, f"warm-{uuid.uuid4().hex[:6]}", WARM_UP)
                rates: dict[str, list[float]] = {"http": [], "python": []}
                for round_ in range(rounds):
                    sides = ["http", "python"] if round_ % 2 == 0 else ["python", "http"]
                    for side in sides:
                        label = f"{side}-{round_}-{uuid.uuid4().hex[:6]}"
                        rate = (
                            await through_http(port, label, events)
                            if side == "http"
                            else await through_python(server.client, label, events)
                        )
                        rates[side].append(rate)
                        step = f"round {round_ + 1}/{rounds}: {side}"
                        progress(f"front door {step} {rate:.0f} events/s")
                latencies, busy = await paced(port, seconds, service.pid)
            finally:
                service.send_signal(signal.SIGTERM)
                service.wait(timeout=30)
    ratio = median([h / p for h, p in zip(rates["http"], rates["python"], strict=True)])
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return [
        Row(
            "front door: events/s, HTTP API vs Python API",
            f"{median(rates['http']):.0f}",
            f"{median(rates['python']):.0f}",
            f"{ratio:.2f}",
            f"≥ {RATIO_GOAL}",
            verdict(ratio >= RATIO_GOAL),
        ),
        Row(
            f"front door: POST to journey started at {PACE_PER_SECOND}/s, p50 / p99 ms",
            f"{p50:.1f} / {p99:.1f} "
            f"(mean {statistics.fmean(latencies):.1f}, {len(latencies)} requests)",
            target=f"p99 ≤ {P99_GOAL_MS}",
            verdict=verdict(p99 <= P99_GOAL_MS),
        ),
        Row(
            "front door: the service's RSS, idle / under that load, MiB", f"{idle:.0f} / {busy:.0f}"
        ),
    ]


async def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            async with httpx.AsyncClient() as http:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service is not ready after {seconds} s")
        await asyncio.sleep(0.1)

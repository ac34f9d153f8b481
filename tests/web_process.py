"""The web service as production runs it, for the tests: `python -m web` as its own
process on loopback, with the test session's keys and key store (inherited from the
environment, see tests/protection.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.clock import next_local
from tests.conftest import FEEDBACK_SECRET
from tests.web_service import ROOT, STORES


def start_service(target: str, port: int, log: Path, **journey_env: str) -> subprocess.Popen[bytes]:
    """`python -m web` with the test session's keys and key store (inherited from the
    environment, see tests/protection.py) and JOURNEY_* settings."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": target,
        "TEMPORAL_NAMESPACE": "default",
        "JOURNEY_STORES_DIR": str(STORES),
        "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
        "JOURNEY_WEB_PORT": str(port),
        "JOURNEY_LOG_FORMAT": "json",
        **{f"JOURNEY_{k.upper()}": v for k, v in journey_env.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 90) -> None:
    """Until the service answers /readyz (it reaches Temporal)."""
    until = time.monotonic() + seconds
    with httpx.Client(timeout=2) as http:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the web service exited ({proc.returncode}); see {log}")
            try:
                if http.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > until:
                raise AssertionError(f"the web service is not ready after {seconds} s; see {log}")
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def last_moment_at(hhmm: str, timezone: str = "America/Sao_Paulo") -> datetime:
    """The latest moment, at most a day ago, when it was `hhmm` in `timezone`. The dev
    server's clock is the machine's and cannot move: the test names the local time, and
    a delivery then leaves the journey waiting a day for its first message whatever hour
    the suite runs at."""
    return next_local(datetime.now(UTC) - timedelta(days=1), hhmm, timezone=timezone)


async def stored_input(client: Client, journey_id: str) -> Payload:
    """The journey's start input as the server stores it, and the Web UI reads it."""
    history = await client.get_workflow_handle(journey_id).fetch_history()
    started = next(
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    )
    payload: Payload = started.workflow_execution_started_event_attributes.input.payloads[0]
    return payload

"""The web service as production runs it: `python -m web`, its own process, configured
from its environment, against the dev server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from tests import builders
from tests.conftest import FEEDBACK_SECRET
from tests.processes import free_port, wait_until
from tests.web_service import ROOT, STORE_ID, STORES, post_signed


def service_env(target: str, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": target,
        "JOURNEY_STORES_DIR": str(STORES),
        "JOURNEY_FEEDBACK_SECRET": FEEDBACK_SECRET,
        "JOURNEY_WEB_PORT": str(port),
        "JOURNEY_LOG_FORMAT": "json",
        **extra,
    }


def test_bad_settings_and_store_files_stop_it_with_one_line_each(tmp_path: Path) -> None:
    bad_store = tmp_path / "stores"
    bad_store.mkdir()
    (bad_store / "loja.json").write_text(
        json.dumps({"store_id": "loja 1", "api_secret": "short", "settings": {}}), "utf-8"
    )
    env = service_env("127.0.0.1:9", free_port(), JOURNEY_STORES_DIR=str(bad_store))
    del env["JOURNEY_FEEDBACK_SECRET"]
    missing = subprocess.run(
        [sys.executable, "-m", "web"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == ["JOURNEY_FEEDBACK_SECRET: Field required"]

    env["JOURNEY_FEEDBACK_SECRET"] = FEEDBACK_SECRET
    bad = subprocess.run(
        [sys.executable, "-m", "web"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    lines = bad.stderr.splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        ["loja.json", "store.store_id"],
        ["loja.json", "store.api_secret"],
    ]
    assert "Traceback" not in bad.stderr


async def test_it_serves_stores_answers_health_and_stops_cleanly_on_sigterm(
    indexed_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "web.log"
    target = indexed_env.client.service_client.config.target_host
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web"],
            cwd=ROOT,
            env=service_env(target, port),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(timeout=10) as http:

            async def ready() -> bool:
                try:
                    return (await http.get(f"{url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, 30, "the service ready on /readyz", 0.1)
            assert (await http.get(f"{url}/healthz")).json() == {"status": "ok"}
            order = builders.placed_order(store_id=STORE_ID, order_id="W-1")
            event = builders.event("placed", datetime.now(UTC))
            answer = await post_signed(
                http, f"{url}/v1/stores/{STORE_ID}/events", {"order": order, "event": event}
            )
            assert answer.status_code == 202, answer.text
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    posted = [e for e in entries if "/v1/stores/{store_id}/events" in e["message"]]
    assert posted and posted[0]["workflow_id"] == "post-purchase:loja-exemplo:W-1"
    assert posted[0]["message"].startswith("POST /v1/stores/{store_id}/events 202")
    text = log.read_text()
    customer = order["customer"]
    for secret in (customer["email"], customer["phone"], customer["name"]):
        assert secret not in text  # no contact data in the logs

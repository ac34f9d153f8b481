"""The worker's /healthz, which scripts and orchestrators wait on, over real HTTP."""

from __future__ import annotations

import httpx

from runtime.health import Health, Readiness
from tests.processes import free_port


async def test_healthz_says_ready_only_while_the_worker_polls() -> None:
    address = f"127.0.0.1:{free_port()}"
    health = Health()
    async with health.served(address), httpx.AsyncClient(timeout=5) as http:
        url = f"http://{address}/healthz"
        starting = await http.get(url)
        health.state = Readiness.READY
        ready = await http.get(url)
        elsewhere = await http.get(f"http://{address}/metrics")
        health.state = Readiness.STOPPING
        stopping = await http.get(f"{url}?probe=1")
    assert (starting.status_code, starting.text) == (503, "starting")
    assert (ready.status_code, ready.text) == (200, "ready")
    assert elsewhere.status_code == 404
    assert (stopping.status_code, stopping.text) == (503, "stopping")


async def test_without_an_address_no_port_is_opened() -> None:
    async with Health().served(None) as health:
        assert health.state is Readiness.STARTING
